# shellcheck shell=bash
# ops/lib/cluster.sh — the pieces of ops/cluster: a Midge cluster on one machine, every
# hypervisor a network namespace on a real (veth + bridge) underlay, a ZooKeeper
# ensemble reached over that underlay, VMs as namespaces behind their host. Needs
# lib/common.sh. ops/cluster is the command line; docs/cluster.md is the guide.
#
# Everything a cluster is follows from its directory (CL_DIR):
#   cl_plan                      tag, namespace names and addresses (CL_* variables)
#   cl_check_ranges              refuse ranges the root namespace routes
#   cl_root_traces               what of the cluster shows in the root namespace (nothing)
#   cl_make_underlay / cl_make_member K / cl_make_host K / cl_make_vm NAME / cl_remove_vm
#   cl_link STATE PORT / cl_zk_reach STATE K / cl_peer_reach STATE K N
#                                cut or restore a cable, a host's reach to ZooKeeper only,
#                                or its tunnels only
#   cl_zk_write_config K / cl_zk_launch K / cl_zk_wait TIMEOUT_S K...
#   cl_agent_launch K (_cl_agent_spawn K: not awaited) / cl_agent_wait_ready K TIMEOUT_S
#   cl_http NS PORT PATH         a GET inside a namespace (bash /dev/tcp, 2 s at most)
#   cl_teardown                  stop every process, delete every namespace, remove files
#
# Nothing here adds an address, link or route to the root namespace: links are created
# with `ip -n NS` directly inside their namespaces, and processes start in theirs with
# `ip netns exec`.

# ---------------------------------------------------------------- the plan

# Fixed inside each cluster (every port lives in a namespace of its own).
CL_ZK_MEMBERS=3
CL_ZK_CLIENT_PORT=2181
CL_ZK_PEER_PORT=2888
CL_ZK_ELECTION_PORT=3888
CL_TUNNEL_PORT=6677
CL_CONTROL_PORT=7780
CL_MTU=1500
# Tenant ranges: only inside VM namespaces and the virtual topology, so every cluster
# may use the same ones; still checked against the root namespace's routes.
CL_TENANT_A_NET=10.71.1
CL_TENANT_B_NET=10.71.2
# The machine's uplink range: never used, whatever a directory hashes to.
CL_FORBIDDEN=192.0.2.0/24

