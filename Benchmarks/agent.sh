#!/usr/bin/env bash
# Benchmarks/agent.sh — the agent figures (issue 6) next to the raw ZooKeeper anchor
# (watch fan-out to 8 sessions), in one run on one machine: a private ZooKeeper from
# ops/zk, `midge-bench agent` (release build; in-process agents on veths it makes
# and removes; flow setup once more with the agent pinned to one CPU), then
# ../shared/anchors/zk/run.sh's fan-out part if it is there.
#   Benchmarks/agent.sh [midge-bench agent options]    # ANCHOR=0 skips the anchor
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
[ "$(id -u)" = 0 ] || { echo "run as root (veths)" >&2; exit 1; }
DIR=$(mktemp -d /tmp/midge-bench.XXXXXX)
trap 'ops/zk stop --dir "$DIR/zk" >/dev/null 2>&1 || true; rm -rf "$DIR"' EXIT
swift build -c release --product midge-bench
ZK=$(ops/zk start --dir "$DIR/zk")
.build/release/midge-bench agent --zk "$ZK" "$@"
# Issue 6's "new flows per second on one core": the agent's threads on the last CPU, the
# traffic sender on the others (as VMs run on their own cores).
if [ "$(nproc)" -ge 2 ] && [ $# -eq 0 ]; then
  .build/release/midge-bench agent --zk "$ZK" --parts setup --agent-cpu "$(($(nproc) - 1))"
fi
ops/zk stop --dir "$DIR/zk" >/dev/null 2>&1
if [ "${ANCHOR:-1}" = 1 ] && [ -f "$ROOT/../shared/anchors/zk/run.sh" ]; then
  REPS=1 PARTS=e RES_DIR="$DIR/anchor" bash "$ROOT/../shared/anchors/zk/run.sh" 2>/dev/null | grep "^|"
fi
