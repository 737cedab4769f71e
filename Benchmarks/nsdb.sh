#!/usr/bin/env bash
# Benchmarks/nsdb.sh — NSDB figures (issue 3) next to the raw ZooKeeper anchor,
# in one run on one machine: a private ZooKeeper from ops/zk, `midge-bench
# nsdb` (release build), then ../shared/anchors/zk/run.sh if it is there.
#   Benchmarks/nsdb.sh            # ANCHOR=0 to skip the anchor
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
DIR=$(mktemp -d /tmp/midge-bench.XXXXXX)
trap 'ops/zk stop --dir "$DIR/zk" >/dev/null 2>&1 || true; rm -rf "$DIR"' EXIT
swift build -c release --product midge-bench
ZK=$(ops/zk start --dir "$DIR/zk")
.build/release/midge-bench nsdb --zk "$ZK"
ops/zk stop --dir "$DIR/zk" >/dev/null 2>&1
if [ "${ANCHOR:-1}" = 1 ] && [ -f "$ROOT/../shared/anchors/zk/run.sh" ]; then
  REPS=1 PARTS=bcde RES_DIR="$DIR/anchor" bash "$ROOT/../shared/anchors/zk/run.sh" 2>/dev/null | grep "^|"
fi
