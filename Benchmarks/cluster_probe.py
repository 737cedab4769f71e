#!/usr/bin/env python3
"""Benchmarks/cluster_probe.py — the measuring half of Benchmarks/cluster.sh.

Runs as root next to an `ops/cluster` cluster and talks to it from inside its network
namespaces (setns per socket; the root namespace gets nothing):

  ready  --logs L1,L2,... --seconds S
      Follows the agents' logs (from their current end) and prints, per log, the epoch
      time in ms at which its "agent ready" line appeared (polled every 2 ms), as
      `READY index epoch_ms startup_ms ports`.
  fanout --zk-ns NS --zk HOST:PORT --path P --a FILE --b FILE --agents NS1,NS2,...
         --vms SRC_NS:DST_IP,... --writes N
      N rounds: each VM pair pings once (a raw ICMP echo from SRC_NS), so each agent
      installs flows through the chain; every agent is checked to hold flows; then the
      rule's znode is overwritten (alternately with the bytes in A and B, a minimal
      ZooKeeper client) and every agent's /metrics is polled until
      midge_datapath_flows is 0. Prints per round the time from just before the write to
      the last agent seen with its flows gone (upper bound: the answer's arrival) and
      the last agent's previous poll (lower bound), then p50/p99/max.
  getdata --zk-ns NS --zk HOST:PORT --path P --out FILE
      The znode's bytes into FILE.
  changes --zk-ns NS --zk HOST:PORT --path P --a FILE --b FILE --writes N --gap-ms G
      N writes alternating A and B, G ms apart (no traffic, no polling).

Only the standard library; bounded everywhere (timeouts on every wait).
"""
import ctypes
import os
import selectors
import socket
import struct
import sys
import time

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL("libc.so.6", use_errno=True)
_home = os.open("/proc/self/ns/net", os.O_RDONLY)
_ns_fds = {}


def _ns_fd(ns):
    if ns not in _ns_fds:
        _ns_fds[ns] = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    return _ns_fds[ns]


