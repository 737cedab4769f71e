#!/usr/bin/env bash
# Benchmarks/cluster.sh — the scale figures (issue 14) on a one-machine cluster
# (ops/cluster: 32 host namespaces, 4 VMs each, a 3-member ZooKeeper on the underlay),
# with a topology of 10,000 ports, next to the raw ZooKeeper watch fan-out to 32
# sessions measured in the same run (../shared/anchors/zk/run.sh, when it is there).
#
#   Benchmarks/cluster.sh            # HOSTS=32 VMS=4 PORTS=10000 WRITES=200 CHANGES=200
#   HOSTS=4 PORTS=1000 WRITES=20 Benchmarks/cluster.sh     # a quick look
#   BIN=DIR Benchmarks/cluster.sh    # binaries from DIR (default: the release build in
#                                    # .build-release, built when missing)
#   ANCHOR=0 skips the anchor; KEEP=1 leaves the cluster's logs (MIDGE_CLUSTER_KEEP_FILES)
#
# What runs (docs/cluster.md, "The scale benchmark", says what each figure means):
#   topology   ops/cluster's own (tenant-a/b behind router edge, 4*HOSTS VM ports) plus a
#              chain bench-inv as inbound filter of both tenant bridges (every VM flow
#              goes through it) and filler ports up to PORTS in all, on filler bridges of
#              100, bound round-robin to the hosts (interfaces that do not exist: bound,
#              never attached), applied in batches of 400 with midgectl apply.
#   1 start    every agent stopped, then all launched at once (ops/cluster agent-start
#              all); the time to the last "agent ready" log line and to the last agent
#              answering /health ready with its VM ports attached.
#   2 fan-out  WRITES rounds: a ping inside every host (h<K>v1 -> h<K>v3, one bridge), so
#              each agent holds flows through bench-inv; the rule's znode is overwritten;
#              every agent's /metrics polled until midge_datapath_flows is 0.
#   3 CPU      /proc utime+stime of each agent over CHANGES rule writes (no traffic),
#              with the filler re-bound so three agents cache ~100, ~1,000 and ~10,000
#              objects (/topology "objects").
#   4 idle     RSS and CPU of every agent over 10 s of quiet, ZooKeeper's mntr/wchs, and
#              the all-pairs ping matrix of the VMs (one ping each, 16 in parallel).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
[ "$(id -u)" = 0 ] || { echo "run as root (network namespaces)" >&2; exit 1; }
export PATH="/opt/swift/usr/bin:$PATH"

HOSTS=${HOSTS:-32} VMS=${VMS:-4} PORTS=${PORTS:-10000}
WRITES=${WRITES:-200} CHANGES=${CHANGES:-200} IDLE_S=${IDLE_S:-10}
PROBE=(python3 "$ROOT/Benchmarks/cluster_probe.py")
command -v python3 >/dev/null || { echo "needs python3 (apt-get install python3)" >&2; exit 1; }

log() { printf '%s cluster-bench: %s\n' "$(date +%H:%M:%S.%3N)" "$*" >&2; }
now_ms() { local t=${EPOCHREALTIME/./}; echo "${t:0:-3}"; }