# cl_plan: derive the tag, the underlay range and the namespace prefix from CL_DIR
# (absolute). The tag is 3 hex digits of the directory's hash and picks one /24 of
# 172.16.0.0/12, so two directories with different tags never share a range or a
# namespace name. CL_TAG may be set beforehand (--tag) to pick another.
cl_plan() {
  local index
  if [ -z "${CL_TAG:-}" ]; then
    CL_TAG=$(printf '%s' "$CL_DIR" | md5sum | cut -c1-3)
  fi
  [[ "$CL_TAG" =~ ^[0-9a-f]{3}$ ]] || die "bad cluster tag '$CL_TAG' (3 hex digits)"
  index=$((16#$CL_TAG))
  CL_NET="172.$((16 + index / 256)).$((index % 256))"
  CL_UNDERLAY="$CL_NET.0/24"
  CL_PREFIX="mc$CL_TAG-"
  CL_UNDERLAY_NS="${CL_PREFIX}u"
}

cl_member_ns() { printf '%sz%s' "$CL_PREFIX" "$1"; }
cl_member_address() { printf '%s.%s' "$CL_NET" "$((10 + $1))"; }
cl_host_ns() { printf '%sh%s' "$CL_PREFIX" "$1"; }
cl_host_address() { printf '%s.%s' "$CL_NET" "$((20 + $1))"; }
cl_host_name() { printf 'host-%s' "$1"; }
cl_vm_ns() { printf '%s%s' "$CL_PREFIX" "$1"; } # VM names are h<K>v<J>
cl_host_dir() { printf '%s/hosts/%s' "$CL_DIR" "$(cl_host_name "$1")"; }
cl_member_dir() { printf '%s/zk/m%s' "$CL_DIR" "$1"; }

cl_zk_connect() {
  local k out=()
  for ((k = 1; k <= CL_ZK_MEMBERS; k++)); do
    out+=("$(cl_member_address "$k"):$CL_ZK_CLIENT_PORT")
  done
  (IFS=,; printf '%s\n' "${out[*]}")
}

# ---------------------------------------------------------------- address checks

# _cl_ip_to_int A.B.C.D
_cl_ip_to_int() {
  local a b c d
  IFS=. read -r a b c d <<<"$1"
  printf '%s\n' "$(((a << 24) | (b << 16) | (c << 8) | d))"
}

# cl_overlap PREFIX PREFIX: true when the two IPv4 prefixes share an address.
cl_overlap() {
  local a=$1 b=$2 la lb na nb len mask
  [[ "$a" == */* ]] || a="$a/32"
  [[ "$b" == */* ]] || b="$b/32"
  la=${a#*/} lb=${b#*/}
  na=$(_cl_ip_to_int "${a%/*}") nb=$(_cl_ip_to_int "${b%/*}")
  len=$((la < lb ? la : lb))
  mask=$(((0xFFFFFFFF << (32 - len)) & 0xFFFFFFFF))
  [ "$len" -eq 0 ] && mask=0
  [ "$((na & mask))" -eq "$((nb & mask))" ]
}

# cl_root_routes: the destinations the root namespace routes, one prefix a line (all
# tables; the default route is not a range).
cl_root_routes() {
  local first second _rest
  while read -r first second _rest; do
    case "$first" in
      local | broadcast | unicast | unreachable | blackhole | prohibit | throw | multicast | anycast | nat)
        first=$second ;;
    esac
    case "$first" in
      default | "") ;;
      [0-9]*) printf '%s\n' "$first" ;;
    esac
  done < <(ip -4 route show table all 2>/dev/null)
}

# cl_check_ranges: the underlay and tenant ranges must be unknown to the root namespace
# and never the uplink's.
cl_check_ranges() {
  local range route
  for range in "$CL_UNDERLAY" "$CL_TENANT_A_NET.0/24" "$CL_TENANT_B_NET.0/24"; do
    if cl_overlap "$range" "$CL_FORBIDDEN"; then
      die "range $range overlaps the uplink's $CL_FORBIDDEN"
    fi
    while IFS= read -r route; do
      if cl_overlap "$range" "$route"; then
        die "the root namespace routes $route, which overlaps this cluster's $range" \
          "(pick another --dir or --tag)"
      fi
    done < <(cl_root_routes)
  done
}

# cl_root_traces: what of this cluster shows in the root namespace — links with the
# names its interfaces have, addresses and routes in its ranges. Must stay empty (other
# scripts may change the root namespace meanwhile, so only our traces are looked for).
cl_root_traces() {
  local dev address route range
  ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' |
    grep -E '^(h[0-9]+(v[0-9]+)?|z[0-9]+|br0)$' | sed 's/^/link /' || true
  while read -r _ dev _ address _; do
    for range in "$CL_UNDERLAY" "$CL_TENANT_A_NET.0/24" "$CL_TENANT_B_NET.0/24"; do
      if cl_overlap "$range" "$address"; then printf 'address %s %s\n' "$dev" "$address"; fi
    done
  done < <(ip -o -4 addr show 2>/dev/null)
  while IFS= read -r route; do
    for range in "$CL_UNDERLAY" "$CL_TENANT_A_NET.0/24" "$CL_TENANT_B_NET.0/24"; do
      if cl_overlap "$range" "$route"; then printf 'route %s\n' "$route"; fi
    done
  done < <(cl_root_routes)
}

# ---------------------------------------------------------------- namespaces and links

# _cl_record_ns NS: remember a namespace before making it, so any teardown finds it.
_cl_record_ns() {
  printf '%s\n' "$1" >>"$CL_DIR/netns.list"
}

_cl_add_ns() {
  _cl_record_ns "$1"
  ip netns add "$1"
  ip -n "$1" link set lo up
}

