# shellcheck shell=bash
# ops/lib/world.sh — the demo world, shared by ops/demo and ops/drill: the demo's four
# VM namespaces, agents started from the built binaries, and small HTTP/ping helpers.
# Needs lib/common.sh; uses $WORK (scratch directory) and $BIN (built binaries).
#
#   world_create_vms / world_remove_vms     the four VMs of ops/topologies/demo.yaml
#   world_add_vm NAME ADDRESS GATEWAY       one VM: namespace NAME, root-side veth NAME
#   world_start_agent HOST TUNNEL CONTROL ZK   a midge-agent under midge-supervisor in the
#                                           background (AGENT_PID[HOST] the agent's pid,
#                                           SUPERVISOR_PID[HOST] the supervisor's)
#   world_wait_ready CONTROL                wait (10 s at most) until the agent is ready
#   http_get PORT PATH                      the body of a GET to 127.0.0.1:PORT
#   world_stop_agents                       SIGTERM every agent, SIGKILL after 5 s

# The demo's VMs: port name, namespace (= bound interface name), address, gateway.
WORLD_VMS=(
  "vm-a1 mvm-a1 10.10.1.2 10.10.1.1"
  "vm-a2 mvm-a2 10.10.1.3 10.10.1.1"
  "vm-b1 mvm-b1 10.10.2.2 10.10.2.1"
  "vm-b2 mvm-b2 10.10.2.3 10.10.2.1"
)
declare -gA AGENT_PID=()
declare -gA SUPERVISOR_PID=()

world_check_ranges() {
  # Tenant addresses must never be the uplink's range.
  if ip route | grep -q '^10\.10\.'; then
    die "the root namespace routes 10.10.0.0/16; the demo's tenant range would clash"
  fi
}

world_add_vm() { # namespace address gateway
  local ns=$1 address=$2 gateway=$3 mac
  # A VM keeps its MAC (02:00 and its address), also when its interface is re-created.
  mac=$(printf '02:00:%02x:%02x:%02x:%02x' ${address//./ })
  ip netns list | grep -qw "$ns" || ip netns add "$ns"
  ip link add "$ns" type veth peer name eth0 address "$mac" netns "$ns"
  ip netns exec "$ns" ip link set lo up
  ip netns exec "$ns" ip addr add "$address/24" dev eth0
  ip netns exec "$ns" ip link set eth0 up
  ip netns exec "$ns" ip route add default via "$gateway"
  ip link set "$ns" up
}

world_create_vms() {
  local vm ns address gateway
  world_remove_vms # leftovers of an earlier run that was killed
  for vm in "${WORLD_VMS[@]}"; do
    read -r _ ns address gateway <<<"$vm"
    world_add_vm "$ns" "$address" "$gateway"
  done
}

world_remove_vms() {
  local vm ns
  for vm in "${WORLD_VMS[@]}"; do
    read -r _ ns _ <<<"$vm"
    ip link del "$ns" 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
  done
}

world_start_agent() { # host tunnel-port control-port zk
  # Under the supervisor, as a production agent runs: if the agent dies, the supervisor
  # closes its ZooKeeper session at once and its ports fail over without waiting for the
  # session timeout. A drill's SIGKILL goes to the agent itself (AGENT_PID).
  rm -f "$WORK/$1.pid"
  "$BIN/midge-supervisor" --pid-file "$WORK/$1.pid" -- \
    "$BIN/midge-agent" --zk "$4" --host-name "$1" --host-id-file "$WORK/$1.id" \
    --tunnel-port "$2" --control-address "127.0.0.1:$3" --session-timeout 2 \
    --flow-state-directory "$WORK/$1-flow-state" \
    >>"$WORK/$1.log" 2>&1 &
  SUPERVISOR_PID[$1]=$!
  local _i
  for _i in $(seq 200); do [ -s "$WORK/$1.pid" ] && break; sleep 0.01; done
  AGENT_PID[$1]=$(cat "$WORK/$1.pid" 2>/dev/null) || die "midge-supervisor did not start $1's agent"
}

# world_wait_supervisor HOST: wait (10 s at most) until HOST's supervisor has ended (after
# its agent died and it closed the agent's session).
world_wait_supervisor() {
  local pid=${SUPERVISOR_PID[$1]} _i
  for _i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  wait "$pid" 2>/dev/null || true
}

world_stop_agents() {
  local host pid
  # SIGTERM to a supervisor reaches its agent, which stops gracefully.
  for host in "${!SUPERVISOR_PID[@]}"; do kill -TERM "${SUPERVISOR_PID[$host]}" 2>/dev/null || true; done
  for host in "${!SUPERVISOR_PID[@]}"; do
    pid=${SUPERVISOR_PID[$host]}
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "${AGENT_PID[$host]:-}" "$pid" 2>/dev/null || true
  done
  AGENT_PID=()
  SUPERVISOR_PID=()
}

# http_get PORT PATH: the body of a GET to 127.0.0.1:PORT (bash only, 2 s at most).
http_get() {
  # shellcheck disable=SC2016 # expanded by the inner bash
  timeout 2 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf "GET %s HTTP/1.0\r\n\r\n" "$2" >&3
    sed "1,/^\r$/d" <&3' _ "$1" "$2" 2>/dev/null
}

world_wait_ready() { # control-port
  local _i
  for _i in $(seq 100); do
    http_get "$1" /health | grep -q '"ready" : true' && return 0
    sleep 0.1
  done
  return 1
}
