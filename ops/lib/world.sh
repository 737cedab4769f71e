# shellcheck shell=bash
# ops/lib/world.sh — the demo world on a cluster, shared by ops/demo and ops/drill: an
# `ops/cluster` (hosts in network namespaces on a 1500-byte underlay, a ZooKeeper
# ensemble of three on it, one agent per host under midge-supervisor), the demo's
# topology applied from host-1's namespace, its four VMs behind their hosts, and for the
# drills an "external" segment behind the router's uplink. Needs lib/common.sh and
# lib/cluster.sh; uses $WORK (scratch directory) and $BIN (built binaries).
#
#   world_check_ranges                      the tenant and external ranges are unused
#   world_up HOSTS TEMPLATE                 the cluster, TEMPLATE's topology, the VMs
#   world_down                              everything world_up made
#   world_external HOST...                  the external segment (namespace <prefix>x,
#                                           10.99.0.2/24), one cable to each HOST
#   world_ns NAME                           a namespace: host-K, a VM's interface name
#                                           (mvm-a1 ...) or external
#   world_http HOST PATH                    a GET to HOST's agent control API
#   world_wait_active PORT... / port_active PORT / port_inactive PORT
#   world_agent_pid HOST / world_supervisor_pid HOST / world_wait_supervisor HOST
#   world_cluster ARGS...                   ops/cluster ARGS --dir <the world's cluster>

# The demo's VMs: port name, interface (and VM) name, address, gateway, host in the
# topology templates. ops/topologies/demo.yaml and drill.yaml name their hosts host-a,
# host-b (and host-c); on the cluster they are host-1, host-2 (and host-3).
WORLD_VMS=(
  "vm-a1 mvm-a1 10.10.1.2 10.10.1.1 host-a"
  "vm-a2 mvm-a2 10.10.1.3 10.10.1.1 host-b"
  "vm-b1 mvm-b1 10.10.2.2 10.10.2.1 host-b"
  "vm-b2 mvm-b2 10.10.2.3 10.10.2.1 host-a"
)
WORLD_TENANT=10.10.0.0/16
WORLD_EXTERNAL=10.99.0.0/24
WORLD_DIR=""
declare -gA WORLD_ENV=()

# world_host NAME: host-a -> host-1, host-b -> host-2, host-c -> host-3 (others as they are).
world_host() {
  case "$1" in
    host-a) echo host-1 ;;
    host-b) echo host-2 ;;
    host-c) echo host-3 ;;
    *) echo "$1" ;;
  esac
}

world_check_ranges() {
  local range route
  for range in "$WORLD_TENANT" "$WORLD_EXTERNAL"; do
    while IFS= read -r route; do
      if cl_overlap "$range" "$route"; then
        die "the root namespace routes $route, which overlaps the demo world's $range"
      fi
    done < <(cl_root_routes)
  done
}

world_cluster() {
  "$MIDGE_ROOT/ops/cluster" "$@" --dir "$WORLD_DIR"
}

# world_topology TEMPLATE: TEMPLATE with its tunnelZones and hosts replaced by the
# cluster's (zone "underlay", each host's underlay address and tunnel port) and its host
# names mapped onto the cluster's.
world_topology() {
  local k
  echo "# ops/lib/world.sh: $1 on the cluster in $WORLD_DIR"
  echo "tunnelZones:"
  echo "  - name: underlay"
  echo "hosts:"
  for ((k = 1; k <= WORLD_ENV[HOST_COUNT]; k++)); do
    echo "  - {name: ${WORLD_ENV[HOST_${k}_NAME]}, tunnelZone: underlay, address: ${WORLD_ENV[HOST_${k}_ADDRESS]}, port: ${WORLD_ENV[HOST_${k}_TUNNEL]##*:}}"
  done
  # Drop the template's own top-level tunnelZones and hosts blocks.
  awk '/^[A-Za-z]/ { skip = ($1 == "tunnelZones:" || $1 == "hosts:") } !skip' "$1" |
    sed -E 's/\bhost-a\b/host-1/g; s/\bhost-b\b/host-2/g; s/\bhost-c\b/host-3/g'
}

# world_up HOSTS TEMPLATE: a cluster of HOSTS hosts without VMs, then TEMPLATE's topology
# (applied with --prune from host-1's namespace: ZooKeeper is on the underlay) and the
# demo's VMs, each behind the host its port names.
world_up() {
  local hosts=$1 template=$2 key value vm name iface address gateway host
  WORLD_DIR="$WORK/cluster"
  if ! world_cluster up --hosts "$hosts" --vms-per-host 0 --bin "$BIN" \
    >"$WORK/cluster-up.env" 2>"$WORK/cluster.log"; then
    tail -n 30 "$WORK/cluster.log" >&2
    die "ops/cluster up failed (above: the end of its log)"
  fi
  WORLD_ENV=()
  while IFS='=' read -r key value; do
    [[ "$key" =~ ^[A-Z][A-Z0-9_]*$ ]] && WORLD_ENV[$key]=$value
  done <"$WORK/cluster-up.env"
  ZK=${WORLD_ENV[ZK]}
  # lib/cluster.sh's helpers work on this cluster from here on.
  CL_DIR=$WORLD_DIR
  CL_TAG=${WORLD_ENV[CLUSTER_TAG]}
  cl_plan
  world_topology "$template" >"$WORK/topology.yaml"
  if ! world_midgectl apply --zk "$ZK" --prune -f "$WORK/topology.yaml" >"$WORK/apply.out" 2>&1; then
    cat "$WORK/apply.out" >&2
    die "midgectl apply failed"
  fi
  for vm in "${WORLD_VMS[@]}"; do
    read -r name iface address gateway host <<<"$vm"
    world_cluster vm add "$iface" --host "$(world_host "$host")" --address "$address/24" \
      --gateway "$gateway" 2>>"$WORK/cluster.log" || die "could not make VM $name"
  done
}

