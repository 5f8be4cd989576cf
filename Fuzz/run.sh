#!/usr/bin/env bash
# Builds the libFuzzer harnesses against the pure decoders' sources and runs each for
# SECONDS (default 30). A crash leaves its input in $FUZZ_BUILD/crashes/<harness>/ and makes
# this script exit non-zero; turn such an input into a regression test (see docs/reliability.md).
#
#   Fuzz/run.sh            # short run (CI)
#   Fuzz/run.sh 3600       # long run, on demand
#   FUZZ_ONLY=osdp Fuzz/run.sh 60
set -euo pipefail
seconds="${1:-30}"
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${FUZZ_BUILD:-/tmp/station-fuzz}"
mkdir -p "$build"
export SWIFT_BACKTRACE=enable=no

device_sources=$(find "$root/Sources/DeviceProtocols" -name '*.swift' | sort)
osdp_sources="$root/Sources/OSDP/FrameDecoder.swift $root/Sources/OSDP/CRC.swift $root/Sources/OSDP/Packet.swift $root/Sources/OSDP/Codes.swift"

declare -A harness sources
harness[card]="$root/Fuzz/FuzzCardFrameDecoder.swift";  sources[card]="$device_sources"
harness[alarmbox]="$root/Fuzz/FuzzAlarmBoxLink.swift";  sources[alarmbox]="$device_sources"
harness[osdp]="$root/Fuzz/FuzzOSDPFrameDecoder.swift";  sources[osdp]="$osdp_sources"
harness[identify]="$root/Fuzz/FuzzLineIdentifier.swift"; sources[identify]="$device_sources"
# The OSDP bus scan with the message codec; the codec's one use of the secure channel key gets a
# stand-in (Fuzz/OSDPKeyStandIn.swift), since the key's AES needs swift-crypto.
osdp_scan_sources="$osdp_sources $root/Sources/OSDP/Messages.swift $root/Sources/OSDP/Feedback.swift $root/Sources/OSDP/Wiegand.swift $root/Sources/OSDP/BusScan.swift $root/Fuzz/OSDPKeyStandIn.swift"
harness[osdpscan]="$root/Fuzz/FuzzOSDPBusScan.swift"; sources[osdpscan]="$osdp_scan_sources"

# The emulator's request validation with the wire types and event model, compiled as one
# module: copies with the project-module imports stripped.
validation_dir="$build/src-validation"
rm -rf "$validation_dir" && mkdir -p "$validation_dir"
for file in "$root"/Simulator/PlatformEmulator/RequestValidation.swift "$root"/Simulator/PlatformEmulator/EmulatorRequestError.swift \
            "$root"/Sources/PlatformAPI/*.swift "$root"/Sources/EventModel/*.swift; do
    # Request signing needs swift-crypto, which a plain swiftc build cannot link; validation does not use it.
    [[ "$(basename "$file")" == RequestSignature.swift ]] && continue
    sed -E '/^import (EventModel|PlatformAPI)$/d' "$file" > "$validation_dir/$(basename "$file")"
done
harness[validation]="$root/Fuzz/FuzzRequestValidation.swift"; sources[validation]="$(find "$validation_dir" -name '*.swift' | sort | tr '\n' ' ')"

status=0
for name in card alarmbox osdp identify osdpscan validation; do
    if [[ -n "${FUZZ_ONLY:-}" && "$FUZZ_ONLY" != "$name" ]]; then continue; fi
    binary="$build/fuzz-$name"
    # shellcheck disable=SC2086
    swiftc -sanitize=fuzzer,address -parse-as-library -Onone -o "$binary" "${harness[$name]}" ${sources[$name]} 2>&1 \
        | grep -v 'ld.gold: warning: Cannot export local symbol' || true
    [[ -x "$binary" ]] || { echo "fuzz: building $name failed" >&2; exit 2; }
    mkdir -p "$build/corpus/$name" "$build/crashes/$name"
    echo "fuzz: $name for ${seconds}s"
    if ! "$binary" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$build/crashes/$name/" "$build/corpus/$name" > "$build/$name.log" 2>&1; then
        echo "fuzz: $name FOUND A CRASH; inputs in $build/crashes/$name/, log in $build/$name.log" >&2
        status=1
    fi
    grep -E 'stat::number_of_executed_units|stat::peak_rss_mb' "$build/$name.log" | sed "s/^/fuzz: $name /" || true
done
exit $status
