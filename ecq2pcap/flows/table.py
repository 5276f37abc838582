"""The connection table: captures → ordered connection events (sans-IO).

* Connections are keyed by (pid, fd, tuple), never by tid (protocol doc §10.10);
  captures without fd are keyed by (pid, tid, comm) (gnutls, nspr: a thread's connections) or (pid, comm)
  (gotls: Go moves goroutines between threads), a new connection starting where the bytes cannot continue
  the last one (:func:`~.placement.cannot_continue`).
* Captures taken before eCapture knew their socket go to the connection whose own
  captures follow on that (pid, fd), waiting up to ``adopt_window_ns`` (:mod:`.placement`);
  what never finds one gets stable synthetic endpoints (:mod:`.endpoints`) and says so.
* Which end eCapture hooked (:mod:`.roles`) decides every capture's direction, so a
  connection's captures wait until its data shows it (up to ``adopt_window_ns`` or ``ROLE_WAIT_BYTES``,
  the reorder window once bytes both ways showed none; then the process is the client). A server that speaks
  first (HTTP/2 SETTINGS) thus never has its first bytes put on the client's side,
  however fast the events arrive.
* eCapture emits events when a worker flushes, not in capture order, so captures
  wait in a reorder buffer for ``reorder_window_ns`` of capture time and come out
  ordered by (time, client→server first, arrival) — v1.4 timestamps are whole
  seconds (§11.13) (:mod:`.ordering`).
* What a released capture becomes on its connection (stale re-emits left out, wire bytes
  from its :class:`~.normalize.Normalizer`) is :mod:`.emission`'s job.

Time only moves with the data (the largest capture timestamp seen) or with
:meth:`ConnectionTable.advance`, which a live source calls with the wall clock. v2
connect lines carry no time of their own (only when they were received, another
clock than the events' header times), so they never move it.
"""

from __future__ import annotations

import heapq
import itertools
from collections import OrderedDict

from ..limits import DEFAULT_LIMITS, HELD_COST, Limits, limit_note
from ..model import (
    Capture,
    ConnectInfo,
    Connection,
    Direction,
    NOT_PLACED,
    FlowEvent,
    Opened,
    PayloadForm,
    Tuple,
)
from ..report import Count, Report
from .closing import NO_REQUEST, request_head
from .endpoints import SyntheticEndpoints
from .normalize import Normalizer
from .emission import chunks
from .lifecycle import SECOND, Lifecycle, superseded_reason
from .ordering import Ordering, noted
from .reemits import is_stale_reemit
from .placement import (EARLY_NOTE, JOINED_NOTE, PLACED_NOTE, Placement, Shape, adopt, cannot_continue,
                        client_streams)
from .roles import METHODS, infer_role
from .state import ConnState

MAX_UUIDS = 8  # uuids named in a connection's SYN comment (each chunk's comment names its own)
PRE, REAL = 0, 1  # at equal times a connection's tuple-less (first) captures go before the others
_NO_TUPLE = {"gotls": "eCapture's gotls events carry no socket tuple: one connection per process (Go moves "
                      "goroutines between threads), several at once are merged here"}
_RENDERED = PayloadForm.HTTP1_RENDERED  # (Enum members: ~0.15 µs to read on Python 3.11)
_NO_SHAPE = Shape()  # (read only) the shape of a connection none of whose bytes was looked at yet