world_down() {
  [ -n "$WORLD_DIR" ] || return 0
  world_cluster down >>"$WORK/cluster.log" 2>&1 || true
  WORLD_DIR=""
}

# world_midgectl ARGS...: midgectl in host-1's namespace (ZooKeeper is on the underlay).
world_midgectl() {
  MIDGE_CREDENTIALS="${WORLD_ENV[ADMIN_CREDENTIALS]:-}" \
    ip netns exec "${WORLD_ENV[HOST_1_NS]}" "$BIN/midgectl" "$@"
}

# world_external HOST...: the external segment behind the uplink: namespace <prefix>x
# with a bridge holding 10.99.0.2/24 (a route back to the tenants via the uplink's
# 10.99.0.1) and one veth to each HOST, whose end there is named mup-<a|b|c> after the
# template's host name (the interface the uplink's candidate binds).
world_external() {
  local ns host k letter
  ns="${CL_PREFIX}x"
  printf '%s\n' "$ns" >>"$WORLD_DIR/netns.list"
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip -n "$ns" link add br0 type bridge stp_state 0 forward_delay 0
  ip -n "$ns" addr add 10.99.0.2/24 dev br0
  ip -n "$ns" link set br0 up
  ip -n "$ns" route add "$WORLD_TENANT" via 10.99.0.1
  for host in "$@"; do
    letter=${host#host-}
    k=$(world_host "$host")
    k=${k#host-}
    ip -n "${WORLD_ENV[HOST_${k}_NS]}" link add "mup-$letter" type veth peer name "up-$letter" netns "$ns"
    # Only what the agent sends may come out of the uplink's interface (the drills count
    # the frames each host sends onto the segment): no IPv6 autoconfiguration chatter.
    ip netns exec "${WORLD_ENV[HOST_${k}_NS]}" sysctl -qw "net.ipv6.conf.mup-$letter.disable_ipv6=1"
    ip netns exec "$ns" sysctl -qw "net.ipv6.conf.up-$letter.disable_ipv6=1"
    ip -n "$ns" link set "up-$letter" master br0 up
    ip -n "${WORLD_ENV[HOST_${k}_NS]}" link set "mup-$letter" up
  done
}

# world_ns NAME: the namespace of host-K (or host-a/b/c), a VM (its interface name,
# e.g. mvm-a1) or the external segment.
world_ns() {
  case "$1" in
    external) echo "${CL_PREFIX}x" ;;
    host-*)
      local k
      k=$(world_host "$1")
      echo "${WORLD_ENV[HOST_${k#host-}_NS]}"
      ;;
    *) echo "${CL_PREFIX}$1" ;;
  esac
}

# world_http HOST PATH: the body of a GET to HOST's agent (2 s at most).
world_http() {
  cl_http "$(world_ns "$1")" "$CL_CONTROL_PORT" "$2"
}

world_host_dir() {
  local k
  k=$(world_host "$1")
  echo "$WORLD_DIR/hosts/$k"
}
world_agent_pid() { cat "$(world_host_dir "$1")/agent.pid" 2>/dev/null; }
world_supervisor_pid() { cat "$(world_host_dir "$1")/pid" 2>/dev/null; }

# world_wait_supervisor HOST: wait (10 s at most) until HOST's supervisor has ended (after
# its agent died and it closed the agent's session).
world_wait_supervisor() {
  local pid _i
  pid=$(world_supervisor_pid "$1") || return 0
  for _i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
}

# port_row HOST NAME: HOST's agent's /ports row for port NAME, on one line ("" if the
# agent did not answer).
port_row() {
  world_http "$1" /ports | tr -d '\n ' | tr '}' '\n' | grep "\"name\":\"$2\"" || true
}

# port_active PORT: whether host-1's agent sees the port active (on any host).
port_active() {
  port_row host-1 "$1" | grep -q '"activeOn"'
}

# port_inactive PORT: host-1's agent answered and does not see the port active (a failed
# request is neither).
port_inactive() {
  local ports
  ports=$(world_http host-1 /ports | tr -d '\n ' | tr '}' '\n') || return 1
  grep -q "\"name\":\"$1\"" <<<"$ports" || return 1
  ! grep "\"name\":\"$1\"" <<<"$ports" | grep -q '"activeOn"'
}

# world_wait_active PORT...: until host-1 sees every PORT active (20 s at most).
world_wait_active() {
  local _i port missing
  for _i in $(seq 200); do
    missing=""
    for port in "$@"; do port_active "$port" || missing="$missing $port"; done
    [ -z "$missing" ] && return 0
    sleep 0.1
  done
  log "ports not active after 20 s:$missing"
  return 1
}

# world_ping FROM-VM ADDRESS [ping options...]: ping from inside a VM.
world_ping() {
  local from=$1 to=$2
  shift 2
  ip netns exec "$(world_ns "$from")" ping -n "$@" "$to"
}