# cl_our_namespaces: the namespaces of this cluster that exist (recorded or carrying
# its prefix), VMs first, then hosts, members and the underlay.
cl_our_namespaces() {
  local ns
  local -A seen=()
  {
    [ -f "$CL_DIR/netns.list" ] && cat "$CL_DIR/netns.list"
    ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${CL_PREFIX}" || true
  } | while IFS= read -r ns; do
    if [ -z "$ns" ] || [ -n "${seen[$ns]:-}" ]; then continue; fi
    seen[$ns]=1
    if [ -e "/run/netns/$ns" ]; then printf '%s\n' "$ns"; fi
  done | awk -v p="$CL_PREFIX" '
    { r = substr($0, length(p) + 1)
      o = (r ~ /^h[0-9]+v[0-9]+$/) ? 0 : (r ~ /^h/) ? 1 : (r ~ /^z/) ? 2 : 3
      print o, $0 }' | sort -n | cut -d' ' -f2
}

# cl_make_underlay: the namespace holding the underlay bridge (the "switch").
cl_make_underlay() {
  _cl_add_ns "$CL_UNDERLAY_NS"
  ip -n "$CL_UNDERLAY_NS" link add br0 mtu "$CL_MTU" type bridge stp_state 0 forward_delay 0
  ip -n "$CL_UNDERLAY_NS" link set br0 up
}

# _cl_plug NS PORT ADDRESS: a veth from NS (eth0, ADDRESS/24) to the underlay bridge
# (its end named PORT).
_cl_plug() {
  local ns=$1 port=$2 address=$3
  ip -n "$ns" link add eth0 mtu "$CL_MTU" type veth peer name "$port" netns "$CL_UNDERLAY_NS" mtu "$CL_MTU"
  ip -n "$CL_UNDERLAY_NS" link set "$port" master br0 up
  ip -n "$ns" addr add "$address/24" dev eth0
  ip -n "$ns" link set eth0 up
}

cl_make_member() { # K
  local ns
  ns=$(cl_member_ns "$1")
  _cl_add_ns "$ns"
  _cl_plug "$ns" "z$1" "$(cl_member_address "$1")"
}

cl_make_host() { # K
  local ns
  ns=$(cl_host_ns "$1")
  _cl_add_ns "$ns"
  _cl_plug "$ns" "h$1" "$(cl_host_address "$1")"
}