def socket_in(ns, family=socket.AF_INET, kind=socket.SOCK_STREAM, proto=0):
    """A socket created inside namespace `ns` (it stays there; we go home at once)."""
    if _libc.setns(_ns_fd(ns), CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), f"setns {ns}")
    try:
        return socket.socket(family, kind, proto)
    finally:
        if _libc.setns(_home, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns home")


def now_ms():
    return time.time() * 1000.0


def args_dict(argv):
    out = {}
    i = 0
    while i < len(argv):
        key = argv[i]
        if not key.startswith("--") or i + 1 >= len(argv):
            sys.exit(f"bad argument {key}")
        out[key[2:]] = argv[i + 1]
        i += 2
    return out


# ------------------------------------------------------------------ a minimal ZooKeeper client


class ZK:
    """Connect, getData, setData, ping, close: enough to overwrite one znode."""

    def __init__(self, ns, hostport, timeout_ms=10000):
        host, port = hostport.rsplit(":", 1)
        self.sock = socket_in(ns)
        self.sock.settimeout(5)
        self.sock.connect((host, int(port)))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        req = struct.pack(">iqiqi", 0, 0, timeout_ms, 0, 16) + b"\0" * 16 + b"\0"
        self._send(req)
        self._recv_frame()
        self.xid = 0

    def _send(self, payload):
        self.sock.sendall(struct.pack(">i", len(payload)) + payload)

    def _recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise OSError("ZooKeeper closed the connection")
            buf += chunk
        return buf

    def _recv_frame(self):
        (length,) = struct.unpack(">i", self._recv_exact(4))
        return self._recv_exact(length)

    def _call(self, kind, body, xid=None):
        if xid is None:
            self.xid += 1
            xid = self.xid
        self._send(struct.pack(">ii", xid, kind) + body)
        while True:
            frame = self._recv_frame()
            rxid, _zxid, err = struct.unpack(">iqi", frame[:16])
            if rxid == -1:  # a watch event: none are set, but skip one if it comes
                continue
            if rxid != xid:
                raise OSError(f"unexpected xid {rxid} (wanted {xid})")
            if err != 0:
                raise OSError(f"ZooKeeper error {err}")
            return frame[16:]

    @staticmethod
    def _path(path):
        raw = path.encode()
        return struct.pack(">i", len(raw)) + raw

    def get(self, path):
        body = self._call(4, self._path(path) + b"\0")
        (length,) = struct.unpack(">i", body[:4])
        return body[4 : 4 + length]

    def set(self, path, data):
        self._call(5, self._path(path) + struct.pack(">i", len(data)) + data + struct.pack(">i", -1))

    def ping(self):
        self._call(11, b"", xid=-2)

    def close(self):
        try:
            self._call(-11, b"")
        except OSError:
            pass
        self.sock.close()


# ------------------------------------------------------------------ HTTP to the agents


def parse_metric(text, name):
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            try:
                return float(line.rsplit(" ", 1)[1])
            except ValueError:
                return None
    return None


class Poller:
    """Concurrent GET /metrics to every agent (each in its namespace), one selector."""

    def __init__(self, namespaces):
        self.namespaces = namespaces
        self.sel = selectors.DefaultSelector()

    def _start(self, index):
        s = socket_in(self.namespaces[index])
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", 7780))
        except BlockingIOError:
            pass
        state = {"index": index, "sock": s, "buf": b"", "sent": False, "t_send": now_ms()}
        self.sel.register(s, selectors.EVENT_WRITE, state)

    def run(self, indexes, done, timeout_s, gap_ms=0.0):
        """Polls each of `indexes` until done(index, body) is true or timeout_s passes.
        Returns {index: (lower_ms, upper_ms)}: the send time of the last poll that was
        not done, and the arrival of the first answer that was (epoch ms)."""
        result = {}
        last_not_done = {i: now_ms() for i in indexes}
        for i in indexes:
            self._start(i)
        deadline = time.monotonic() + timeout_s
        pending = set(indexes)
        while pending and time.monotonic() < deadline:
            for key, _ in self.sel.select(timeout=0.05):
                st = key.data
                s = st["sock"]
                try:
                    if not st["sent"]:
                        s.send(b"GET /metrics HTTP/1.0\r\n\r\n")
                        st["sent"] = True
                        self.sel.modify(s, selectors.EVENT_READ, st)
                        continue
                    chunk = s.recv(65536)
                except OSError:
                    chunk = b""
                    st["buf"] = b""
                if chunk:
                    st["buf"] += chunk
                    continue
                self.sel.unregister(s)
                s.close()
                i = st["index"]
                body = st["buf"].decode(errors="replace")
                if body and done(i, body):
                    result[i] = (last_not_done[i], now_ms())
                    pending.discard(i)
                else:
                    last_not_done[i] = st["t_send"]
                    if gap_ms:
                        time.sleep(gap_ms / 1000.0)
                    self._start(i)
        for key in list(self.sel.get_map().values()):
            self.sel.unregister(key.fileobj)
            key.fileobj.close()
        return result


# ------------------------------------------------------------------ ICMP from the VMs


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f">{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


class Pinger:
    def __init__(self, pairs):
        self.pairs = []
        for n, pair in enumerate(pairs):
            ns, dst = pair.split(":")
            s = socket_in(ns, socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
            s.setblocking(False)
            self.pairs.append((s, dst, 0x4D00 + n))
        self.seq = 0

    def round(self, timeout_s=2.0):
        """One echo from every pair; returns how many got their reply."""
        self.seq = (self.seq + 1) & 0xFFFF
        sel = selectors.DefaultSelector()
        waiting = {}
        for s, dst, ident in self.pairs:
            while True:  # drain what is left of earlier rounds
                try:
                    s.recv(2048)
                except BlockingIOError:
                    break
            header = struct.pack(">BBHHH", 8, 0, 0, ident, self.seq)
            payload = b"midge-bench-probe"
            packet = struct.pack(">BBHHH", 8, 0, checksum(header + payload), ident, self.seq) + payload
            s.sendto(packet, (dst, 0))
            waiting[ident] = s
            sel.register(s, selectors.EVENT_READ, ident)
        got = 0
        deadline = time.monotonic() + timeout_s
        while waiting and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=0.05):
                ident = key.data
                try:
                    data = key.fileobj.recv(2048)
                except BlockingIOError:
                    continue
                ihl = (data[0] & 0x0F) * 4
                kind, _, _, rid, rseq = struct.unpack(">BBHHH", data[ihl : ihl + 8])
                if kind == 0 and rid == ident and rseq == self.seq and ident in waiting:
                    sel.unregister(key.fileobj)
                    del waiting[ident]
                    got += 1
        sel.close()
        return got


# ------------------------------------------------------------------ commands


def pct(values, q):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(round(q * (len(v) - 1))))]


