#!/usr/bin/env bash
# Builds and runs Midge's libFuzzer harnesses (Fuzz/README.md).
#
#   Fuzz/run.sh [seconds]                       the Packets harness (default 300 s)
#   Fuzz/run.sh NAME [seconds] [libFuzzer options...]
#                                               harness NAME, e.g. `Fuzz/run.sh trace 60`
#                                               or `Fuzz/run.sh znode 3600 -runs=10000000`
#   Fuzz/run.sh --ci [seconds]                  build the CI harnesses, replay
#                                               Fuzz/regressions, fuzz each for `seconds`
#                                               (default 20); non-zero exit on any crash
#   Fuzz/run.sh --build [NAME...]               only build (all harnesses by default)
#   Fuzz/run.sh --make-corpus                   regenerate the binary seeds in Fuzz/corpus
#   Fuzz/run.sh --list                          the harness names
#
# packets is built with swiftc from Sources/Packets (fast, no dependencies); the others are
# the SwiftPM package Fuzz/Package.swift. Both build in $FUZZ_SCRATCH (default
# Fuzz/.build-fuzz, ignored by git).
# New corpus entries and crash artifacts go to $FUZZ_OUT/NAME (default /tmp/midge-fuzz),
# never into the repository; Fuzz/corpus/NAME is only read.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT_BASE="${FUZZ_OUT:-/tmp/midge-fuzz}"
SCRATCH="${FUZZ_SCRATCH:-$ROOT/Fuzz/.build-fuzz}"
if ! command -v swiftc >/dev/null 2>&1 && [[ -x /opt/swift/usr/bin/swiftc ]]; then
  export PATH="/opt/swift/usr/bin:$PATH"
fi
SWIFTC="${SWIFTC:-swiftc}"
SWIFT="${SWIFT:-swift}"

# name -> SwiftPM product (packets has none: see build_packets).
declare -A PRODUCT=(
  [trace]=TraceFuzz
  [znode]=ZnodeFuzz
  [flowstate]=FlowStateFuzz
  [topologyfile]=TopologyFileFuzz
  [manifest]=ManifestFuzz
  [control]=ControlFuzz
)
ALL=(packets trace znode flowstate topologyfile manifest control)
# All of them are fast enough for a short CI run; the build is what costs.
CI_HARNESSES=("${ALL[@]}")
# Largest input libFuzzer generates: a frame fits 2 KiB; text and znodes get more room.
declare -A MAX_LEN=(
  [packets]=2048 [trace]=256 [znode]=8192 [flowstate]=8192 [topologyfile]=8192
  [manifest]=8192 [control]=2048
)

# Swift's own crash backtracer and ASan's both want the crash; let ASan report it.
export SWIFT_BACKTRACE=enable=no

die() {
  echo "run.sh: $*" >&2
  exit 2
}

known() {
  local name
  for name in "${ALL[@]}"; do [[ "$name" == "$1" ]] && return 0; done
  return 1
}

