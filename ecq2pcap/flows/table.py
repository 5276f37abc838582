"""The connection table: captures → ordered connection events (sans-IO).

* Connections are keyed by (pid, fd, tuple), never by tid (protocol doc §10.10);
  captures without fd (gnutls, nspr, gotls) are keyed by (pid, tid, comm).
* Captures carrying the unknown tuple wait (up to ``adopt_window_ns``) for the real
  tuple of the same (pid, fd) and join it; otherwise the connection gets stable
  synthetic endpoints (:mod:`.endpoints`).
* Which end eCapture hooked (:mod:`.roles`) decides every capture's direction, so a
  connection's captures wait until its data shows it (up to ``adopt_window_ns`` or
  ``ROLE_WAIT_BYTES``; then the process is taken as the client). A server that speaks
  first (HTTP/2 SETTINGS) thus never has its first bytes put on the client's side,
  however fast the events arrive.
* eCapture emits events when a worker flushes, not in capture order, so captures
  wait in a reorder buffer for ``reorder_window_ns`` of capture time and come out
  ordered by (time, client→server first, arrival) — v1.4 timestamps are whole
  seconds (§11.13).
* Stale re-emits of the previous HTTP/1 headers (§4.3, §11.6) are recognised
  (:mod:`.reemits`) and left out; the Closed event says how many.
* Each connection's captures become wire bytes through its :class:`~.normalize.Normalizer`
  (HTTP/1 framing repair, HTTP/2 dump re-encoding, synthetic HTTP/2 prefaces).

Time only moves with the data (the largest capture timestamp seen) or with
:meth:`ConnectionTable.advance`, which a live source calls with the wall clock. v2
connect lines carry no time of their own (only when they were received, another
clock than the events' header times), so they never move it.
"""

from __future__ import annotations

import heapq
import itertools
from collections import OrderedDict
from dataclasses import dataclass, field

from ..limits import DEFAULT_LIMITS, Limits, limit_note
from ..model import (
    Capture,
    Chunk,
    ChunkInfo,
    Closed,
    ConnectInfo,
    Connection,
    DataType,
    Direction,
    FlowEvent,
    Opened,
    PayloadForm,
    Tuple,
)
from ..report import Report
from .endpoints import SyntheticEndpoints
from .normalize import Normalizer
from .reemits import is_stale_reemit
from .roles import infer_role

SECOND = 1_000_000_000
REUSED = "its fd was reused by a new connection"
ROLE_WAIT_BYTES = 4 << 20  # at most this much of a connection waits for its role
MAX_UUIDS = 8  # uuids named in a connection's SYN comment (each chunk's comment names its own)


@dataclass(eq=False)
class _Conn:
    """The table's state of one connection; its :class:`Connection` is built when it opens."""

    group: tuple
    tuple: Tuple | None
    pid: int
    comm: str
    fd: int | None
    module: str
    client: tuple[str, int] = ("", 0)
    server: tuple[str, int] = ("", 0)
    tuple_known: bool = True
    synthetic_reason: str | None = None  # why endpoints were invented
    role: str = "client"  # which end eCapture hooked (Connection.process_role)
    conn: Connection | None = None  # set when opened (a new one after a reopen)
    uuids: list = field(default_factory=list)  # eCapture uuids seen before it opened (a few), for its SYN comment
    role_known: bool = False
    opened: bool = False
    closed: bool = False
    superseded: bool = False
    upgraded: bool = False
    first_ts: int = 0
    last_ts: int = 0
    last_released_ts: int = 0
    held: list = field(default_factory=list)  # (time, capture) waiting for a tuple (unknown-tuple conns)
    unroled: list = field(default_factory=list)  # (time, capture) waiting for the role (which end was hooked)
    unroled_bytes: int = 0
    seen_types: set = field(default_factory=set)  # data types (read/write) seen so far
    last_headers: dict = field(default_factory=dict)  # Direction -> (header block, timestamp)
    reemits: int = 0
    late: int = 0
    normalizer: Normalizer = field(default_factory=Normalizer)  # wire bytes for each capture
    due: int | None = None  # deadline of this connection's entry in ConnectionTable._deadlines


