"""Generate a large, realistic, synthetic eCapture dump for benchmarks (deterministic, seeded).

    python bench/make_dump.py OUT.jsonl [--events 100000] [--body-size 100-65536] [--format v14|v15|v2]
                              [--http2-frac 0.3] [--layout spread|concurrent] [--fd-reuse] [--nofd-frac 0.02]
                              [--seed 1]

What it writes (protocol doc §1.3, §2, §3, §4.3; compare ``zcat shared/samples/v140_client.dump.jsonl.gz``):

* ``--format v14`` (default): eCapture v1.4.2 as ``websocat ws://host:28257/ > dump.jsonl`` records it:
  one JSON ``{"log_type":N,"payload":{…}}`` per line. Startup logs (log_type 1) first, a heartbeat
  (log_type 0, Unix seconds) every 60 s of capture time, events (log_type 2) with whole-second
  ``timestamp``, ``payload_base64`` and ``length`` = length of the base64 text.
* ``--format v15``: eCapture v1.5.2 as an ecq2pcap recording (``{"t":…,"opcode":"binary","data_b64":…}``
  lines after a recording header): protobuf ``LogEntry`` frames, timestamps in ns, ``length`` = byte
  length, run_log strings, a heartbeat every 15 s.
* ``--format v2``: eCapture v2.5 as an ecq2pcap recording: protobuf events holding only a text rendering
  (protocol doc §4.4, §5): one per SSL call with its bytes as they were (real chunked and gzip framing, no
  re-rendering, no re-emits), a connect line before a connection's first call, a destroy line after its last.
  Calls are sent as they happen: a request's write before its response's read. (No unknown-tuple or fd-less
  connections: those are v1 uuid forms.)

``--http2-frac`` (default 0): connections speaking HTTP/2 (HPACK state per direction, the first exchange
opening with SETTINGS/WINDOW_UPDATE and the server's SETTINGS and ACK, DATA in 16 KiB frames). eCapture v1 sends
their text dump (types 2 and 4, §4.3), v2 their bytes, the client preface first.

Traffic: openssl-style uuids ``<pid>_<tid>_<comm>_<fd>_<dt>_<client>-<server>``; each connection is a
keep-alive HTTP/1.1 client (curl, python, Chrome_ChildIOT, "Socket Thread", …) doing a few exchanges,
each exchange flushed by eCapture as two events: the request (type 1, dt 1 = SSL_write) re-rendered
like Go's ``httputil.DumpRequest`` (Host first, other headers sorted) and the response (type 3,
dt 0 = SSL_read) like ``DumpResponse`` (regenerated Content-Length / ``Transfer-Encoding: chunked``
over a de-chunked body, ``Content-Encoding: gzip`` over a gunzipped body). Some connections end with
eCapture's stale re-emit of the last response headers (same timestamp, no body). A fraction of
connections speak a binary protocol instead: type-0 events whose payload is Go's ``hex.Dump`` text.
Events are written in eCapture's emission order (~1.1–1.4 s after their timestamp, request and
response of one exchange in either order).

Layouts (when connections happen; connection *i* starts at ``i / --rate`` seconds):

* ``spread`` (default): ``--rate`` new connections per second, each lasting ``--exchanges`` ×
  ~``--gap`` seconds, so only ~rate × duration are open at any time (with ``--idle-timeout`` small,
  or ``--fd-reuse``, the converter can close them as the dump goes on);
* ``concurrent``: every connection starts within the first few seconds and stays busy until the
  end: all of them are open at once (worst case for per-connection state).

``--fd-reuse``: connections come from a pool of ``--workers`` (pid, fd) slots, 8 fds per process, each
reused for a new connection once its previous one ended (eCapture's uuid then changes only in its
tuple), instead of one pid per connection.

``--unknown-frac`` (default 0.02): connections whose first exchange carries eCapture's unknown tuple
(``sock:<pid>_<tid>_<comm>_<fd>_<dt>_0.0.0.0:0-0.0.0.0:0_0``, 0.0.0.0/0 fields; issue #739), the rest
the real one. ``--nofd-frac`` (default 0): nspr/gnutls-style connections of browser "Socket Thread"s
(uuid ``<pid>_<tid>_<comm16raw>_<dt>`` with NUL padding, placeholder 127.0.0.1/0 fields), each thread
silent ``--nofd-pause`` seconds between bursts (so an idle timeout ends and restarts its connection).

The generator streams (memory does not grow with --events) and returns/prints statistics
(events, payload bytes, connections, exchanges). Importable: :func:`generate`.
"""

