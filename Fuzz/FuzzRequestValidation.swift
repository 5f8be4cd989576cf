// libFuzzer harness for the platform emulator's request validation
// (Simulator/PlatformEmulator/RequestValidation.swift): arbitrary bytes as an ingest body and
// as a heartbeat body. Built by Fuzz/run.sh together with the validation, the wire types and
// the event model (their `import` lines of project modules stripped, as one module).
//
// Invariants: every input ends in a request or an EmulatorRequestError (400/413) with a
// non-empty detail; an accepted request re-encodes and validates again to the same value.
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRequestValidation(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let body = Data(bytes: data, count: size)
    do throws(EmulatorRequestError) {
        let request = try RequestValidation.ingestRequest(from: body, pathStationID: "station-1")
        guard let encoded = try? JSONEncoder().encode(request) else { fatalError("an accepted request does not encode") }
        do throws(EmulatorRequestError) {
            let again = try RequestValidation.ingestRequest(from: encoded, pathStationID: "station-1")
            if again != request { fatalError("an accepted request changed in a round trip") }
        } catch {
            fatalError("an accepted request is refused after a round trip: \(error)")
        }
    } catch {
        if ![400, 413].contains(error.status) || error.body.detail.isEmpty { fatalError("unexpected refusal: \(error)") }
    }
    do throws(EmulatorRequestError) {
        _ = try RequestValidation.heartbeat(from: body)
    } catch {
        if error.status != 400 || error.body.detail.isEmpty { fatalError("unexpected heartbeat refusal: \(error)") }
    }
    return 0
}
