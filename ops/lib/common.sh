# shellcheck shell=bash
# ops/lib/common.sh — helpers shared by Midge's ops scripts. Source it:
#
#   . "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
#
# Provides:
#   log MSG...               timestamped line on stderr (tag: $MIDGE_LOG_TAG)
#   die MSG...               log "error: MSG" and exit 1
#   midge_need_packages PKG...
#                            apt-get install the Debian packages that are not
#                            installed yet (apt-get update once per process,
#                            noninteractive, services kept from starting via
#                            /usr/sbin/policy-rc.d, removed afterwards)
#   midge_free_port [N]      print N (default 1) distinct free TCP ports on
#                            127.0.0.1, one per line
#   midge_port_in_use PORT   true if some TCP socket uses PORT (any state)
#   midge_port_listening PORT
#                            true if some TCP socket listens on PORT
#   midge_now_ms             milliseconds since the epoch
#
# Only bash, coreutils, findutils and iproute2 (ss) are needed (python3 is
# deliberately not used: behind a pyenv shim each call costs ~0.2 s).

[ -n "${_MIDGE_COMMON_SH:-}" ] && return 0
_MIDGE_COMMON_SH=1

# A script started by a multi-threaded program (the Swift test harness, via
# Foundation.Process from a dispatch thread) inherits that thread's signal mask:
# SIGTERM, SIGALRM and most others blocked. Then `timeout` never fires, `kill`
# does nothing and a probe can hang forever (this hung CI). So every script
# that sources this file re-executes itself once with an empty mask and default
# dispositions (perl is in Debian's essential perl-base).
if [ -n "${_MIDGE_SIGNALS_RESET:-}" ]; then
  unset _MIDGE_SIGNALS_RESET
else
  _midge_blocked=$(sed -n 's/^SigBlk:[[:space:]]*//p' "/proc/$$/status" 2>/dev/null || true)
  if [ -n "$_midge_blocked" ] && [ "$_midge_blocked" != 0000000000000000 ] &&
    [ -x /usr/bin/perl ] && [ -f "$0" ]; then
    export _MIDGE_SIGNALS_RESET=1
    # shellcheck disable=SC2016 # perl code
    exec /usr/bin/perl -MPOSIX -e '
      sigprocmask(SIG_SETMASK, POSIX::SigSet->new) or die "sigprocmask: $!";
      $SIG{$_} = "DEFAULT" for qw(HUP INT QUIT PIPE ALRM TERM CHLD USR1 USR2);
      exec { $ARGV[0] } @ARGV or die "exec: $!";' /bin/bash "$0" "$@"
  fi
  unset _midge_blocked
fi

: "${MIDGE_LOG_TAG:=midge}"

log() {
  printf '%s %s: %s\n' "$(date +%H:%M:%S.%3N)" "$MIDGE_LOG_TAG" "$*" >&2
}

die() {
  log "error: $*"
  exit 1
}

midge_now_ms() {
  local us
  if [ -n "${EPOCHREALTIME:-}" ]; then # bash >= 5: no fork
    us=${EPOCHREALTIME/[.,]/}
    printf '%s\n' "$((10#$us / 1000))"
  else
    us=$(date +%s%N)
    printf '%s\n' "$((us / 1000000))"
  fi
}

# ---------------------------------------------------------------- packages

_MIDGE_APT_UPDATED=0

# _midge_as_root CMD...: run CMD as root (directly, or via passwordless sudo).
_midge_as_root() {
  if [ "$(id -u)" = 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo -n "$@"
  else
    log "error: need root (or passwordless sudo) to run: $*"
    return 1
  fi
}

_midge_pkg_installed() {
  local status
  status=$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) || return 1
  [ "$status" = "install ok installed" ]
}

midge_need_packages() {
  local missing=() pkg rc=0 created_policy=0
  for pkg in "$@"; do
    _midge_pkg_installed "$pkg" || missing+=("$pkg")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  command -v apt-get >/dev/null 2>&1 ||
    die "missing packages (${missing[*]}) and no apt-get on this machine; install them by hand"

  log "installing Debian packages: ${missing[*]}"
  # Keep packages (e.g. zookeeper's service) from being started by apt:
  # invoke-rc.d consults /usr/sbin/policy-rc.d, and exit 101 means "denied".
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    if printf '#!/bin/sh\nexit 101\n' | _midge_as_root tee /usr/sbin/policy-rc.d >/dev/null &&
      _midge_as_root chmod 0755 /usr/sbin/policy-rc.d; then
      created_policy=1
    else
      die "could not write /usr/sbin/policy-rc.d (need root to install ${missing[*]})"
    fi
  fi

  if [ "$_MIDGE_APT_UPDATED" = 0 ]; then
    if _midge_as_root env DEBIAN_FRONTEND=noninteractive \
      apt-get -q -o DPkg::Lock::Timeout=300 update >&2; then
      _MIDGE_APT_UPDATED=1
    else
      rc=1
      log "error: apt-get update failed"
    fi
  fi
  if [ "$rc" = 0 ]; then
    _midge_as_root env DEBIAN_FRONTEND=noninteractive \
      apt-get -q -y -o DPkg::Lock::Timeout=300 --no-install-recommends \
      install "${missing[@]}" >&2 || rc=1
  fi

  [ "$created_policy" = 1 ] && _midge_as_root rm -f /usr/sbin/policy-rc.d
  [ "$rc" = 0 ] || die "apt-get install of ${missing[*]} failed (see the apt output above)"

  for pkg in "${missing[@]}"; do
    _midge_pkg_installed "$pkg" || die "package $pkg is still not installed after apt-get install"
  done
  log "installed: ${missing[*]}"
}

