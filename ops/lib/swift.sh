# shellcheck shell=bash
# ops/lib/swift.sh — shared by ops/test and ops/demo: the Debian packages Midge
# needs, and the Swift toolchain on PATH.

# The Debian packages every Midge build, test and demo needs.
MIDGE_PACKAGES=(zookeeper libzookeeper-mt-dev liblz4-dev pkg-config iproute2 iputils-ping procps)

# midge_prepare: install what is missing and make sure `swift` runs.
midge_prepare() {
  local pkgs=("${MIDGE_PACKAGES[@]}")
  command -v java >/dev/null 2>&1 || pkgs+=(default-jre-headless)
  midge_need_packages "${pkgs[@]}"
  if ! command -v swift >/dev/null 2>&1; then
    [ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
  fi
  command -v swift >/dev/null 2>&1 ||
    die "no Swift toolchain: install Swift 6.3 (expected at /opt/swift/usr/bin/swift)"
}

# midge_stop_servers DIR: stop every cluster (ops/cluster) and ZooKeeper that tests or
# demos left under DIR.
midge_stop_servers() {
  local root=$1 d
  [ -d "$root" ] || return 0
  while IFS= read -r d; do
    "$MIDGE_ROOT/ops/cluster" down --dir "$(dirname "$d")" >/dev/null 2>&1 || true
  done < <(find "$root" -maxdepth 4 -name cluster.env -type f 2>/dev/null)
  while IFS= read -r d; do
    "$MIDGE_ROOT/ops/zk" stop --dir "$(dirname "$d")" >/dev/null 2>&1 || true
  done < <(find "$root" -maxdepth 4 -name connect -type f 2>/dev/null)
}