# cl_make_vm NAME HOST_K ADDRESS[/LEN] GATEWAY MAC: a VM namespace (eth0 with ADDRESS,
# /24 unless LEN is given; default route via GATEWAY unless it is "-") joined by a veth
# to its host's namespace, where the veth's end is named NAME: the interface its port is
# bound to. An existing VM namespace is reused (a VM whose interface was deleted gets a
# new one, with its MAC).
cl_make_vm() {
  local name=$1 host=$2 address=$3 gateway=$4 mac=$5 ns hns
  [[ "$address" == */* ]] || address="$address/24"
  ns=$(cl_vm_ns "$name")
  hns=$(cl_host_ns "$host")
  if [ -e "/run/netns/$ns" ]; then
    ip -n "$ns" link del eth0 2>/dev/null || true
  else
    _cl_add_ns "$ns"
  fi
  ip -n "$hns" link add "$name" mtu "$CL_MTU" type veth peer name eth0 netns "$ns" \
    mtu "$CL_MTU" address "$mac"
  ip -n "$ns" addr add "$address" dev eth0
  ip -n "$ns" link set eth0 up
  [ "$gateway" = - ] || ip -n "$ns" route add default via "$gateway"
  ip -n "$hns" link set "$name" up
}

# cl_remove_vm NAME: delete a VM's namespace (its veth goes with it).
cl_remove_vm() {
  local ns
  ns=$(cl_vm_ns "$1")
  [ ! -e "/run/netns/$ns" ] || ip netns del "$ns"
}

# cl_link STATE NAME: cut (down) or restore (up) the underlay cable of host or member
# NAME (h<K> or z<K>) at the bridge, as pulling it out of the switch would.
cl_link() {
  ip -n "$CL_UNDERLAY_NS" link set "$2" "$1"
}

# cl_zk_reach STATE K: cut (down) or restore (up) host K's reach to every ZooKeeper
# member while its tunnels stay up, with blackhole routes to the members' addresses
# inside the host (what the host sends them is dropped: a partition of the control
# network only). Idempotent.
cl_zk_reach() {
  local state=$1 hns j address
  hns=$(cl_host_ns "$2")
  for ((j = 1; j <= CL_ZK_MEMBERS; j++)); do
    address="$(cl_member_address "$j")/32"
    if [ "$state" = down ]; then
      ip -n "$hns" route replace blackhole "$address"
    else
      ip -n "$hns" route del blackhole "$address" 2>/dev/null || true
    fi
  done
}

# cl_peer_reach STATE K N: cut (down) or restore (up) the tunnels between host K and the
# other hosts of an N-host cluster, both ways, with blackhole routes inside each host to
# the other's address; ZooKeeper stays reachable (a partition of the tunnels only).
cl_peer_reach() {
  local state=$1 k=$2 n=$3 j
  for ((j = 1; j <= n; j++)); do
    [ "$j" = "$k" ] && continue
    _cl_blackhole "$state" "$(cl_host_ns "$k")" "$(cl_host_address "$j")/32"
    _cl_blackhole "$state" "$(cl_host_ns "$j")" "$(cl_host_address "$k")/32"
  done
}

_cl_blackhole() { # STATE NS PREFIX
  if [ "$1" = down ]; then
    ip -n "$2" route replace blackhole "$3"
  else
    ip -n "$2" route del blackhole "$3" 2>/dev/null || true
  fi
}

# ---------------------------------------------------------------- processes

# cl_pid_of FILE PATTERN: the pid in FILE if that process runs (not a zombie) and its
# command line contains PATTERN (guards against a reused pid).
cl_pid_of() {
  local pid cmdline rest state
  [ -f "$1" ] || return 1
  pid=$(<"$1")
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [ -r "/proc/$pid/stat" ] || return 1
  read -r rest 2>/dev/null <"/proc/$pid/stat" || return 1
  rest=${rest##*) }
  state=${rest%% *}
  [ "$state" != Z ] && [ "$state" != X ] || return 1
  cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
  [[ "$cmdline" == *"$2"* ]] || return 1
  printf '%s\n' "$pid"
}

# _cl_spawn NS PIDFILE OUTPUT CMD...: CMD in namespace NS, in a session of its own, in
# the background; the launcher writes its pid then execs CMD (same pid). Descriptors
# above 2 are closed, so a caller reading our stdout through a pipe is not held open.
_cl_spawn() {
  local ns=$1 pidfile=$2 output=$3
  shift 3
  rm -f "$pidfile"
  # shellcheck disable=SC2016 # expanded by the inner bash
  ip netns exec "$ns" setsid nohup bash -c '
    pidfile=$1; shift
    for fd in /proc/$$/fd/*; do
      fd=${fd##*/}
      [ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-"
    done
    echo $$ >"$pidfile"
    exec "$@"' _ "$pidfile" "$@" </dev/null >>"$output" 2>&1 &
  disown "$!"
}

# _cl_await_pid PIDFILE PATTERN: until the launcher wrote its pid and exec'd (5 s).
_cl_await_pid() {
  local i pid
  for ((i = 0; i < 250; i++)); do
    cl_pid_of "$1" "$2" >/dev/null && return 0
    # Written, but gone already: it failed at once (a bad flag, a missing library).
    pid=$(cat "$1" 2>/dev/null || true)
    if [[ "$pid" =~ ^[0-9]+$ ]] && [ ! -e "/proc/$pid/cmdline" ]; then return 1; fi
    sleep 0.02
  done
  return 1
}

# cl_signal_and_wait SIGNAL GRACE_S PID...: signal the pids, wait up to GRACE_S for them
# to end; print those still there.
cl_signal_and_wait() {
  local sig=$1 grace=$2 pid deadline i
  shift 2
  local -a pending=("$@") left=()
  for pid in "${pending[@]}"; do kill "-$sig" "$pid" 2>/dev/null || true; done
  deadline=$(($(midge_now_ms) + grace * 1000))
  for ((i = 0; i < grace * 50 + 50; i++)); do
    left=()
    for pid in "${pending[@]}"; do
      [ -d "/proc/$pid" ] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null &&
        left+=("$pid")
    done
    pending=(${left[@]+"${left[@]}"})
    [ "${#pending[@]}" -eq 0 ] && return 0
    [ "$(midge_now_ms)" -lt "$deadline" ] || break
    sleep 0.02
  done
  printf '%s\n' "${pending[@]}"
}

# cl_stop_pids GRACE_S PID...: SIGTERM, GRACE_S, then SIGKILL.
cl_stop_pids() {
  local grace=$1
  shift
  [ "$#" -gt 0 ] || return 0
  local -a left=()
  mapfile -t left < <(cl_signal_and_wait TERM "$grace" "$@")
  [ "${#left[@]}" -eq 0 ] && return 0
  log "still running after ${grace}s: ${left[*]}; SIGKILL"
  mapfile -t left < <(cl_signal_and_wait KILL 5 "${left[@]}")
  [ "${#left[@]}" -eq 0 ] || log "warning: survived SIGKILL: ${left[*]}"
}

# cl_http NS PORT PATH: the body of a GET to 127.0.0.1:PORT inside namespace NS.
cl_http() {
  # shellcheck disable=SC2016 # expanded by the inner bash
  timeout 3 ip netns exec "$1" bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf "GET %s HTTP/1.0\r\n\r\n" "$2" >&3
    sed "1,/^\r$/d" <&3' _ "$2" "$3" 2>/dev/null
}

# ---------------------------------------------------------------- ZooKeeper members

# The same narrow classpath and JVM settings as ops/zk (see its comments).
_CL_ZK_JARS=(/usr/share/java/zookeeper.jar /usr/share/java/zookeeper-jute.jar
  /usr/share/java/slf4j-log4j12.jar /usr/share/java/log4j-1.2.jar)
_CL_ZK_MAIN=org.apache.zookeeper.server.quorum.QuorumPeerMain

_cl_zk_classpath() {
  local j
  for j in "${_CL_ZK_JARS[@]}"; do
    if [ ! -f "$j" ]; then
      echo "/usr/share/java/zookeeper.jar:/usr/share/java/zookeeper-jute.jar:/usr/share/zookeeper/*:/usr/share/java/*"
      return
    fi
  done
  (IFS=:; echo "${_CL_ZK_JARS[*]}")
}

# _cl_zk_cds_opts: use ops/zk's cached class-data archive for an ensemble member when
# there is one (same key as ops/zk's cds_archive; read only: ops/zk makes it). A
# mismatched archive only costs a warning in zk.out.
_cl_zk_cds_opts() {
  local java jvm key archive
  [ "${MIDGE_ZK_CDS:-1}" != 0 ] || return 0
  java=$(realpath "$(command -v java)")
  jvm=$(find "${java%/bin/java}/lib" -maxdepth 2 -name libjvm.so -print -quit 2>/dev/null) || true
  # shellcheck disable=SC2046 # word splitting of the jar list is intended
  key=$({
    echo "$_CL_ZK_MAIN"
    _cl_zk_classpath
    stat -Lc '%n %s %Y' "$java" ${jvm:+"$jvm"} "${java%/bin/java}/lib/modules" \
      $(_cl_zk_classpath | tr ':' ' ') 2>/dev/null
  } | md5sum | cut -c1-16)
  archive="${MIDGE_ZK_CDS_DIR:-/var/tmp/midge-zk-cds}/zk-$key.jsa"
  [ -s "$archive" ] && printf '%s\n' -XX:+IgnoreUnrecognizedVMOptions "-XX:SharedArchiveFile=$archive"
  return 0
}

# cl_zk_write_config K: member K's zoo.cfg (as ops/zk writes one, but on its underlay
# address and fixed ports: each member has a namespace to itself).
cl_zk_write_config() {
  local k=$1 d j
  d=$(cl_member_dir "$k")
  mkdir -p "$d/data"
  echo "$k" >"$d/data/myid"
  {
    echo "# written by ops/cluster"
    echo "tickTime=${CL_ZK_TICK_MS:-500}"
    echo "initLimit=10"
    echo "syncLimit=5"
    echo "dataDir=$d/data"
    echo "clientPort=$CL_ZK_CLIENT_PORT"
    echo "clientPortAddress=$(cl_member_address "$k")"
    echo "admin.enableServer=false"
    echo "4lw.commands.whitelist=*"
    echo "forceSync=no"
    echo "quorumListenOnAllIPs=false"
    for ((j = 1; j <= CL_ZK_MEMBERS; j++)); do
      echo "server.$j=$(cl_member_address "$j"):$CL_ZK_PEER_PORT:$CL_ZK_ELECTION_PORT"
    done
  } >"$d/zoo.cfg"
  cat >"$d/log4j.properties" <<EOF
log4j.rootLogger=${MIDGE_ZK_LOG_LEVEL:-WARN}, F
log4j.appender.F=org.apache.log4j.FileAppender
log4j.appender.F.File=$d/zookeeper.log
log4j.appender.F.Append=true
log4j.appender.F.layout=org.apache.log4j.PatternLayout
log4j.appender.F.layout.ConversionPattern=%d{ISO8601} [myid:$k] %-5p [%t:%C{1}@%L] - %m%n
EOF
}

cl_zk_pid() { cl_pid_of "$(cl_member_dir "$1")/pid" "$(cl_member_dir "$1")/zoo.cfg"; }

# cl_zk_launch K: start member K's JVM in its namespace.
cl_zk_launch() {
  local k=$1 d
  local -a cds=()
  d=$(cl_member_dir "$k")
  mapfile -t cds < <(_cl_zk_cds_opts)
  echo "=== $(date '+%F %T') ops/cluster: launching member $k" >>"$d/zk.out"
  _cl_spawn "$(cl_member_ns "$k")" "$d/pid" "$d/zk.out" \
    "$(command -v java)" -Xmx256m -XX:-UsePerfData -XX:+UseSerialGC \
    -Djava.net.preferIPv4Stack=true \
    -Dzookeeper.jmx.log4j.disable=true \
    -Dlog4j.configuration="file:$d/log4j.properties" \
    -Dzookeeper.log.dir="$d" \
    ${cds[@]+"${cds[@]}"} \
    -cp "$(_cl_zk_classpath)" "$_CL_ZK_MAIN" "$d/zoo.cfg"
  _cl_await_pid "$d/pid" "$d/zoo.cfg" || die "member $k: java did not start (see $d/zk.out)"
}

# cl_zk_four K WORD: a four-letter word to member K, from inside its namespace.
cl_zk_four() {
  # shellcheck disable=SC2016 # expanded by the inner bash
  timeout 2 ip netns exec "$(cl_member_ns "$1")" bash -c '
    exec 3<>"/dev/tcp/$1/$2" || exit 1
    printf "%s" "$3" >&3
    cat <&3' _ "$(cl_member_address "$1")" "$CL_ZK_CLIENT_PORT" "$2" 2>/dev/null
}

cl_zk_mode() { # K
  local out mode
  cl_zk_pid "$1" >/dev/null || { echo down; return; }
  out=$(cl_zk_four "$1" srvr) || true
  mode=$(sed -n 's/^Mode: *//p' <<<"$out")
  echo "${mode:-notserving}"
}

# cl_zk_wait TIMEOUT_S K...: until every member answers srvr with a Mode line (a
# leader was elected and it joined); fails early when one exits.
cl_zk_wait() {
  local timeout_s=$1 k i deadline out
  shift
  local -a pending=("$@") left=()
  deadline=$(($(midge_now_ms) + timeout_s * 1000))
  for ((i = 0; i < timeout_s * 10 + 10; i++)); do
    left=()
    for k in "${pending[@]}"; do
      cl_zk_pid "$k" >/dev/null || { log "member $k exited during startup"; return 1; }
      out=$(cl_zk_four "$k" srvr) || true
      [[ "$out" == *$'\nMode: '* ]] || left+=("$k")
    done
    pending=(${left[@]+"${left[@]}"})
    [ "${#pending[@]}" -eq 0 ] && return 0
    [ "$(midge_now_ms)" -lt "$deadline" ] || break
    sleep 0.1
  done
  log "member(s) ${pending[*]} not serving after ${timeout_s}s"
  return 1
}

# ---------------------------------------------------------------- agents

# A host's agent runs under midge-supervisor, as in production: when the agent dies,
# the supervisor closes its ZooKeeper session at once. `pid` holds the supervisor's pid,
# `agent.pid` (written by the supervisor) the agent's.
cl_agent_pid() { cl_pid_of "$(cl_host_dir "$1")/agent.pid" "--host-name $(cl_host_name "$1") "; }
cl_supervisor_pid() { cl_pid_of "$(cl_host_dir "$1")/pid" "midge-supervisor"; }

# cl_agent_await K: until host K's supervisor runs and has started the agent (5 s each).
cl_agent_await() {
  local d
  d=$(cl_host_dir "$1")
  _cl_await_pid "$d/pid" "midge-supervisor" &&
    _cl_await_pid "$d/agent.pid" "--host-name $(cl_host_name "$1") "
}

# cl_agent_launch K: host K's midge-agent in its namespace (needs CL_BIN and
# CL_SESSION_TIMEOUT): tunnel on the host's underlay address, control API on 127.0.0.1
# inside the namespace, ZooKeeper over the underlay.
cl_agent_launch() {
  local k=$1 d
  d=$(cl_host_dir "$k")
  mkdir -p "$d"
  echo "=== $(date '+%F %T') ops/cluster: launching the agent" >>"$d/agent.log"
  _cl_agent_spawn "$k"
  cl_agent_await "$k" || die "agent of $(cl_host_name "$k") did not start (see $d/agent.log)"
}

# _cl_agent_spawn K: host K's agent spawned in the background, not awaited (so many can
# be launched at once; cl_agent_launch awaits its pid). On a secured cluster (an
# identities directory beside the hosts) it runs with its own host's credential file.
_cl_agent_spawn() {
  local k=$1 d credentials=()
  d=$(cl_host_dir "$k")
  rm -f "$d/agent.pid"
  local file="$CL_DIR/identities/host-$(cl_host_name "$k").credentials"
  [ ! -f "$file" ] || credentials=(--credentials "$file")
  _cl_spawn "$(cl_host_ns "$k")" "$d/pid" "$d/agent.log" \
    "$CL_BIN/midge-supervisor" --pid-file "$d/agent.pid" -- \
    "$CL_BIN/midge-agent" "${credentials[@]}" --host-name "$(cl_host_name "$k")" \
    --zk "$(cl_zk_connect)" --session-timeout "$CL_SESSION_TIMEOUT" \
    --host-id-file "$d/host.id" --tunnel-zone underlay \
    --tunnel-address "$(cl_host_address "$k")" --tunnel-port "$CL_TUNNEL_PORT" \
    --control-address "127.0.0.1:$CL_CONTROL_PORT" \
    --flow-state-directory "$d/flow-state" --log-level "${MIDGE_CLUSTER_LOG_LEVEL:-info}"
}

# cl_agent_health K: the agent's /health body (empty when it does not answer).
cl_agent_health() {
  cl_http "$(cl_host_ns "$1")" "$CL_CONTROL_PORT" /health || true
}

# cl_agent_ready K [PORTS]: ready, and (when given) at least PORTS ports attached.
cl_agent_ready() {
  local body
  body=$(cl_agent_health "$1")
  [[ "$body" == *'"ready" : true'* ]] || return 1
  [ -z "${2:-}" ] && return 0
  [[ "$body" =~ \"attachedPorts\"\ :\ ([0-9]+) ]] || return 1
  [ "${BASH_REMATCH[1]}" -ge "$2" ]
}

# cl_agent_wait_ready K TIMEOUT_S [PORTS]: until cl_agent_ready; fails early when the
# agent exits.
cl_agent_wait_ready() {
  local k=$1 timeout_s=$2 ports=${3:-} i deadline
  deadline=$(($(midge_now_ms) + timeout_s * 1000))
  for ((i = 0; i < timeout_s * 10 + 10; i++)); do
    cl_agent_pid "$k" >/dev/null || { log "agent of $(cl_host_name "$k") exited"; return 1; }
    cl_agent_ready "$k" "$ports" && return 0
    [ "$(midge_now_ms)" -lt "$deadline" ] || break
    sleep 0.1
  done
  log "agent of $(cl_host_name "$k") not ready${ports:+ with $ports ports} after ${timeout_s}s"
  return 1
}

# ---------------------------------------------------------------- teardown

# cl_teardown: stop the agents (gracefully, while ZooKeeper still runs), then the
# members, then anything else still running in the cluster's namespaces; delete the
# namespaces (their veths go with them); remove the files (unless
# MIDGE_CLUSTER_KEEP_FILES=1). Idempotent; never fails.
cl_teardown() {
  local f ns pid
  local -a pids=() left=()
  if [ -d "$CL_DIR/hosts" ]; then
    # SIGTERM to a supervisor stops its agent gracefully (it passes the signal on).
    for f in "$CL_DIR"/hosts/*/pid; do
      [ -f "$f" ] || continue
      pid=$(cl_pid_of "$f" "midge-supervisor") && pids+=("$pid")
    done
  fi
  cl_stop_pids 5 ${pids[@]+"${pids[@]}"}
  pids=()
  if [ -d "$CL_DIR/zk" ]; then
    for f in "$CL_DIR"/zk/m*/pid; do
      [ -f "$f" ] || continue
      pid=$(cl_pid_of "$f" "$(dirname "$f")/zoo.cfg") && pids+=("$pid")
    done
  fi
  cl_stop_pids 5 ${pids[@]+"${pids[@]}"}
  # Whatever else runs in our namespaces (a command started with `ops/cluster exec`).
  mapfile -t left < <(cl_our_namespaces)
  pids=()
  for ns in ${left[@]+"${left[@]}"}; do
    while IFS= read -r pid; do
      [[ "$pid" =~ ^[0-9]+$ ]] && pids+=("$pid")
    done < <(ip netns pids "$ns" 2>/dev/null || true)
  done
  cl_stop_pids 2 ${pids[@]+"${pids[@]}"}
  for ns in ${left[@]+"${left[@]}"}; do
    ip netns del "$ns" 2>/dev/null || log "warning: could not delete namespace $ns"
  done
  mapfile -t left < <(cl_our_namespaces)
  [ "${#left[@]}" -eq 0 ] || log "warning: namespaces left: ${left[*]}"
  if [ "${MIDGE_CLUSTER_KEEP_FILES:-0}" = 1 ]; then
    log "files kept in $CL_DIR (MIDGE_CLUSTER_KEEP_FILES=1)"
    rm -f "$CL_DIR/netns.list"
    return 0
  fi
  rm -rf "$CL_DIR/zk" "$CL_DIR/hosts" "$CL_DIR/cluster.env" "$CL_DIR/topology.yaml" \
    "$CL_DIR/netns.list" "$CL_DIR/apply.out" "$CL_DIR/tag"
  if [ -f "$CL_DIR/.made-by-ops-cluster" ]; then
    rm -f "$CL_DIR/.made-by-ops-cluster"
    rmdir "$CL_DIR" 2>/dev/null || log "warning: $CL_DIR is not empty; left in place"
  fi
  return 0
}