from __future__ import annotations

import argparse
import gzip
import heapq
import itertools
import json
import math
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from fixtures.encoders import go_hex_dump  # noqa: E402  (Go's hex.Dump, shared with the fixture builders)

from dump_formats import T0, V14Writer, V15Writer, V2Writer  # noqa: E402  (the writers of each eCapture version)
from dump_http import (AGENTS, COMMS, HOSTS, BodyPool, H2Conn, draw_size, h2_dump, h2_raw,  # noqa: E402
                       parse_size, render_request, render_response)


# ----------------------------------------------------------------------------- traffic model


@dataclass
class Conn:
    index: int
    pid: int
    tid: int
    comm: str
    fd: int | None  # None: gnutls/nspr (no fd, no tuple in the uuid)
    client: tuple[str, int]
    server: tuple[str, int]
    host: str
    start: float  # seconds after T0
    binary: bool
    exchanges: int
    unknown_first: bool = False  # first exchange carries eCapture's unknown tuple (sock:…_0.0.0.0:0-0.0.0.0:0_0)
    h2: H2Conn | None = None  # speaks HTTP/2: its frames and HPACK state
    announced: bool = False  # (v2: its connect line was written)

    def uuid(self, dt: int, unknown: bool = False) -> str:
        if self.fd is None:  # nspr/gnutls: <pid>_<tid>_<comm16raw>_<dt>, NUL padding included
            return f"{self.pid}_{self.tid}_{self.comm16}_{dt}"
        if unknown:
            return f"sock:{self.pid}_{self.tid}_{self.comm}_{self.fd}_{dt}_0.0.0.0:0-0.0.0.0:0_0"
        return f"{self.pid}_{self.tid}_{self.comm}_{self.fd}_{dt}_{self.client[0]}:{self.client[1]}-" \
               f"{self.server[0]}:{self.server[1]}"

    @property
    def comm16(self) -> str:
        return self.comm + "\x00" * (16 - len(self.comm.encode()))

    def fields(self, unknown: bool) -> tuple[str, int, str, int, str]:
        """(src_ip, src_port, dst_ip, dst_port, pname) as eCapture fills them."""
        if self.fd is None:
            return "127.0.0.1", 0, "127.0.0.1", 0, self.comm16
        if unknown:
            return "0.0.0.0", 0, "0.0.0.0", 0, self.comm
        return self.client[0], self.client[1], self.server[0], self.server[1], self.comm


@dataclass(order=True)
class Ev:
    emit: float  # seconds after T0 when eCapture sends it
    seq: int
    ts_ns: int = field(compare=False)  # capture timestamp (ns)
    dt: int = field(compare=False)
    etype: int = field(compare=False)
    payload: bytes = field(compare=False)
    conn: Conn = field(compare=False)
    unknown: bool = field(default=False, compare=False)


@dataclass
class Stats:
    events: int = 0
    payload_bytes: int = 0  # decoded bytes as eCapture sent them (hex dumps counted as text)
    connections: int = 0
    exchanges: int = 0
    binary_events: int = 0
    http2_exchanges: int = 0
    reemits: int = 0
    lines: int = 0
    file_bytes: int = 0
    duration_s: float = 0.0  # capture time spanned

    def as_dict(self) -> dict:
        return dict(self.__dict__)