class ConnectionTable(Ordering, Lifecycle):
    def __init__(
        self,
        report: Report | None = None,
        *,
        reorder_window_ns: int = 3 * SECOND,
        adopt_window_ns: int = 10 * SECOND,
        idle_timeout_ns: int | None = 300 * SECOND,
        repair_http1: bool = True,
        limits: Limits = DEFAULT_LIMITS,
        normalize: bool = True,
    ) -> None:
        self.report = report or Report()
        self.limits = limits
        self.reorder_window_ns = reorder_window_ns
        self.adopt_window_ns = adopt_window_ns
        self.idle_timeout_ns = idle_timeout_ns
        # a capture this long after its connection's last ends that connection first (none: no idle timeout)
        self._idle_after = max(idle_timeout_ns, 2 * reorder_window_ns) if idle_timeout_ns else float("inf")
        self.repair_http1 = repair_http1
        self.normalize = normalize  # False: Captured instead of chunks, normalised after the table (convert -j)
        self.clock = 0  # largest capture time seen (or given to advance)
        self._released_ns = 0  # largest capture time released or FIN time given (no FIN is timed before it)
        self._heap: list = []  # (ts, rank, direction hint, seq, ConnState, Capture, Direction)
        self._heap_bytes = 0  # their payloads' (at most limits.reorder_buffer: see _release)
        self.cut = False  # a release stopped at ordering.MADE_UP_BATCH bytes made up: more() goes on with it
        self._stop = 0  # (the report's made_up at which it stops)
        self._early_released = 0  # captures an early release that stopped so let go (it goes on in more())
        self._seq = itertools.count()
        self._ids = itertools.count(1)
        self._by_key: dict[tuple, ConnState] = {}  # (group, tuple) -> conn
        self._current: dict[tuple, ConnState] = {}  # group -> most recent conn
        # (group, tuple) -> a connection a v2 connect line of its own tuple ended, until the next one opens
        self._displaced: dict[tuple, ConnState] = {}
        self._placement = Placement()  # v2 connect lines, captures waiting for their connection
        self._unroled: dict[int, ConnState] = {}  # id(conn) -> conn whose captures wait for its role, oldest first
        self._unroled_bytes = 0  # their captures' payloads, each with limits.HELD_COST (see _submit)
        self._endpoints = SyntheticEndpoints()
        self._last_sweep = 0
        self._deadlines: list = []  # (time to look at it again, seq, ConnState): the sweep's work list
        self._open: OrderedDict[int, ConnState] = OrderedDict()  # id -> opened conn, least recently active first
        # client address and port -> the open connection from it, or those (a list) when several are open (keep_port;
        # no object made for the one a client port mostly has: counts in dicts of new keys cost ~3k instructions an
        # event, most of it the collector's)
        self._from: dict[tuple, ConnState | list[ConnState]] = {}

    # ------------------------------------------------------------------ input

    def feed(self, record: Capture | ConnectInfo) -> list[FlowEvent]:
        if type(record) is ConnectInfo:
            return self._connect_info(record)
        cap = record
        ts = cap.timestamp_ns if cap.timestamp_ns is not None else self.clock  # (no time: now)
        out: list[FlowEvent] = []
        tup = cap.tuple
        group = ("fd", cap.pid, cap.fd) if cap.fd is not None else self._group(cap)  # (_group's first case, no call)
        c = self._by_key.get((group, tup)) if tup is not None else None
        if c is not None:  # (an open connection's capture: _conn_for's common case, without its call)
            self._accept(c, cap, ts, REAL)
        else:
            placed = self._conn_for(cap, ts, group)
            if placed is not None:
                c, cap, rank = placed
                self._accept(c, cap, ts, rank)
        if c is not None and self._placement.held:
            for to, held_ts, held_cap in self._placement.due_for(c):
                self.report.count(Count.BEFORE_TUPLE_PLACED)
                self._accept(to, noted(held_cap, PLACED_NOTE), held_ts, PRE)
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

    def _accept(self, c: ConnState, cap: Capture, ts: int, rank: int = REAL) -> None:
        """A capture joins connection ``c``."""
        if not c.role_known:
            role = infer_role(cap, first_of_direction=cap.data_type not in c.seen_types)
            if role is not None:
                c.role, c.role_known = role, True
            c.seen_types.add(cap.data_type)  # (read only while the role is not known)
        if cap.uuid is None or cap.fd is None:  # (v2: its tuple comes from connect lines; placement reads the
            # shape; no fd: the shape tells where the thread's or process's next connection starts)
            if c.shape is None:
                c.shape = Shape()
            c.shape.update(cap)
        if ts > c.last_ts:
            c.last_ts = ts
        if not c.opened and cap.uuid and cap.uuid not in c.uuids and len(c.uuids) < MAX_UUIDS:
            c.uuids.append(cap.uuid)
        if rank == REAL and c.tuple_known:
            first = c.first_real_ts
            if first is None or ts < first:  # (the data types as bits: a set a connection cost ~0.15 % of -w)
                c.first_real_ts, c.first_types = ts, 1 << cap.data_type
                if c.first_request is not None:  # (kept only where unknown-tuple captures came: see Placement.track)
                    c.first_request = request_head(cap.payload)
            elif ts == first:
                c.first_types |= 1 << cap.data_type
                if c.first_request is NO_REQUEST:
                    c.first_request = request_head(cap.payload)
        if c.due is None:
            self._schedule(c)
        if c.role_known and not c.unroled:  # (the common case of _submit, without its call)
            self._push(c, cap, ts, rank)
            return
        if c.role_known:  # (it just became known: those that waited for it go first, then this one, in arrival
            self._role_settled(c)  # order: pushed after them, a response the role was told by came out before
            self._push(c, cap, ts, rank)  # a request read in pieces at the same millisecond)
            return
        self._submit(c, cap, ts, rank)

    # ------------------------------------------------------------ connections

    def _group(self, cap: Capture) -> tuple:
        if cap.fd is not None:
            return ("fd", cap.pid, cap.fd)
        if cap.module == "gotls":  # (Go moves goroutines between threads: one connection's calls carry many tids)
            return ("nofd", cap.module, cap.pid, None, cap.comm)
        return ("nofd", cap.module, cap.pid, cap.tid, cap.comm)

    def _conn_for(self, cap: Capture, ts: int, group: tuple) -> tuple[ConnState, Capture, int] | None:
        """The connection of ``cap`` (and the capture as placed, with its rank), or None
        while it waits for its connection (:mod:`.placement`). ``group``: :meth:`_group` of ``cap``;
        a capture with a tuple comes here when no connection has that tuple (:meth:`feed` looked)."""
        tup = cap.tuple
        if tup is None and cap.fd is not None:
            tup = self._placement.tuple_of(cap.pid, cap.fd)
            if tup is None:  # v1's unknown-tuple uuid, or v2 data before any connect line
                return self._hold(group, cap, ts)
            if self._placement.waits_new_connection(group):
                return self._held(group, ts, cap)  # v2: a new connection on this fd waits for its accept line
            c = self._by_key.get((group, tup))
            if c is not None:
                if not c.closed and cannot_continue(c.shape or _NO_SHAPE, cap, one_socket=True):
                    self.report.count(Count.BEFORE_TUPLE_SPLIT)  # a new connection started before its accept line
                    return self._held(group, ts, cap, new_connection=True)
                return c, cap, REAL
        if tup is not None:
            prev = self._current.get(group)
            if prev is not None and prev.tuple != tup:
                prev.superseded = True  # fd reused for a new connection
                self._schedule(prev)
            return self._new(group, cap, tup), cap, REAL
        # no fd (gnutls, nspr: one invented connection per thread; gotls: per process), until bytes come that
        # cannot continue it (a second HTTP/2 preface, HTTP/1 after HTTP/2, a client's dump opening a stream it
        # opened before, ...): they start the next one
        c = self._current.get(group)
        streams = client_streams(cap, c.role if c is not None else "client")
        if c is not None and c.shape is not None and (cannot_continue(c.shape, cap)
                                                      or streams and streams[0] <= c.shape.client_streams):
            c.superseded = True
            self._schedule(c)
            c = None
        if c is None:
            c = self._synthetic(group, cap, _NO_TUPLE.get(cap.module) or f"eCapture's {cap.module} events carry no "
                                "socket tuple")
        if streams:
            if c.shape is None:
                c.shape = Shape()
            c.shape.client_streams = max(c.shape.client_streams, *streams)
        return c, cap, REAL

    def _new(self, group: tuple, cap: Capture, tup: Tuple) -> ConnState:
        c = ConnState(group, tup, cap.pid, cap.comm, cap.fd, cap.module,
                      normalizer=Normalizer(repair_http1=self.repair_http1, limits=self.limits))
        c.client, c.server = (tup.src_ip, tup.src_port), (tup.dst_ip, tup.dst_port)
        self._by_key[(group, tup)] = c
        self._current[group] = c
        self._placement.track(c)
        return c

    def _synthetic(self, group: tuple, cap: Capture, reason: str) -> ConnState:
        """A connection whose tuple eCapture never gave: stable invented endpoints."""
        client, server = self._endpoints.allocate(group)
        c = self._new(group, cap, Tuple(*client, *server))
        c.tuple_known = False
        c.synthetic_reason = reason
        return c

    # ------------------------------------------------------ tuple-less captures

    def _hold(self, group: tuple, cap: Capture, ts: int) -> tuple[ConnState, Capture, int] | None:
        """A capture taken before eCapture knew its socket: to the first connection on its
        (pid, fd) whose own captures follow it, or held until one comes."""
        self._placement.note_unknown(group)
        c, fallback = self._placement.successor(group, ts, cap.data_type, cap.payload.startswith(METHODS))
        if c is not None:
            self.report.count(Count.BEFORE_TUPLE_PLACED)
            adopt(c, cap)
            return c, noted(cap, PLACED_NOTE), PRE
        return self._held(group, ts, cap, fallback=fallback)

    def _held(self, group: tuple, ts: int, cap: Capture, new_connection: bool = False, fallback=None) -> None:
        """``cap`` held for its connection. Captures held past the connection's buffer (a busy connection
        eCapture saw open before it knew its socket: 10 s of it can be a GB) are placed at once, as when
        the adopt window ends; the next ones wait again."""
        limit = self.limits.connection_buffer
        if self._placement.hold(group, ts, cap, new_connection, fallback) > limit:
            why = limit_note("connection_buffer", f"and over {limit} bytes of its captures waiting for it")
            self.report.warn("captures placed before their connection came", cap.origin, why)
            self._expire_held(group, why)
        together = self.limits.reorder_buffer
        while self._placement.held_bytes > together and len(self._placement.held) > 1:  # (many (pid, fd)s waiting:
            why = limit_note("reorder_buffer", f"and over {together} bytes of captures of all (pid, fd)s waiting")
            self.report.warn("captures placed before their connection came", cap.origin, why)
            self._expire_held(next(iter(self._placement.held)), why)

    def _expire_held(self, group: tuple, why: str) -> None:
        """No connection came for held captures: a v1 unknown-tuple capture joins the connection
        before it on its (pid, fd); what is left gets invented endpoints, and says so."""
        held = self._placement.take(group)
        prev = self._current.get(group)
        if not held.new_connection and prev is not None and not prev.closed:
            for ts, cap in held.items:
                if prev.tuple_known:
                    self.report.count(Count.BEFORE_TUPLE_PLACED)
                    cap = noted(cap, JOINED_NOTE)
                self._accept(prev, cap, ts, PRE)
            return
        first = held.items[0][1]
        reason = (f"eCapture never gave the tuple (0.0.0.0:0-0.0.0.0:0 {why})" if not held.new_connection else
                  "data of a new connection on a reused fd whose accept/connect line never came")
        if prev is not None and held.new_connection:
            prev.superseded = True
            self._schedule(prev)
        # on a (pid, fd) that had connections it could belong to: not placed; else simply a connection
        # whose tuple eCapture never gave (its SYN comment says the endpoints are invented)
        unplaced = held.new_connection or self._placement.had_connections(group)
        c = self._synthetic(group, first, reason)
        if first.fd is not None and held.new_connection:  # its later data follows it, not the old tuple
            self._placement.learn(first.pid, first.fd, c.tuple, self.clock)
        if unplaced:
            self.report.count(Count.BEFORE_TUPLE_UNPLACED, len(held.items))
        for ts, cap in held.items:
            self._accept(c, noted(cap, NOT_PLACED + reason) if unplaced else cap, ts, PRE)

    def _connect_info(self, info: ConnectInfo) -> list[FlowEvent]:
        out: list[FlowEvent] = []
        # (info.timestamp_ns is a receive time: it must not move the clock of the events' own times)
        if info.kind == "connect" and info.tuple is not None:
            group = ("fd", info.pid, info.fd)
            prev = self._current.get(group)
            early: list = []
            # a new connect on the same fd ends the previous one (§11.1), also one of the same tuple (a client's port
            # reused; a non-blocking connect() called again before any data ends one that writes nothing)
            if prev is not None:
                prev.superseded = True
                self._schedule(prev)
                self._current.pop(group, None)
                if prev.tail:
                    early = self._taken_back(prev)
            old = self._by_key.get((group, info.tuple))
            if old is not None and old.superseded:  # (that one, or one before it on the fd: the line's tuple
                del self._by_key[(group, info.tuple)]  # names the next one, which ends it when it opens: _emit)
                self._displaced[(group, info.tuple)] = old
            self._placement.learn(info.pid, info.fd, info.tuple, self.clock)
            held = self._placement.take(group)
            if held is not None:  # data that came before this line: the connection it opens
                first = held.items[0][1]
                c = self._by_key.get((group, info.tuple)) or self._new(group, first, info.tuple)
                self.report.count(Count.BEFORE_TUPLE_PLACED, len(held.items))
                for ts, cap in held.items:
                    self._accept(c, noted(cap, EARLY_NOTE) if held.new_connection else cap, ts, PRE)
            if early:  # (the previous connection's last captures, still held, were this one's)
                c = self._by_key.get((group, info.tuple)) or self._new(group, early[0][1], info.tuple)
                self.report.count(Count.BEFORE_TUPLE_PLACED, len(early))
                for ts, cap in early:
                    self._accept(c, noted(cap, EARLY_NOTE), ts, PRE)
        self._release(out)
        return out

    def _taken_back(self, prev: ConnState) -> list[tuple[int, Capture]]:
        """What the connection a new accept/connect line opens on ``prev``'s fd takes back from ``prev``: the request
        ``prev`` ends with (:attr:`ConnState.tail`) when all of it is still in the reorder buffer. A server read the
        next connection's request before eCapture's accept line for it came; an HTTP/1 request can continue an
        HTTP/1 connection, so it had gone on ``prev``, which cannot have read it: its fd was closed to be reused.
        (The buffer is searched only then: a connection mostly ends with its response.)"""
        wanted = set(prev.tail)
        taken = sorted((item for item in self._heap if item[4] is prev and item[3] in wanted), key=lambda it: it[3])
        if len(taken) != len(wanted):  # (a part went on already: left where it is)
            return []
        prev.tail = None
        gone = {item[3] for item in taken}
        self._heap = [item for item in self._heap if item[3] not in gone]
        heapq.heapify(self._heap)
        self._heap_bytes -= sum(len(item[5].payload) + HELD_COST for item in taken)
        return [(item[0], item[5]) for item in taken]

    # ---------------------------------------------------------------- emission

    def _emit(self, c: ConnState, cap: Capture, ts: int, direction: Direction, out: list[FlowEvent]) -> None:
        if c.opened and ts - c.last_released_ts > self._idle_after:  # (idle longer than the timeout: ends first)
            self._idle_gap(c, out)
        if c.closed:  # a straggler after the connection was closed: reopen a new one (said if the open limit ended it)
            cap = self._reopen(c, cap)
        if cap.form is _RENDERED and is_stale_reemit(c.last_headers, c.upgraded, cap.payload, direction, ts, cap.uuid):
            c.reemits += 1  # (left out, counted: said in its Closed event's notes)
            self.report.count(Count.STALE_REEMITS)
            return
        if not c.opened:
            c.opened = True
            if self._displaced:  # the one before of its tuple ends first (Wireshark tells streams by their tuple)
                old = self._displaced.get((c.group, c.tuple))
                if old is not None and old is not c:  # (not the one it names opening late)
                    self._close(old, superseded_reason(old), out)  # (which forgets it)
            if cap.uuid and cap.uuid not in c.uuids:
                c.uuids.append(cap.uuid)
            keep = False
            other = self._from.get(c.client)
            if other is None:
                self._from[c.client] = c
            else:
                keep = self._keeps_port(c, other)
            c.conn = Connection(  # (by position, in the fields' order: ~0.6k instructions less than by keyword)
                next(self._ids), c.pid, c.comm, c.fd, c.client, c.server, c.tuple_known, c.synthetic_reason, c.role,
                tuple(c.uuids), cap.tid, c.module, keep,
            )
            if len(self._open) >= self.limits.open_connections:
                self._end_idlest(out, cap.origin)  # first, so that no more are ever open at once
            self.report.counts[Count.CONNECTIONS] += 1  # (without Report.count's call: once a connection)
            out.append(Opened(c.conn, ts))
            self._open[id(c)] = c
        else:
            self._open.move_to_end(id(c))
        if ts > self._released_ns:
            self._released_ns = ts
        out.extend(chunks(c, cap, direction, ts, self.report, self.normalize))