# ---------------------------------------------------------------- ports

# midge_port_in_use PORT: any TCP socket (listening, connected, TIME_WAIT...)
# with local port PORT.
midge_port_in_use() {
  local out
  out=$(ss -Htan "sport = :$1" 2>/dev/null) || return 0 # ss failed: assume busy
  [ -n "$out" ]
}

# midge_port_listening PORT: some TCP socket listens on PORT. (A port with
# only TIME_WAIT leftovers can be bound again by servers using SO_REUSEADDR,
# which Java's server sockets do.)
midge_port_listening() {
  local out
  out=$(ss -Hltn "sport = :$1" 2>/dev/null) || return 0
  [ -n "$out" ]
}

# midge_free_port [N]: N distinct free ports on 127.0.0.1.
#
# Ports are drawn at random from below the kernel's ephemeral range (so an
# outgoing connection cannot grab one between our choice and the server's
# bind), checked with ss (no TCP socket of any state on it), and reserved by
# an atomic mkdir under $MIDGE_PORT_RESERVATIONS so that scripts running at the
# same time never hand out the same port. Reservations expire after 10 min.
# Override the range with MIDGE_PORT_RANGE="LOW HIGH".
midge_free_port() {
  local n=${1:-1} lo hi eph_lo eph_hi resdir port got=0 tries=0 addr
  local -a ports=()
  local -A used=()
  if [ -n "${MIDGE_PORT_RANGE:-}" ]; then
    read -r lo hi <<<"$MIDGE_PORT_RANGE"
  else
    eph_lo=32768 eph_hi=60999
    if [ -r /proc/sys/net/ipv4/ip_local_port_range ]; then
      read -r eph_lo eph_hi </proc/sys/net/ipv4/ip_local_port_range
    fi
    if [ "$eph_lo" -gt 12000 ]; then
      lo=10000 hi=$((eph_lo - 1))
    else # odd ephemeral range: take the space above it, or fall back
      lo=$((eph_hi + 1)) hi=65535
      [ "$((hi - lo))" -ge 1000 ] || { lo=20000 hi=30000; }
    fi
  fi
  if ! [[ "$lo" =~ ^[0-9]+$ && "$hi" =~ ^[0-9]+$ ]] ||
    [ "$lo" -lt 1024 ] || [ "$hi" -gt 65535 ] || [ "$lo" -ge "$hi" ]; then
    die "bad port range: '$lo-$hi' (MIDGE_PORT_RANGE=\"LOW HIGH\", 1024..65535)"
  fi

  resdir=${MIDGE_PORT_RESERVATIONS:-${TMPDIR:-/tmp}/midge-port-reservations}
  if [ ! -d "$resdir" ]; then
    mkdir -p "$resdir" 2>/dev/null || true
    chmod 1777 "$resdir" 2>/dev/null || true
  fi
  if [ ! -d "$resdir" ] || [ ! -w "$resdir" ]; then
    die "cannot use $resdir for port reservations"
  fi
  find "$resdir" -mindepth 1 -maxdepth 1 -mmin +10 -exec rmdir {} + 2>/dev/null || true

  # local ports of all TCP sockets (any state), from one ss call
  while read -r _ _ _ addr _; do
    used[${addr##*:}]=1
  done < <(ss -Htan 2>/dev/null)

  while [ "$got" -lt "$n" ]; do
    tries=$((tries + 1))
    [ "$tries" -le 2000 ] || die "could not find $n free ports in $lo-$hi"
    port=$((lo + (RANDOM * 32768 + RANDOM) % (hi - lo + 1)))
    [ -n "${used[$port]:-}" ] && continue
    mkdir "$resdir/$port" 2>/dev/null || continue # reserved by someone else
    ports+=("$port")
    got=$((got + 1))
  done
  printf '%s\n' "${ports[@]}"
}