class Generator:
    def __init__(self, *, events: int, body: tuple[int, int], exchanges: int, layout: str, rate: float,
                 gap: float, binary_frac: float, reemit_frac: float, fd_reuse: bool, workers: int | None,
                 unknown_frac: float, nofd_frac: float, nofd_pause: float, seed: int, http2_frac: float = 0.0,
                 wire: bool = False):
        self.rng = random.Random(seed)
        self.http2_frac = http2_frac
        self.wire = wire  # v2: payloads as the SSL calls carried them (no re-rendering, no re-emits)
        self.pool = BodyPool(random.Random(seed ^ 0x5EED))
        self.body = body
        self.exchanges = max(1, exchanges)
        self.layout = layout
        self.rate = rate
        self.gap = gap
        self.binary_frac = binary_frac
        self.reemit_frac = reemit_frac
        self.fd_reuse = fd_reuse
        self.n_conns = max(1, math.ceil(events / (2 * self.exchanges)))  # ("about" --events: re-emits add some)
        # longest a connection's events span (exchanges, flush delay, re-emit at close)
        self.conn_span = self.exchanges * gap * 1.3 + 1.4 + 3.0
        # a worker reuses its fd only after its previous connection ended
        self.workers = workers or math.ceil(rate * (self.conn_span + 1)) + 1
        self.every_unknown = round(1 / unknown_frac) if unknown_frac > 0 else 0
        self.every_nofd = round(1 / nofd_frac) if nofd_frac > 0 and layout == "spread" else 0
        # browser "Socket Thread"s: each handles one burst, then stays silent for nofd_pause seconds
        self.nofd_threads = (math.ceil((self.conn_span + nofd_pause) * rate / self.every_nofd) + 1
                             if self.every_nofd else 0)
        self._seq = itertools.count()

    def conns(self):
        rng = self.rng
        servers = [(f"172.16.{i // 250}.{i % 250 + 1}", rng.choice((443, 443, 8443))) for i in range(len(HOSTS) * 4)]
        nofd_seen = 0
        for i in range(self.n_conns):
            if self.layout == "spread":
                start = i / self.rate
            else:  # concurrent: everyone starts in the first 3 s
                start = rng.uniform(0, 3)
            comm = rng.choice(COMMS)
            if self.every_nofd and i % self.every_nofd == self.every_nofd - 1:
                th = nofd_seen % self.nofd_threads
                nofd_seen += 1
                pid = 50000 + 10 * th
                yield Conn(i, pid, pid + 3, "Socket Thread", None, ("", 0), ("", 0), rng.choice(HOSTS), start,
                           False, self.exchanges)
                continue
            if self.fd_reuse:
                w = i % self.workers
                pid, fd = 30000 + 10 * (w // 8), 7 + w % 8
            else:
                pid, fd = 1000 + i, rng.choice((3, 5, 6, 7, 12))
            tid = pid if rng.random() < 0.8 else pid + 1 + rng.randrange(8)
            cport = 20000 + (i % 40000)
            chi = i // 40000
            client = (f"10.{(chi >> 8) & 255}.{chi & 255}.{1 + i % 250}", cport)
            sidx = rng.randrange(len(servers))
            unknown = bool(self.every_unknown) and i % self.every_unknown == self.every_unknown // 2
            c = Conn(i, pid, tid, comm, fd, client, servers[sidx], HOSTS[sidx % len(HOSTS)], start,
                     rng.random() < self.binary_frac, self.exchanges, unknown)
            if self.http2_frac and not c.binary and rng.random() < self.http2_frac:  # (no draw at 0: same dumps)
                c.h2 = H2Conn(c.host, AGENTS[c.comm])
            yield c

    def conn_events(self, c: Conn):
        """One connection's events in emission order."""
        rng, pool = self.rng, self.pool
        t = c.start
        if self.layout == "concurrent":
            total_span = self.n_conns / self.rate  # same capture length as the spread layout would have
            gap = max(self.gap, total_span / c.exchanges)
        else:
            gap = self.gap
        last_head = None
        for n in range(c.exchanges):
            t += gap * rng.uniform(0.8, 1.3)
            ts_ns = int(t * 1e9)  # the last call's time (v1.4 sends whole seconds of it)
            size = draw_size(rng, *self.body)
            e1, e2 = t + rng.uniform(1.1, 1.4), t + rng.uniform(1.1, 1.4)
            ts_req = ts_ns
            if self.wire:  # v2: one event per call, sent as it happens: the request's write comes first
                e1, e2 = sorted((e1, e2))
                ts_req = ts_ns - int(rng.uniform(0.005, 0.05) * 1e9)
            unknown = c.unknown_first and n == 0
            if c.binary:
                req = bytes([rng.randrange(1, 31)]) + len(b"x").to_bytes(3, "big") + pool.blob(rng, max(8, size // 8))
                resp = bytes([rng.randrange(1, 31)]) + pool.blob(rng, size)
                if not self.wire:
                    req, resp = go_hex_dump(req), go_hex_dump(resp)
                a = Ev(e1, next(self._seq), ts_req, 1, 0, req, c, unknown)
                b = Ev(e2, next(self._seq), ts_ns, 0, 0, resp, c, unknown)
            elif c.h2 is not None:  # eCapture v1: types 2 and 4, a text dump of the frames
                creq, cresp, (fields_req, fields_resp) = c.h2.exchange(rng, pool, n, T0 + int(t), size)
                req = h2_raw(creq, preface=n == 0) if self.wire else h2_dump(creq, fields_req)
                resp = h2_raw(cresp) if self.wire else h2_dump(cresp, fields_resp)
                a = Ev(e1, next(self._seq), ts_req, 1, 2, req, c, unknown)
                b = Ev(e2, next(self._seq), ts_ns, 0, 4, resp, c, unknown)
            else:
                req = render_request(rng, pool, c.host, AGENTS[c.comm], n, size)
                resp, last_head = render_response(rng, pool, T0 + int(t), size, wire=self.wire)
                a = Ev(e1, next(self._seq), ts_req, 1, 1, req, c, unknown)
                b = Ev(e2, next(self._seq), ts_ns, 0, 3, resp, c, unknown)
            yield from sorted((a, b))
            t = max(e1, e2)
        if self.wire:  # v2: the socket's destroy line (no identity: it names no connection)
            yield Ev(t + 0.5, next(self._seq), ts_ns, 0, V2Writer.DESTROY, b"", c)
        elif last_head is not None and rng.random() < self.reemit_frac:
            # socket close: eCapture (v1.4.0-1.5.0) re-renders the last response headers, same timestamp
            yield Ev(t + 3.0, next(self._seq), ts_ns, 0, 3, last_head, c)

    def events(self):
        """All events in emission order (streams: only open connections are in memory)."""
        conns = self.conns()
        nxt = next(conns, None)
        heap: list = []
        while heap or nxt is not None:
            if nxt is not None and (not heap or nxt.start <= heap[0][0].emit):
                gen = self.conn_events(nxt)
                first = next(gen, None)
                if first is not None:
                    heapq.heappush(heap, (first, gen))
                nxt = next(conns, None)
                continue
            ev, gen = heapq.heappop(heap)
            yield ev
            follow = next(gen, None)
            if follow is not None:
                heapq.heappush(heap, (follow, gen))


def generate(path: str | Path, *, events: int = 100_000, body: str | tuple[int, int] = "100-65536",
             fmt: str = "v14", exchanges: int = 5, layout: str = "spread", rate: float = 50.0, gap: float = 2.0,
             binary_frac: float = 0.05, reemit_frac: float = 0.3, fd_reuse: bool = False,
             workers: int | None = None, unknown_frac: float = 0.02, nofd_frac: float = 0.0,
             nofd_pause: float = 10.0, seed: int = 1, http2_frac: float = 0.0) -> Stats:
    """Write the dump to ``path`` (gzip when it ends in .gz); return its statistics."""
    body_range = parse_size(body) if isinstance(body, str) else body
    if fmt == "v2":  # (the unknown tuple and the fd-less uuids are v1 uuid forms)
        unknown_frac = nofd_frac = 0.0
    gen = Generator(events=events, body=body_range, exchanges=exchanges, layout=layout, rate=rate, gap=gap,
                    binary_frac=binary_frac, reemit_frac=reemit_frac, fd_reuse=fd_reuse, workers=workers,
                    unknown_frac=unknown_frac, nofd_frac=nofd_frac, nofd_pause=nofd_pause, seed=seed,
                    http2_frac=http2_frac, wire=fmt == "v2")
    path = Path(path)
    raw = open(path, "wb")
    out = gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1, mtime=0) if path.suffix == ".gz" else raw
    stats = Stats(connections=gen.n_conns)
    try:
        writer = {"v14": V14Writer, "v15": V15Writer, "v2": V2Writer}[fmt](out)
        hb_next, hb_count = writer.hb_every, 0
        last = 0.0
        for ev in gen.events():
            while ev.emit >= hb_next:
                writer.heartbeat(hb_next, hb_count)
                hb_count += 1
                hb_next += writer.hb_every
            writer.event(ev)
            if ev.etype == V2Writer.DESTROY:
                continue  # (not an event of the traffic)
            stats.events += 1
            stats.payload_bytes += len(ev.payload)
            if ev.etype == 0:
                stats.binary_events += 1
            elif ev.etype in (1, 2):
                stats.exchanges += 1
                stats.http2_exchanges += ev.etype == 2
            last = ev.emit
        stats.reemits = stats.events - stats.binary_events - 2 * stats.exchanges
        stats.duration_s = round(last, 1)
    finally:
        if out is not raw:
            out.close()
        raw.close()
    stats.file_bytes = path.stat().st_size
    with open(path, "rb") as f:
        stats.lines = sum(buf.count(b"\n") for buf in iter(lambda: f.read(1 << 20), b""))
    return stats


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", help="output file (.gz: gzip-compressed)")
    ap.add_argument("--events", type=int, default=100_000, help="about this many events (default 100000)")
    ap.add_argument("--body-size", default="100-65536", help="response body bytes: N or LO-HI (log-uniform); "
                    "k suffix allowed (default 100-65536)")
    ap.add_argument("--format", choices=("v14", "v15", "v2"), default="v14",
                    help="v14 JSON lines, v15 protobuf recording, or v2 (v2.1+ text events) recording")
    ap.add_argument("--http2-frac", type=float, default=0.0, help="share of connections speaking HTTP/2")
    ap.add_argument("--exchanges", type=int, default=5, help="HTTP exchanges per connection (default 5)")
    ap.add_argument("--layout", choices=("spread", "concurrent"), default="spread")
    ap.add_argument("--rate", type=float, default=50.0, help="new connections per capture second (default 50)")
    ap.add_argument("--gap", type=float, default=2.0, help="seconds between exchanges on a connection (default 2)")
    ap.add_argument("--binary-frac", type=float, default=0.05, help="share of binary (hex-dumped) connections")
    ap.add_argument("--reemit-frac", type=float, default=0.3, help="share of connections ending with a stale re-emit")
    ap.add_argument("--fd-reuse", action="store_true", help="a pool of --workers processes reusing their fd")
    ap.add_argument("--workers", type=int, default=None,
                    help="--fd-reuse pool size (default: enough that a worker's previous connection has ended)")
    ap.add_argument("--unknown-frac", type=float, default=0.02,
                    help="share of connections whose first exchange has the unknown tuple (sock:…0.0.0.0…_0)")
    ap.add_argument("--nofd-frac", type=float, default=0.0,
                    help="share of connections from nspr-style browser 'Socket Thread's (no fd/tuple in the uuid; "
                    "each thread is silent --nofd-pause s between bursts)")
    ap.add_argument("--nofd-pause", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)
    t = time.perf_counter()
    stats = generate(a.out, events=a.events, body=a.body_size, fmt=a.format, exchanges=a.exchanges, layout=a.layout,
                     rate=a.rate, gap=a.gap, binary_frac=a.binary_frac, reemit_frac=a.reemit_frac,
                     fd_reuse=a.fd_reuse, workers=a.workers, unknown_frac=a.unknown_frac, nofd_frac=a.nofd_frac,
                     nofd_pause=a.nofd_pause, seed=a.seed, http2_frac=a.http2_frac)
    d = stats.as_dict()
    d["seconds"] = round(time.perf_counter() - t, 2)
    print(json.dumps(d))


if __name__ == "__main__":
    main()