WORK=$(mktemp -d /tmp/midge-cluster-bench.XXXXXX)
CDIR="$WORK/cluster"
declare -a BG=()
cleanup() {
  local rc=$? pid
  trap - EXIT INT TERM
  for pid in ${BG[@]+"${BG[@]}"}; do kill "$pid" 2>/dev/null || true; done
  restore_neighbour_limits
  MIDGE_CLUSTER_KEEP_FILES=${KEEP:-0} ops/cluster down --dir "$CDIR" >/dev/null 2>&1 || true
  if [ "${KEEP:-0}" = 1 ]; then log "files kept in $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
# The kernel's ARP table is one for the whole machine, shared by every namespace, and
# holds at most gc_thresh3 (1024 by default) entries: 128 VMs that each resolve the 63
# others of their bridge need about 8,000. Past the limit the kernel cannot resolve
# ("neighbour: arp_cache: neighbor table overflow!" in dmesg) and the pings fail before
# they reach Midge. The matrix raises the limits and puts the old values back at exit.
NEIGH_SAVED=""
raise_neighbour_limits() {
  local k
  NEIGH_SAVED=$(for k in 1 2 3; do sysctl -n "net.ipv4.neigh.default.gc_thresh$k"; done | tr '\n' ' ')
  sysctl -qw net.ipv4.neigh.default.gc_thresh3=65536 net.ipv4.neigh.default.gc_thresh2=32768 \
    net.ipv4.neigh.default.gc_thresh1=16384
}
restore_neighbour_limits() {
  [ -n "$NEIGH_SAVED" ] || return 0
  local one two three
  read -r one two three <<<"$NEIGH_SAVED"
  sysctl -qw "net.ipv4.neigh.default.gc_thresh1=$one" "net.ipv4.neigh.default.gc_thresh2=$two" \
    "net.ipv4.neigh.default.gc_thresh3=$three" || true
  NEIGH_SAVED=""
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- binaries
if [ -z "${BIN:-}" ]; then
  BIN=$(swift build -c release --scratch-path "$ROOT/.build-release" --show-bin-path)
  if [ ! -x "$BIN/midge-agent" ] || [ ! -x "$BIN/midge-supervisor" ] || [ ! -x "$BIN/midgectl" ]; then
    log "building the release binaries (.build-release)"
    for product in midge-agent midge-supervisor midgectl; do # one --product per build: the last one wins
      nice -n 10 swift build -c release --product "$product" --scratch-path "$ROOT/.build-release" >&2
    done
  fi
fi
BIN=$(realpath "$BIN")

declare -A R=() # the figures
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- the cluster
log "ops/cluster up: $HOSTS hosts, $VMS VMs each (open: the raw ZooKeeper probe reads the rule anonymously)"
ops/cluster up --open --hosts "$HOSTS" --vms-per-host "$VMS" --dir "$CDIR" --bin "$BIN" \
  --session-timeout 4 >"$WORK/up.env"
declare -A ENV=()
while IFS='=' read -r key value; do ENV[$key]=$value; done <"$CDIR/cluster.env"
ZK=${ENV[ZK]}
H1NS=${ENV[HOST_1_NS]}
ctl() { ip netns exec "$H1NS" timeout 120 "$BIN/midgectl" "$@" --zk "$ZK"; }
agent_pid() { cat "$CDIR/hosts/host-$1/agent.pid"; }
get() { ops/cluster get "host-$1" "$2" --dir "$CDIR"; }

# The chain every VM flow crosses, on both tenant bridges (apply without --prune keeps
# the bridges' ports and everything else).
write_chain() { # NWPROTO
  cat <<EOF
chains:
  - name: bench-inv
    rules:
      - {action: accept, nwProto: $1, tpDst: 9}
      - {action: accept}
bridges:
  - {name: tenant-a, inboundFilter: bench-inv}
  - {name: tenant-b, inboundFilter: bench-inv}
EOF
}
write_chain 17 >"$WORK/chain-a.yaml"
write_chain 6 >"$WORK/chain-b.yaml"
ctl apply -f "$WORK/chain-b.yaml" >/dev/null
RULE_PATH=$(ctl raw get rule bench-inv/0 | sed -n 's/^path: *//p')
"${PROBE[@]}" getdata --zk-ns "$H1NS" --zk "${ZK%%,*}" --path "$RULE_PATH" --out "$WORK/rule-b.bin"
ctl apply -f "$WORK/chain-a.yaml" >/dev/null
"${PROBE[@]}" getdata --zk-ns "$H1NS" --zk "${ZK%%,*}" --path "$RULE_PATH" --out "$WORK/rule-a.bin"
cmp -s "$WORK/rule-a.bin" "$WORK/rule-b.bin" && { log "the two rule versions are the same bytes"; exit 1; }

# Filler ports: PORTS minus the VM ports and the 2 router ports and their 2 bridge links.
FILLER=$((PORTS - HOSTS * VMS - 4))
[ "$FILLER" -ge 0 ] || FILLER=0
PER_BRIDGE=100
BRIDGES=$(((FILLER + PER_BRIDGE - 1) / PER_BRIDGE))
# write_filler MODE: the filler files fill-N.yaml (at most 400 ports each: one apply is one ZooKeeper request, under 1 MiB, and a port costs ~10 operations); MODE
# spread: port n bound to host (n % HOSTS) + 1; view: ~1,000 to host HOSTS-1, the rest
# to host HOSTS (host HOSTS-2 keeps none); none: bound to no host (apply cannot move a
# binding from one host to another in one step).
write_filler() {
  local mode=$1 b n port host file="" count=0 files=0
  rm -f "$WORK"/fill-*.yaml
  for ((b = 0; b < BRIDGES; b++)); do
    if ((count == 0)); then
      files=$((files + 1))
      file="$WORK/fill-$files.yaml"
      # A file names only what it declares: the hosts again (unchanged), then bridges.
      cat "$WORK/hosts.yaml" >"$file"
      echo "bridges:" >>"$file"
    fi
    echo "  - name: fill-$b" >>"$file"
    echo "    ports:" >>"$file"
    for ((n = 0; n < PER_BRIDGE; n++)); do
      port=$((b * PER_BRIDGE + n))
      ((port < FILLER)) || break
      if [ "$mode" = none ]; then
        echo "      - {name: f$port}" >>"$file"
        count=$((count + 1))
        continue
      elif [ "$mode" = spread ]; then
        host=$((port % HOSTS + 1))
      elif ((port < 1000)); then
        host=$((HOSTS - 1))
      else
        host=$HOSTS
      fi
      echo "      - {name: f$port, host: host-$host, interface: f$port}" >>"$file"
      count=$((count + 1))
    done
    ((count < 400)) || count=0
  done
}
apply_filler() {
  local f
  for f in "$WORK"/fill-*.yaml; do
    [ -f "$f" ] || continue
    ctl apply -f "$f" >"$WORK/apply.out" 2>&1 || { tail -n 5 "$WORK/apply.out" >&2; return 1; }
  done
}
sed -n '/^tunnelZones:/,/^[a-z]*:/p' "$CDIR/topology.yaml" | sed '$d' >"$WORK/hosts.yaml"
sed -n '/^hosts:/,/^[a-z]*:/p' "$CDIR/topology.yaml" | sed '1!{/^[a-z]*:/d}' >>"$WORK/hosts.yaml"
if [ "$FILLER" -gt 0 ]; then
  t=$(now_ms)
  write_filler spread
  apply_filler
  log "topology: $PORTS ports ($FILLER filler ports on $BRIDGES bridges, spread) in $(($(now_ms) - t)) ms"
fi
R[ports]=$(ctl get ports -o json 2>/dev/null | grep -c '"name"' || echo "?")

# ---------------------------------------------------------------- 1: all agents at once
log "1: stopping every agent, then starting all at once"
ops/cluster agent-stop all --dir "$CDIR" 2>/dev/null
sleep 2
LOGS=$(for ((k = 1; k <= HOSTS; k++)); do printf '%s,' "$CDIR/hosts/host-$k/agent.log"; done)
"${PROBE[@]}" ready --logs "${LOGS%,}" --seconds 90 >"$WORK/ready.out" &
BG+=("$!")
for ((i = 0; i < 100; i++)); do grep -q WATCHING "$WORK/ready.out" 2>/dev/null && break; sleep 0.05; done
ops/cluster agent-start all --dir "$CDIR" >"$WORK/start.out"
wait "${BG[-1]}" || true
LAUNCH=$(sed -n 's/^AGENTS_LAUNCH_MS=//p' "$WORK/start.out")
LAUNCHED=$(sed -n 's/^AGENTS_LAUNCHED_MS=//p' "$WORK/start.out")
ALLREADY=$(sed -n 's/^AGENTS_READY_MS=//p' "$WORK/start.out")
R[start_launch_ms]=$((LAUNCHED - LAUNCH))
R[start_log_ms]=$(awk -v t0="$LAUNCH" '/^READY/ { d = $3 - t0; if (d > m) m = d; n++ } END { printf "%.0f", m }' "$WORK/ready.out")
R[start_log_n]=$(grep -c '^READY' "$WORK/ready.out" || true)
R[start_attached_ms]=$((ALLREADY - LAUNCH))
R[start_internal_max]=$(awk '/^READY/ { if ($4 > m) m = $4 } END { print m + 0 }' "$WORK/ready.out")
R[start_objects]=$(get 1 /health | sed -n 's/.*"objects" : \([0-9]*\).*/\1/p')
log "1: last agent ready (log) $((R[start_log_ms])) ms, all with ports attached ${R[start_attached_ms]} ms"

# ---------------------------------------------------------------- 2: invalidation fan-out
AGENT_NS=$(for ((k = 1; k <= HOSTS; k++)); do printf '%s,' "${ENV[HOST_${k}_NS]}"; done)
PAIRS=""
for ((i = 1; i <= ENV[VM_COUNT]; i++)); do
  name=${ENV[VM_${i}_NAME]}
  if [[ "$name" =~ ^h([0-9]+)v3$ ]]; then
    PAIRS+="${ENV[VM_$((i - 2))_NS]}:${ENV[VM_${i}_ADDRESS]},"
  fi
done
[ -n "$PAIRS" ] || { log "fan-out needs 3 VMs per host"; exit 1; }
declare -A CPU0=()
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# Nanoseconds on CPU, summed over the process's threads (/proc/PID/task/*/schedstat):
# finer than utime+stime's 10 ms ticks.
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f\n", s }'; }
for ((k = 1; k <= HOSTS; k++)); do CPU0[$k]=$(cpu_ticks "$(agent_pid "$k")"); done
log "2: $WRITES rule writes, each after a ping inside every host"
t=$(now_ms)
"${PROBE[@]}" fanout --zk-ns "$H1NS" --zk "${ZK%%,*}" --path "$RULE_PATH" \
  --a "$WORK/rule-a.bin" --b "$WORK/rule-b.bin" --agents "${AGENT_NS%,}" \
  --vms "${PAIRS%,}" --writes "$WRITES" >"$WORK/fanout.out"
FANOUT_S=$((($(now_ms) - t) / 1000))
while read -r _ key value; do R[$key]=$value; done < <(grep '^RESULT' "$WORK/fanout.out")
R[fanout_load]=$(cut -d' ' -f1-3 /proc/loadavg)
log "2: p50 ${R[fanout_upper_p50_ms]} ms, p99 ${R[fanout_upper_p99_ms]} ms over ${R[fanout_rounds]} writes (${FANOUT_S} s)"

# ---------------------------------------------------------------- 4: idle, ZooKeeper, ping matrix
log "4: $IDLE_S s idle"
TICK=$(getconf CLK_TCK)
sleep 3
declare -A IDLE0=()
for ((k = 1; k <= HOSTS; k++)); do IDLE0[$k]=$(cpu_ticks "$(agent_pid "$k")"); done
sleep "$IDLE_S"
idle_cpu=() rss=()
for ((k = 1; k <= HOSTS; k++)); do
  pid=$(agent_pid "$k")
  idle_cpu+=("$(($(cpu_ticks "$pid") - IDLE0[$k]))")
  rss+=("$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")")
done
stats() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1; s += $1 } END { printf "%s %s %s\n", v[int((NR + 1) / 2)], v[NR], s / NR }'; }
read -r R[rss_med] R[rss_max] _ < <(stats "${rss[@]}")
read -r R[idle_med] R[idle_max] _ < <(stats "${idle_cpu[@]}")
R[idle_med_pct]=$(awk -v t="${R[idle_med]}" -v hz="$TICK" -v s="$IDLE_S" 'BEGIN { printf "%.2f", 100 * t / hz / s }')
R[idle_max_pct]=$(awk -v t="${R[idle_max]}" -v hz="$TICK" -v s="$IDLE_S" 'BEGIN { printf "%.2f", 100 * t / hz / s }')
zk_four() { # K WORD
  ip netns exec "${ENV[ZK_${1}_NS]}" bash -c 'exec 3<>"/dev/tcp/$1/2181" && printf %s "$2" >&3 && timeout 2 cat <&3' \
    _ "${ENV[ZK_${1}_ADDRESS]}" "$2" 2>/dev/null
}
for ((k = 1; k <= 3; k++)); do
  mntr=$(zk_four "$k" mntr)
  R[zk${k}_mode]=$(sed -n 's/^zk_server_state\t//p' <<<"$mntr")
  R[zk${k}_znodes]=$(sed -n 's/^zk_znode_count\t//p' <<<"$mntr")
  R[zk${k}_watches]=$(sed -n 's/^zk_watch_count\t//p' <<<"$mntr")
  R[zk${k}_conns]=$(sed -n 's/^zk_num_alive_connections\t//p' <<<"$mntr")
  R[zk${k}_wchs]=$(zk_four "$k" wchs | tr '\n' ' ' | sed 's/  */ /g')
done

log "4: all-pairs ping matrix of ${ENV[VM_COUNT]} VMs"
: >"$WORK/pairs"
for ((i = 1; i <= ENV[VM_COUNT]; i++)); do
  for ((j = 1; j <= ENV[VM_COUNT]; j++)); do
    ((i == j)) || echo "${ENV[VM_${i}_NS]} ${ENV[VM_${j}_ADDRESS]} ${ENV[VM_${i}_NAME]} ${ENV[VM_${j}_NAME]}" >>"$WORK/pairs"
  done
done
# The cluster's chain drops BLOCK_FROM -> BLOCK_TO, so both directions' pings fail (the
# reverse one loses its reply).
BLOCK="(${ENV[BLOCK_FROM]} ${ENV[BLOCK_TO]}|${ENV[BLOCK_TO]} ${ENV[BLOCK_FROM]})"
raise_neighbour_limits
t=$(now_ms)
# One ping each (-W 2: bounded), 16 at a time (64 at once on 2 cores measured the
# machine: first packets wait on simulation and on-demand loads); a pair the cluster's
# chain blocks must fail.
xargs -P 16 -L 1 bash -c 'if ip netns exec "$0" ping -n -q -c 1 -W 2 "$1" >/dev/null 2>&1; then
  echo "ok $2 $3"; else echo "fail $2 $3"; fi' <"$WORK/pairs" >"$WORK/matrix.out" || true
R[matrix_ms]=$(($(now_ms) - t))
restore_neighbour_limits
R[matrix_pairs]=$(wc -l <"$WORK/pairs")
R[matrix_ok]=$(grep -c '^ok' "$WORK/matrix.out" || true)
R[matrix_fail]=$(grep '^fail' "$WORK/matrix.out" | grep -Evc "^fail $BLOCK\$" || true)
R[matrix_blocked_ok]=$(grep -Ec "^ok $BLOCK\$" "$WORK/matrix.out" || true)
R[matrix_load]=$(cut -d' ' -f1-3 /proc/loadavg)
log "4: matrix ${R[matrix_ok]}/${R[matrix_pairs]} in ${R[matrix_ms]} ms, ${R[matrix_fail]} unexpected failures"
grep '^fail' "$WORK/matrix.out" | grep -Ev "^fail $BLOCK\$" | head -5 >&2 || true

# ---------------------------------------------------------------- 3: CPU per change by view size
SMALL=$((HOSTS - 2)) MID=$((HOSTS - 1)) BIG=$HOSTS
if [ "$FILLER" -gt 0 ]; then
  log "3: re-binding the filler: ~1,000 ports to host-$MID, the rest to host-$BIG"
  t=$(now_ms)
  write_filler none
  apply_filler
  write_filler view
  apply_filler
  log "3: re-bound in $(($(now_ms) - t)) ms; waiting for the views to settle"
fi
objects_of() { get "$1" /topology | sed -n 's/.*"objects" : \([0-9]*\).*/\1/p'; }
for ((i = 0; i < 60; i++)); do
  a=$(objects_of "$BIG"); sleep 1; b=$(objects_of "$BIG")
  [ -n "$a" ] && [ "$a" = "$b" ] && break
done
sleep 2
declare -A C0=() OBJ=()
for ((k = 1; k <= HOSTS; k++)); do OBJ[$k]=$(objects_of "$k"); done
declare -A N0=()
T_C0=$(now_ms)
for ((k = 1; k <= HOSTS; k++)); do
  C0[$k]=$(cpu_ticks "$(agent_pid "$k")")
  N0[$k]=$(cpu_ns "$(agent_pid "$k")")
done
log "3: $CHANGES rule writes 20 ms apart (views: host-$SMALL ${OBJ[$SMALL]}, host-$MID ${OBJ[$MID]}, host-$BIG ${OBJ[$BIG]} objects)"
"${PROBE[@]}" changes --zk-ns "$H1NS" --zk "${ZK%%,*}" --path "$RULE_PATH" \
  --a "$WORK/rule-a.bin" --b "$WORK/rule-b.bin" --writes "$CHANGES" --gap-ms 20
sleep 1
# The same window's idle share is subtracted: each agent's idle ticks per second (part 4)
# times the window.
declare -A PER=()
per_change() { # K WINDOW_MS -> utime+stime per change, and schedstat's, idle share off
  local used ns
  used=$(($(cpu_ticks "$(agent_pid "$1")") - C0[$1]))
  ns=$(($(cpu_ns "$(agent_pid "$1")") - N0[$1]))
  awk -v u="$used" -v ns="$ns" -v i="${IDLE0_RATE[$1]}" -v w="$2" -v hz="$TICK" -v n="$CHANGES" \
    'BEGIN { printf "%.0f %.0f\n", 1e6 * (u / hz - i * w / 1000) / n, (ns / 1e3 - 1e6 * i * w / 1000) / n }'
}
declare -A IDLE0_RATE=()
for ((k = 1; k <= HOSTS; k++)); do
  IDLE0_RATE[$k]=$(awk -v t="${idle_cpu[k - 1]}" -v hz="$TICK" -v s="$IDLE_S" 'BEGIN { print t / hz / s }')
done
WINDOW_MS=$(($(now_ms) - T_C0))
for k in "$SMALL" "$MID" "$BIG"; do
  read -r R[cpu_raw_$k] R[cpu_net_$k] < <(per_change "$k" "$WINDOW_MS")
done
all_net=()
for ((k = 1; k <= HOSTS; k++)); do
  read -r _ v < <(per_change "$k" "$WINDOW_MS")
  all_net+=("$v")
done
read -r R[cpu_all_med] R[cpu_all_max] _ < <(stats "${all_net[@]}")
R[cpu_load]=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- 2b: the anchor
ANCHOR_LINE="(not run)"
if [ "${ANCHOR:-1}" = 1 ] && [ -f "$ROOT/../shared/anchors/zk/run.sh" ]; then
  log "anchor: ZooKeeper watch fan-out to 32 sessions (../shared/anchors/zk/run.sh, part e)"
  if REPS=1 PARTS=e RES_DIR="$WORK/anchor" bash "$ROOT/../shared/anchors/zk/run.sh" \
    >"$WORK/anchor.out" 2>"$WORK/anchor.err"; then
    R[anchor_p50]=$(awk -F'|' '$2 ~ /e_watch32_p50_ms/ { gsub(/ /, "", $4); print $4 }' "$WORK/anchor.out")
    R[anchor_p99]=$(awk -F'|' '$2 ~ /e_watch32_p99_ms/ { gsub(/ /, "", $4); print $4 }' "$WORK/anchor.out")
    ANCHOR_LINE="p50 ${R[anchor_p50]} ms, p99 ${R[anchor_p99]} ms"
  else
    ANCHOR_LINE="(failed: $(tail -n 1 "$WORK/anchor.err"))"
  fi
fi
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- the table
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f×", a / b; else print "-" }'; }
cat <<EOF

## Benchmarks/cluster.sh — $HOSTS hosts × $VMS VMs, ${R[ports]} ports, $(nproc) cores, $(date -u +%FT%TZ)
load average: start $LOAD_START, during fan-out ${R[fanout_load]}, matrix ${R[matrix_load]}, CPU part ${R[cpu_load]}, end $LOAD_END
binaries: $BIN

| # | figure | value | target / anchor |
|---|---|---|---|
| 1 | $HOSTS agents launched at once → last "agent ready" log line | ${R[start_log_ms]} ms (${R[start_log_n]}/$HOSTS logged; slowest agent's own startup_ms ${R[start_internal_max]}; launching took ${R[start_launch_ms]} ms) | ≤ 2,000 ms |
| 1 | → last agent answering /health ready with its $VMS VM ports attached (polled every 0.1 s) | ${R[start_attached_ms]} ms | ≤ 2,000 ms |
| 2 | rule write → last of $HOSTS agents' flows removed (upper bound), p50 / p99 / max over ${R[fanout_rounds]} writes | ${R[fanout_upper_p50_ms]} / ${R[fanout_upper_p99_ms]} / ${R[fanout_upper_max_ms]} ms | p99 ≤ 1.5× anchor: $(ratio "${R[fanout_upper_p99_ms]}" "${R[anchor_p99]:-0}") |
| 2 | the same, lower bound (the last agent's last poll still holding flows), p50 / p99 | ${R[fanout_lower_p50_ms]} / ${R[fanout_lower_p99_ms]} ms | |
| 2 | each agent's removal (all agents, all writes), p50 / p99 | ${R[fanout_each_agent_p50_ms]} / ${R[fanout_each_agent_p99_ms]} ms | |
| 2 | anchor: raw ZooKeeper watch fan-out to 32 sessions (standalone server, C client) | $ANCHOR_LINE | |
| 2 | rounds skipped: no ping reply / agent without flows / flows not removed in 3 s | ${R[fanout_skipped_no_reply]} / ${R[fanout_skipped_no_flows]} / ${R[fanout_skipped_not_removed]} | 0 |
| 3 | CPU per rule change (utime+stime / schedstat, idle share taken off), agent caching ${OBJ[$SMALL]} objects (host-$SMALL) | ${R[cpu_raw_$SMALL]} / ${R[cpu_net_$SMALL]} µs | ≤ 200 µs, flat |
| 3 | … caching ${OBJ[$MID]} objects (host-$MID) | ${R[cpu_raw_$MID]} / ${R[cpu_net_$MID]} µs | ≤ 200 µs, flat |
| 3 | … caching ${OBJ[$BIG]} objects (host-$BIG) | ${R[cpu_raw_$BIG]} / ${R[cpu_net_$BIG]} µs | ≤ 200 µs, flat |
| 3 | … every agent (schedstat): median / max | ${R[cpu_all_med]} / ${R[cpu_all_max]} µs | |
| 4 | agent RSS, median / max over $HOSTS | $((R[rss_med] / 1024)) / $((R[rss_max] / 1024)) MiB | |
| 4 | agent idle CPU over ${IDLE_S} s, median / max | ${R[idle_med_pct]} / ${R[idle_max_pct]} % of a core | |
| 4 | ZooKeeper znodes / watches / connections (member 1, ${R[zk1_mode]}) | ${R[zk1_znodes]} / ${R[zk1_watches]} / ${R[zk1_conns]} | |
| 4 | watches / connections on members 2, 3 (${R[zk2_mode]}, ${R[zk3_mode]}) | ${R[zk2_watches]} / ${R[zk2_conns]}, ${R[zk3_watches]} / ${R[zk3_conns]} | |
| 4 | all-pairs ping matrix: ${R[matrix_pairs]} pings, one each, 16 in parallel | ${R[matrix_ms]} ms, ${R[matrix_fail]} failures (blocked pair ${ENV[BLOCK_FROM]} → ${ENV[BLOCK_TO]} and its reverse: $([ "${R[matrix_blocked_ok]}" = 0 ] && echo blocked || echo 'NOT blocked')) | 0 failures |

wchs: member 1: ${R[zk1_wchs]}; member 2: ${R[zk2_wchs]}; member 3: ${R[zk3_wchs]}
fan-out poll sweep of all agents (p50): ${R[fanout_sweep_p50_ms]} ms; part 2 took ${FANOUT_S} s
EOF