def cmd_ready(a):
    logs = a["logs"].split(",")
    seconds = float(a.get("seconds", "60"))
    offsets = [os.path.getsize(p) if os.path.exists(p) else 0 for p in logs]
    print("WATCHING", flush=True)
    pending = set(range(len(logs)))
    deadline = time.monotonic() + seconds
    while pending and time.monotonic() < deadline:
        for i in list(pending):
            try:
                size = os.path.getsize(logs[i])
            except OSError:
                continue
            if size <= offsets[i]:
                continue
            t = now_ms()
            with open(logs[i], "rb") as f:
                f.seek(offsets[i])
                chunk = f.read(size - offsets[i])
            for line in chunk.decode(errors="replace").splitlines():
                if "agent ready" in line:
                    fields = dict(
                        part.split("=", 1) for part in line.split() if "=" in part and part.startswith("agent.")
                    )
                    print(
                        f"READY {i + 1} {t:.1f} {fields.get('agent.startup_ms', '?')} {fields.get('agent.ports', '?')}",
                        flush=True,
                    )
                    pending.discard(i)
                    break
            offsets[i] = size
        time.sleep(0.002)
    for i in sorted(pending):
        print(f"NOTREADY {i + 1}", flush=True)


def cmd_getdata(a):
    zk = ZK(a["zk-ns"], a["zk"])
    with open(a["out"], "wb") as f:
        f.write(zk.get(a["path"]))
    zk.close()


def cmd_changes(a):
    zk = ZK(a["zk-ns"], a["zk"])
    blobs = [open(a["a"], "rb").read(), open(a["b"], "rb").read()]
    gap = float(a.get("gap-ms", "20")) / 1000.0
    n = int(a["writes"])
    for k in range(n):
        zk.set(a["path"], blobs[(k + 1) % 2])
        time.sleep(gap)
    # leave the rule as it was (A) if an odd number was written
    if n % 2:
        zk.set(a["path"], blobs[0])
    zk.close()


def cmd_fanout(a):
    agents = a["agents"].split(",")
    writes = int(a["writes"])
    blobs = [open(a["a"], "rb").read(), open(a["b"], "rb").read()]
    pinger = Pinger(a["vms"].split(","))
    poller = Poller(agents)
    zk = [ZK(a["zk-ns"], a["zk"])]

    def zk_ready():
        # A round may take longer than the session (a slow one is skipped): ping, and
        # connect again when the server has let the session go.
        try:
            zk[0].ping()
        except OSError:
            zk[0] = ZK(a["zk-ns"], a["zk"])
        return zk[0]

    everyone = list(range(len(agents)))
    flows = {}

    def has_flows(i, body):
        flows[i] = parse_metric(body, "midge_datapath_flows")
        return flows[i] is not None and flows[i] > 0

    def flows_gone(i, body):
        value = parse_metric(body, "midge_datapath_flows")
        return value is not None and value == 0

    uppers, lowers, per_agent, polls_rtt = [], [], [], []
    skipped = {"no_reply": 0, "no_flows": 0, "not_removed": 0}
    state = 0
    stop_at = time.monotonic() + float(a.get("max-seconds", "300"))
    for r in range(writes):
        if time.monotonic() > stop_at:
            skipped["out_of_time"] = writes - r
            break
        got = pinger.round()
        if got < len(pinger.pairs):
            # one more try for the stragglers' flows (ARP on the first round)
            got = pinger.round()
        if got < len(pinger.pairs):
            skipped["no_reply"] += 1
        t = now_ms()
        ready = poller.run(everyone, has_flows, 2.0)
        polls_rtt.append(now_ms() - t)
        if len(ready) < len(agents):
            skipped["no_flows"] += 1
            continue
        writer = zk_ready()
        state ^= 1
        t0 = now_ms()
        writer.set(a["path"], blobs[state])
        gone = poller.run(everyone, flows_gone, 3.0)
        if len(gone) < len(agents):
            skipped["not_removed"] += 1
            continue
        lo = max(v[0] for v in gone.values()) - t0
        hi = max(v[1] for v in gone.values()) - t0
        lowers.append(max(0.0, lo))
        uppers.append(hi)
        per_agent.extend(v[1] - t0 for v in gone.values())
        print(f"ROUND {r + 1} upper_ms {hi:.2f} lower_ms {max(0.0, lo):.2f}", flush=True)
    if state:  # back to A
        zk_ready().set(a["path"], blobs[0])
    zk[0].close()
    n = len(uppers)
    print(f"RESULT fanout_rounds {n}")
    for name, values in (("upper", uppers), ("lower", lowers), ("each_agent", per_agent)):
        for q, label in ((0.5, "p50"), (0.99, "p99"), (1.0, "max")):
            print(f"RESULT fanout_{name}_{label}_ms {pct(values, q):.2f}")
    print(f"RESULT fanout_sweep_p50_ms {pct(polls_rtt, 0.5):.2f}")
    for k, v in skipped.items():
        print(f"RESULT fanout_skipped_{k} {v}")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    a = args_dict(sys.argv[2:])
    {"ready": cmd_ready, "fanout": cmd_fanout, "getdata": cmd_getdata, "changes": cmd_changes}[sys.argv[1]](a)


if __name__ == "__main__":
    main()
