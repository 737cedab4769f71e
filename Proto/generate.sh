#!/usr/bin/env bash
# Regenerates Sources/Topology/Wire/midge_topology.pb.swift from
# Proto/midge_topology.proto. Needs protoc (Debian: protobuf-compiler) and
# protoc-gen-swift built from apple/swift-protobuf at the version Package.swift
# uses (its build takes ~5-10 min on 2 cores, hence the generated code is
# committed and this script is only for changes to the schema).
#
#   Proto/generate.sh                  # builds protoc-gen-swift under /tmp if needed
#   PROTOC_GEN_SWIFT=/path/to/protoc-gen-swift Proto/generate.sh
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VERSION=1.39.0
command -v protoc >/dev/null || apt-get install -y protobuf-compiler
PLUGIN=${PROTOC_GEN_SWIFT:-}
if [ -z "$PLUGIN" ]; then
  SRC=/tmp/swift-protobuf-$VERSION
  if [ ! -x "$SRC/.build/release/protoc-gen-swift" ]; then
    rm -rf "$SRC"
    git clone -q --branch "$VERSION" https://github.com/apple/swift-protobuf "$SRC"
    (cd "$SRC" && swift build -c release --product protoc-gen-swift)
  fi
  PLUGIN=$SRC/.build/release/protoc-gen-swift
fi
protoc --plugin=protoc-gen-swift="$PLUGIN" --proto_path="$ROOT/Proto" \
  --swift_opt=Visibility=Public --swift_out="$ROOT/Sources/Topology/Wire" \
  "$ROOT/Proto/midge_topology.proto"
OUT="$ROOT/Sources/Topology/Wire/midge_topology.pb.swift"
{ echo "// swift-format-ignore-file"; cat "$OUT"; } >"$OUT.tmp" && mv "$OUT.tmp" "$OUT"
echo "generated $OUT"
