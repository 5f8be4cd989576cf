/// The platform's verdicts matched to the batch they answer, with no I/O: every verdict is
/// looked up by event id, compared case-insensitively as the API document says; the first
/// verdict for an id counts; verdicts for ids that are not in the batch are collected, because
/// an answer that names events the kiosk did not send cannot be trusted for the others either.
public struct IngestAnswer: Sendable, Hashable {
    /// Verdicts keyed by the batch's own spelling of each id.
    public private(set) var results: [String: IngestResult] = [:]
    /// Ids the answer names that are not in the batch, in the answer's order.
    public private(set) var unknownIDs: [String] = []
    /// Ids answered more than once (only the first verdict counts), in the answer's order.
    public private(set) var repeatedIDs: [String] = []

    public init(_ verdicts: [IngestResult], batchIDs: [String]) {
        var byKey: [String: String] = [:]
        byKey.reserveCapacity(batchIDs.count)
        for id in batchIDs { byKey[Self.key(id)] = id }
        results.reserveCapacity(verdicts.count)
        for verdict in verdicts {
            guard let id = byKey[Self.key(verdict.id)] else {
                unknownIDs.append(verdict.id)
                continue
            }
            if results[id] != nil {
                repeatedIDs.append(verdict.id)
                continue
            }
            var own = verdict
            own.id = id
            results[id] = own
        }
    }

    private static func key(_ id: String) -> String { id.lowercased() }
}