class ConnectionTable:
    def __init__(
        self,
        report: Report | None = None,
        *,
        reorder_window_ns: int = 3 * SECOND,
        adopt_window_ns: int = 10 * SECOND,
        idle_timeout_ns: int | None = 300 * SECOND,
        repair_http1: bool = True,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self.report = report or Report()
        self.limits = limits
        self.reorder_window_ns = reorder_window_ns
        self.adopt_window_ns = adopt_window_ns
        self.idle_timeout_ns = idle_timeout_ns
        self.repair_http1 = repair_http1
        self.clock = 0  # largest capture time seen (or given to advance)
        self._heap: list = []  # (ts, direction hint, seq, _Conn, Capture)
        self._seq = itertools.count()
        self._ids = itertools.count(1)
        self._by_key: dict[tuple, _Conn] = {}  # (group, tuple) -> conn
        self._current: dict[tuple, _Conn] = {}  # group -> most recent conn
        self._pending: dict[tuple, _Conn] = {}  # group -> conn waiting for its tuple
        self._unroled: dict[int, _Conn] = {}  # id(conn) -> conn whose captures wait for its role
        self._known_tuples: dict[tuple, tuple[Tuple, int]] = {}  # (pid, fd) -> (tuple, time) from connect lines
        self._endpoints = SyntheticEndpoints()
        self._last_sweep = 0
        self._deadlines: list = []  # (time to look at it again, seq, _Conn): the sweep's work list
        self._open: OrderedDict[int, _Conn] = OrderedDict()  # id -> opened conn, least recently active first

    # ------------------------------------------------------------------ input

    def feed(self, record: Capture | ConnectInfo) -> list[FlowEvent]:
        if isinstance(record, ConnectInfo):
            return self._connect_info(record)
        cap = record
        ts = cap.timestamp_ns if cap.timestamp_ns is not None else self.clock  # (no time: now)
        out: list[FlowEvent] = []
        c = self._conn_for(cap, out)
        if not c.role_known:
            role = infer_role(cap, first_of_direction=cap.data_type not in c.seen_types)
            if role is not None:
                c.role, c.role_known = role, True
        c.seen_types.add(cap.data_type)
        c.last_ts = max(c.last_ts, ts)
        if not c.opened and cap.uuid and cap.uuid not in c.uuids and len(c.uuids) < MAX_UUIDS:
            c.uuids.append(cap.uuid)
        if not c.first_ts:
            c.first_ts = ts
        if c.due is None:
            self._schedule(c)
        if c.tuple is None:
            c.held.append((ts, cap))  # unknown tuple: wait to adopt a real one
        else:
            self._submit(c, cap, ts)
        if c.role_known and c.unroled:
            self._role_settled(c)
        if ts > self.clock:
            self.clock = ts
        self._release(out)
        return out

    def advance(self, now_ns: int) -> list[FlowEvent]:
        """Move the clock (live sources call this with the wall clock)."""
        out: list[FlowEvent] = []
        if now_ns > self.clock:
            self.clock = now_ns
            self._release(out)
        return out

    def close_all(self, reason: str = "end of input") -> list[FlowEvent]:
        out: list[FlowEvent] = []
        for c in list(self._pending.values()):
            self._commit_synthetic(c, "eCapture never gave the tuple (0.0.0.0:0-0.0.0.0:0 until the end of input)")
        for c in list(self._unroled.values()):
            self._role_settled(c)
        self._release(out, everything=True)
        for c in list(self._all_conns()):  # (the same reason as the sweep would have given)
            self._close(c, REUSED if c.superseded else reason, out)
        return out

    # ------------------------------------------------------------ connections

    def _group(self, cap: Capture) -> tuple:
        if cap.fd is not None:
            return ("fd", cap.pid, cap.fd)
        return ("nofd", cap.module, cap.pid, cap.tid, cap.comm)

    def _conn_for(self, cap: Capture, out: list[FlowEvent]) -> _Conn:
        group = self._group(cap)
        tup = cap.tuple
        if tup is None and cap.fd is not None:
            known = self._known_tuples.get((cap.pid, cap.fd))
            tup = known[0] if known else None
        if tup is not None:
            c = self._by_key.get((group, tup))
            if c is not None:
                return c
            pending = self._pending.pop(group, None)
            if pending is not None:  # the unknown-tuple connection gets its tuple
                self._adopt(pending, tup)
                return pending
            prev = self._current.get(group)
            if prev is not None and prev.tuple != tup:
                prev.superseded = True  # fd reused for a new connection
                self._schedule(prev)
            return self._new(group, cap, tup)
        # unknown tuple
        c = self._current.get(group) or self._pending.get(group)
        if c is not None:
            return c
        c = self._new(group, cap, None)
        if cap.fd is not None:
            self._pending[group] = c
        else:
            self._commit_synthetic(c, f"eCapture's {cap.module} events carry no socket tuple")
        return c

    def _new(self, group: tuple, cap: Capture, tup: Tuple | None) -> _Conn:
        c = _Conn(group, tup, cap.pid, cap.comm, cap.fd, cap.module,
                  normalizer=Normalizer(repair_http1=self.repair_http1))
        if tup is not None:
            self._set_tuple(c, tup)
        return c

    def _set_tuple(self, c: _Conn, tup: Tuple) -> None:
        c.tuple = tup
        c.client, c.server = (tup.src_ip, tup.src_port), (tup.dst_ip, tup.dst_port)
        c.tuple_known = True
        self._by_key[(c.group, tup)] = c
        self._current[c.group] = c

    def _adopt(self, c: _Conn, tup: Tuple) -> None:
        self._set_tuple(c, tup)
        held, c.held = c.held, []
        for ts, cap in held:
            self._submit(c, cap, ts)

    def _commit_synthetic(self, c: _Conn, reason: str) -> None:
        """Give a connection that never got a tuple stable invented endpoints."""
        self._pending.pop(c.group, None)
        c.client, c.server = self._endpoints.allocate(c.group)
        c.tuple_known = False
        c.synthetic_reason = reason
        c.tuple = Tuple(*c.client, *c.server)
        self._by_key[(c.group, c.tuple)] = c
        self._current.setdefault(c.group, c)
        held, c.held = c.held, []
        for ts, cap in held:
            self._submit(c, cap, ts)

    def _connect_info(self, info: ConnectInfo) -> list[FlowEvent]:
        out: list[FlowEvent] = []
        key = (info.pid, info.fd)
        # (info.timestamp_ns is a receive time: it must not move the clock of the events' own times)
        if info.kind == "connect" and info.tuple is not None:
            group = ("fd", info.pid, info.fd)
            prev = self._current.get(group)
            if prev is not None and prev.tuple != info.tuple:
                prev.superseded = True  # a new connect on the same fd ends the previous one
                self._schedule(prev)
                self._current.pop(group, None)
            self._known_tuples[key] = (info.tuple, self.clock)
            pending = self._pending.pop(group, None)
            if pending is not None:
                self._adopt(pending, info.tuple)
        self._release(out)
        return out

    def _all_conns(self):
        seen = set()
        for c in itertools.chain(self._by_key.values(), self._current.values(), self._pending.values()):
            if id(c) not in seen:
                seen.add(id(c))
                yield c

    # ---------------------------------------------------------------- ordering

    def _submit(self, c: _Conn, cap: Capture, ts: int) -> None:
        """Into the reorder buffer, or wait while the connection's role is unknown."""
        if c.role_known:
            self._push(c, cap, ts)
            return
        c.unroled.append((ts, cap))
        c.unroled_bytes += len(cap.payload)
        self._unroled[id(c)] = c
        if c.unroled_bytes > ROLE_WAIT_BYTES:
            self._role_settled(c)

    def _role_settled(self, c: _Conn) -> None:
        """The role is known (or no longer waited for: the default, client, stays)."""
        c.role_known = True
        self._unroled.pop(id(c), None)
        waiting, c.unroled, c.unroled_bytes = c.unroled, [], 0
        for ts, cap in waiting:
            self._push(c, cap, ts)

    def _push(self, c: _Conn, cap: Capture, ts: int) -> None:
        # Equal times: v1 events are merged flushes whose arrival order means nothing
        # (a response's worker may flush first), so client→server goes first; v2 events
        # (no uuid) are single calls sent as they happen, so arrival order is the truth.
        tie = int(self._direction(c, cap)) if cap.uuid is not None else 0
        heapq.heappush(self._heap, (ts, tie, next(self._seq), c, cap))

    @staticmethod
    def _direction(c: _Conn, cap: Capture) -> Direction:
        wrote = cap.data_type is DataType.WRITE
        if cap.data_type is None:  # unknown: assume the process is the client and wrote it
            wrote = True
        return Direction.C2S if wrote == (c.role == "client") else Direction.S2C

    def _release(self, out: list[FlowEvent], everything: bool = False) -> None:
        limit = self.clock - self.reorder_window_ns
        heap = self._heap
        while heap and (everything or heap[0][0] <= limit):
            ts, _, _, c, cap = heapq.heappop(heap)
            self._emit(c, cap, ts, out)
        if not everything and self.clock - self._last_sweep >= SECOND:
            self._last_sweep = self.clock
            self._sweep(out)

    def _sweep(self, out: list[FlowEvent]) -> None:
        """Commit stale pending connections, close superseded and idle ones."""
        now = self.clock
        for c in list(self._pending.values()):
            if c.held and now - c.first_ts > self.adopt_window_ns:
                self._commit_synthetic(c, "eCapture never gave the tuple (0.0.0.0:0-0.0.0.0:0 and no real tuple within the adopt window)")
                self._release(out)
        for c in list(self._unroled.values()):
            if now - c.unroled[0][0] > self.adopt_window_ns:
                self._role_settled(c)
                self._release(out)
        grace = 2 * self.reorder_window_ns
        if self.idle_timeout_ns:  # forget connect lines of connections long gone (bounded memory)
            old = now - max(self.idle_timeout_ns, grace)
            for key, (tup, t) in list(self._known_tuples.items()):
                if not t:  # seen before any capture time was known: start its clock now
                    self._known_tuples[key] = (tup, now)
                elif t < old:
                    del self._known_tuples[key]
        # only connections whose deadline passed: O(expired), not O(open), per sweep
        dl = self._deadlines
        while dl and dl[0][0] < now:
            due, _, c = heapq.heappop(dl)
            if c.due != due:  # rescheduled since: a newer entry exists
                continue
            c.due = None
            if c.closed:
                continue
            if c.held or c.unroled:
                self._schedule(c, now + SECOND)
            elif c.superseded and now - c.last_ts > grace:
                self._close(c, REUSED, out)
            elif self.idle_timeout_ns and now - c.last_ts > max(self.idle_timeout_ns, grace):
                self._close(c, "idle timeout", out)
            else:
                self._schedule(c)

    def _schedule(self, c: _Conn, due: int | None = None) -> None:
        """(Re)enter ``c`` in the sweep's deadline heap (no-op when it can never expire)."""
        if due is None:
            grace = 2 * self.reorder_window_ns
            if c.superseded:
                horizon = grace
            elif self.idle_timeout_ns:
                horizon = max(self.idle_timeout_ns, grace)
            else:
                return
            due = c.last_ts + horizon
        if c.due is not None and c.due <= due:
            return  # an earlier entry is there; it reschedules when popped
        c.due = due
        heapq.heappush(self._deadlines, (due, next(self._seq), c))

    # ---------------------------------------------------------------- emission

    def _emit(self, c: _Conn, cap: Capture, ts: int, out: list[FlowEvent]) -> None:
        if c.closed:  # a straggler after the connection was closed: reopen a new one
            self._reopen(c)
        direction = self._direction(c, cap)
        if cap.form is PayloadForm.HTTP1_RENDERED and is_stale_reemit(c.last_headers, c.upgraded, cap.payload, direction, ts):
            c.reemits += 1
            self.report.count("stale_reemits")
            return
        if not c.opened:
            c.opened = True
            if cap.uuid and cap.uuid not in c.uuids:
                c.uuids.append(cap.uuid)
            c.conn = Connection(
                id=next(self._ids), pid=c.pid, comm=c.comm, fd=c.fd, client=c.client, server=c.server,
                tuple_known=c.tuple_known, synthetic_reason=c.synthetic_reason, process_role=c.role,
                uuids=tuple(c.uuids), module=c.module, tid=cap.tid,
            )
            if len(self._open) >= self.limits.open_connections:
                self._end_idlest(out)  # first, so that no more are ever open at once
            self.report.count("connections")
            out.append(Opened(c.conn, ts))
            self._open[id(c)] = c
        else:
            self._open.move_to_end(id(c))
        notes = cap.notes
        if ts < c.last_released_ts:
            c.late += 1
            self.report.count("late_events")
            notes = notes + (f"arrived {(c.last_released_ts - ts) / 1e9:.3f} s after later data: placed here",)
        c.last_released_ts = max(c.last_released_ts, ts)
        if cap.form is PayloadForm.HTTP1_RENDERED and cap.payload.startswith((b"HTTP/1.1 101 ", b"HTTP/1.0 101 ")):
            c.upgraded = True
        norm = c.normalizer
        preface, wire, changes = norm.wire(cap, direction)
        if preface:
            protocol = norm.protocol_of(cap.form, Direction.C2S, preface)
            out.append(Chunk(c.conn, Direction.C2S, ts, preface, b"", ChunkInfo.of(cap, changes[:1]), protocol))
            changes = changes[1:]
        protocol = norm.protocol_of(cap.form, direction, wire)
        out.append(Chunk(c.conn, direction, ts, wire, cap.payload, ChunkInfo.of(cap, notes + changes), protocol))

    def _end_idlest(self, out: list[FlowEvent]) -> None:
        """Over --max-connections: end the connection idle longest (FIN, HAR entries); a later
        capture of it starts a new connection, as a straggler after a close does."""
        c = next(iter(self._open.values()))
        note = limit_note("open_connections", f"ended early: more than {self.limits.open_connections} connections "
                          "open, this one idle longest")
        self.report.warn("connection ended early (too many open)", detail=note)
        self._close(c, "too many open connections", out, (note,))

    def _reopen(self, c: _Conn) -> None:
        c.closed = c.opened = False
        c.conn = None  # a new Connection at its first data
        c.uuids = []
        c.last_headers.clear()
        c.normalizer = Normalizer(repair_http1=self.repair_http1)  # a new TCP connection
        self._by_key[(c.group, c.tuple)] = c
        if c.synthetic_reason:
            self._endpoints.claim(c.client, c.server)
        self._schedule(c)

    def _close(self, c: _Conn, reason: str, out: list[FlowEvent], extra: tuple[str, ...] = ()) -> None:
        self._open.pop(id(c), None)
        if self._by_key.get((c.group, c.tuple)) is c:
            del self._by_key[(c.group, c.tuple)]
        if self._current.get(c.group) is c:
            del self._current[c.group]
        if not c.closed and c.synthetic_reason:
            self._endpoints.release(c.client, c.server)
        if c.closed or not c.opened:
            c.closed = True
            return
        c.closed = True
        notes: list[str] = list(extra)
        if c.reemits:
            notes.append(
                f"{c.reemits} stale re-emit(s) of the previous HTTP/1 headers omitted "
                "(eCapture re-renders them at socket close and after an upgrade)"
            )
        if c.late:
            notes.append(f"{c.late} event(s) arrived after later data and were placed out of time order")
        out.append(Closed(c.conn, max(c.last_released_ts, c.last_ts), reason, tuple(notes)))

