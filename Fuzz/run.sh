#!/usr/bin/env bash
# Builds and runs the libFuzzer harness for the Packets module, outside SwiftPM.
#
#   Fuzz/run.sh [seconds]        fuzz for `seconds` (default 300)
#   Fuzz/run.sh --make-corpus    regenerate the seed corpus in Fuzz/corpus
#
# New corpus entries and crash artifacts go to $FUZZ_OUT (default /tmp/midge-packets-fuzz),
# never into the repository; Fuzz/corpus is only read.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${FUZZ_OUT:-/tmp/midge-packets-fuzz}"
SWIFTC="${SWIFTC:-swiftc}"
mkdir -p "$OUT/corpus" "$OUT/artifacts"

if [[ "${1:-}" == "--make-corpus" ]]; then
  "$SWIFTC" -swift-version 6 -O -wmo -module-name CorpusGen \
    "$ROOT"/Sources/Packets/*.swift "$ROOT/Fuzz/CorpusGen/main.swift" -o "$OUT/corpus-gen"
  mkdir -p "$ROOT/Fuzz/corpus"
  "$OUT/corpus-gen" "$ROOT/Fuzz/corpus"
  exit 0
fi

DURATION="${1:-300}"
"$SWIFTC" -swift-version 6 -sanitize=fuzzer,address -parse-as-library -O -wmo \
  -module-name PacketsFuzz \
  "$ROOT"/Sources/Packets/*.swift "$ROOT/Fuzz/PacketsFuzz/main.swift" \
  -o "$OUT/packets-fuzz"

# Swift's own crash backtracer and ASan's both want the crash; let ASan report it.
export SWIFT_BACKTRACE=enable=no

# The first directory receives new interesting inputs; the committed seeds are read only.
exec "$OUT/packets-fuzz" "$OUT/corpus" "$ROOT/Fuzz/corpus" \
  -max_total_time="$DURATION" -artifact_prefix="$OUT/artifacts/" -print_final_stats=1 \
  -max_len=2048