# libFuzzer's library without its main(): SwiftPM links an executable's own entry point
# as main, so each harness calls LLVMFuzzerRunDriver itself (Sources/FuzzSupport).
fuzzer_library() {
  local resource
  resource="$(dirname "$(command -v "$SWIFTC")")/../lib"
  local library
  library=$(ls "$resource"/clang/*/lib/linux/libclang_rt.fuzzer_no_main-x86_64.a 2>/dev/null |
    head -n 1)
  [[ -n "$library" ]] || die "no libclang_rt.fuzzer_no_main in the Swift toolchain at $resource"
  echo "$library"
}

# Packets imports Addresses, which is compiled first into a static library and module of
# its own in $dir; the harness links it.
build_addresses() {
  local dir="$1"
  shift
  mkdir -p "$dir"
  "$SWIFTC" -swift-version 6 "$@" -parse-as-library -O -wmo -module-name Addresses \
    -emit-module -emit-module-path "$dir/Addresses.swiftmodule" \
    -emit-library -static -o "$dir/libAddresses.a" "$ROOT"/Sources/Addresses/*.swift
}

build_packets() {
  local dir="$SCRATCH/packets"
  build_addresses "$dir/addresses" \
    -sanitize=address -sanitize-coverage=edge,inline-8bit-counters,trace-cmp,pc-table
  "$SWIFTC" -swift-version 6 -sanitize=fuzzer,address -parse-as-library -O -wmo \
    -module-name PacketsFuzz -I "$dir/addresses" -L "$dir/addresses" -lAddresses \
    "$ROOT"/Sources/Packets/*.swift "$ROOT/Fuzz/PacketsFuzz/main.swift" \
    -o "$dir/packets-fuzz"
}

# Builds the SwiftPM harnesses (all, or the products named). Every module, dependencies
# included, gets AddressSanitizer and libFuzzer's coverage instrumentation
# (-sanitize=fuzzer would also link libFuzzer's main); -enable-testing lets the znode
# harness reach NSDB's internal PortRoutes codec.
build_package() {
  local products=()
  local product
  for product in "$@"; do products+=(--product "$product"); done
  "$SWIFT" build --package-path "$ROOT/Fuzz" --scratch-path "$SCRATCH" -c release \
    -Xswiftc -sanitize=address \
    -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,trace-cmp,pc-table \
    -Xswiftc -enable-testing \
    -Xlinker "$(fuzzer_library)" -Xlinker -lstdc++ \
    "${products[@]}"
}

binary() {
  if [[ "$1" == packets ]]; then
    echo "$SCRATCH/packets/packets-fuzz"
  else
    echo "$SCRATCH/release/${PRODUCT[$1]}"
  fi
}

build() {
  local names=("$@") products=() name
  for name in "${names[@]}"; do
    if [[ "$name" == packets ]]; then build_packets; else products+=("${PRODUCT[$name]}"); fi
  done
  if ((${#products[@]} == ${#PRODUCT[@]})); then
    build_package # one build of the whole package shares the work
  elif ((${#products[@]} > 0)); then
    build_package "${products[@]}"
  fi
}

# fuzz NAME SECONDS [libFuzzer options...]: fuzz from the committed seeds, keeping what
# it finds in $OUT_BASE/NAME.
fuzz() {
  local name=$1 seconds=$2
  shift 2
  local out="$OUT_BASE/$name"
  mkdir -p "$out/corpus" "$out/artifacts" "$ROOT/Fuzz/corpus/$name"
  local dict=()
  [[ -f "$ROOT/Fuzz/dict/$name.dict" ]] && dict=(-dict="$ROOT/Fuzz/dict/$name.dict")
  # The first directory receives new interesting inputs; the committed seeds are read only.
  "$(binary "$name")" "$out/corpus" "$ROOT/Fuzz/corpus/$name" "${dict[@]}" \
    -max_total_time="$seconds" -timeout=10 -max_len="${MAX_LEN[$name]}" \
    -artifact_prefix="$out/artifacts/" -print_final_stats=1 "$@"
}

# replay NAME: every input in Fuzz/regressions/NAME, once (they crashed once; they must
# not again).
replay() {
  local name=$1 dir="$ROOT/Fuzz/regressions/$1"
  [[ -d "$dir" ]] || return 0
  local inputs=("$dir"/*)
  [[ -e "${inputs[0]}" ]] || return 0
  "$(binary "$name")" -runs=1 "${inputs[@]}"
}

case "${1:-}" in
  --list)
    printf '%s\n' "${ALL[@]}"
    ;;
  --build)
    shift
    if (($# == 0)); then set -- "${ALL[@]}"; fi
    for name in "$@"; do known "$name" || die "no harness '$name' (--list names them)"; done
    build "$@"
    ;;
  --make-corpus)
    mkdir -p "$SCRATCH/packets"
    build_addresses "$SCRATCH/packets/addresses-plain"
    "$SWIFTC" -swift-version 6 -O -wmo -module-name CorpusGen \
      -I "$SCRATCH/packets/addresses-plain" -L "$SCRATCH/packets/addresses-plain" -lAddresses \
      "$ROOT"/Sources/Packets/*.swift "$ROOT/Fuzz/CorpusGen/main.swift" \
      -o "$SCRATCH/packets/corpus-gen"
    mkdir -p "$ROOT/Fuzz/corpus/packets"
    "$SCRATCH/packets/corpus-gen" "$ROOT/Fuzz/corpus/packets"
    # The binary seeds are written by the harnesses themselves (MIDGE_FUZZ_SEEDS).
    build znode flowstate
    for name in znode flowstate; do
      mkdir -p "$ROOT/Fuzz/corpus/$name"
      MIDGE_FUZZ_SEEDS="$ROOT/Fuzz/corpus/$name" "$(binary "$name")"
    done
    ;;
  --ci)
    seconds="${2:-20}"
    started=$SECONDS
    build "${CI_HARNESSES[@]}"
    built=$SECONDS
    failed=()
    for name in "${CI_HARNESSES[@]}"; do
      echo "== $name: regressions, then ${seconds} s of fuzzing"
      # A fresh output directory: CI checks the seeds and what it finds now.
      rm -rf "${OUT_BASE:?}/$name"
      if ! replay "$name" >"$OUT_BASE/$name.log" 2>&1 ||
        ! fuzz "$name" "$seconds" >>"$OUT_BASE/$name.log" 2>&1; then
        failed+=("$name")
        tail -n 40 "$OUT_BASE/$name.log" >&2
        echo "== $name: CRASH (inputs in $OUT_BASE/$name/artifacts)" >&2
      else
        grep -E '^stat::number_of_executed_units|^Done [0-9]+ runs' "$OUT_BASE/$name.log" |
          tail -n 1
      fi
    done
    echo "fuzz: build $((built - started)) s, fuzzing $((SECONDS - built)) s"
    if ((${#failed[@]} > 0)); then
      echo "fuzz: crashes in ${failed[*]}" >&2
      exit 1
    fi
    echo "fuzz: ${#CI_HARNESSES[@]} harnesses, no crash"
    ;;
  "" | [0-9]*)
    # The original usage: Fuzz/run.sh [seconds] fuzzes packets.
    build packets
    fuzz packets "${1:-300}"
    ;;
  -*)
    die "unknown option $1"
    ;;
  *)
    name=$1
    known "$name" || die "no harness '$name' (--list names them)"
    seconds="${2:-300}"
    shift $(($# >= 2 ? 2 : 1))
    build "$name"
    fuzz "$name" "$seconds" "$@"
    ;;
esac
