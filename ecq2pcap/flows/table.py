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

import itertools
from collections import OrderedDict
from collections.abc import Callable

from ..limits import DEFAULT_LIMITS, Limits
from ..model import (
    Capture,
    ConnectInfo,
    Connection,
    Direction,
    FlowEvent,
    NotedTuple,
    Opened,
    PayloadForm,
    Tuple,
)
from ..report import Count, Report
from .client_ports import ClientPorts
from .closing import NO_REQUEST, request_head
from .endpoints import SyntheticEndpoints
from .normalize import Normalizer
from .emission import chunks
from .lifecycle import SECOND, Lifecycle, superseded_reason
from .ordering import PRE, REAL, Ordering, noted
from .reemits import is_stale_reemit
from .placement import PLACED_NOTE, Placement, Shape, cannot_continue, client_streams
from .roles import infer_role
from .state import ConnState
from .waiting import Waiting

MAX_UUIDS = 8  # uuids named in a connection's SYN comment (each chunk's comment names its own)
_NO_TUPLE = {"gotls": "eCapture's gotls events carry no socket tuple: one connection per process (Go moves "
                      "goroutines between threads), several at once are merged here"}
_RENDERED = PayloadForm.HTTP1_RENDERED  # (Enum members: ~0.15 µs to read on Python 3.11)
_NO_SHAPE = Shape()  # (read only) the shape of a connection none of whose bytes was looked at yet
UNUSABLE_TUPLE = "tuple with no usable IP address: endpoints invented"
ZONE_LEFT_OUT = "tuple with an IPv6 zone id"


class ConnectionTable(Waiting, Ordering, Lifecycle, ClientPorts):
    # (slots, read on every capture many times: an instance dict holds at most 30 keys shared with the class's other
    # instances, past which Python 3.11 reads each attribute the slow way: 31 cost --har 4.5k instructions an event)
    __slots__ = ("report", "limits", "reorder_window_ns", "adopt_window_ns", "idle_timeout_ns", "_idle_after",
                 "repair_http1", "normalize", "clock", "_released_ns", "_written_ns", "_leaves_out", "_heap",
                 "_heap_bytes", "cut", "_stop", "_early_released", "_early_warned", "_seq", "_ids", "_by_key",
                 "_current", "_displaced", "_placement", "_unroled", "_unroled_bytes", "_endpoints", "_last_sweep",
                 "_deadlines", "_open", "_from", "_moved_next", "_ended")

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
        leaves_out: Callable[[Connection], bool] | None = None,
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
        # what the pcapng has written so far: the same without filters; with them, not what a connection they leave
        # out whatever its requests say (leaves_out: --pid, --comm, --port) released (Count.OUT_OF_ORDER)
        self._written_ns = 0
        self._leaves_out = leaves_out
        self._heap: list = []  # (ts, rank, direction hint, seq, ConnState, Capture, Direction)
        self._heap_bytes = 0  # their payloads' (at most limits.reorder_buffer: see _release)
        self.cut = False  # a release stopped at ordering.MADE_UP_BATCH bytes made up: more() goes on with it
        self._stop = 0  # (the report's made_up at which it stops)
        self._early_released = 0  # captures an early release that stopped so let go (it goes on in more())
        self._early_warned: set[int] = set()  # the Connection ids its warning named (-id(): a state's)
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
        # (group, tuple) -> (Connection id, deadline, origin) of a connection the open limit ended, until a later
        # capture of it or its idle timeout (Lifecycle._remember_ended), the earliest ended first
        self._ended: OrderedDict[tuple, tuple[int, int, str]] = OrderedDict()
        self._open: OrderedDict[int, ConnState] = OrderedDict()  # id -> opened conn, least recently active first
        # client address and port shown -> the open connection from it, or those (a list) when several are open
        # (.client_ports; no object made for the one a client port mostly has: counts in dicts of new keys cost ~3k
        # instructions an event, most of it the collector's)
        self._from: dict[tuple, ConnState | list[ConnState]] = {}
        self._moved_next = 0  # where the ports of connections whose 4-tuple was open go on (.client_ports)

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
        c = ConnState(group, tup, cap.pid, cap.comm, cap.fd, cap.module, normalizer=self._normalizer())
        if type(tup) is Tuple:
            c.client, c.server = (tup.src_ip, tup.src_port), (tup.dst_ip, tup.dst_port)
        else:
            self._noted(c, group, tup, cap.origin)
        self._by_key[(group, tup)] = c
        self._current[group] = c
        self._placement.track(c)
        return c

    def _noted(self, c: ConnState, group: tuple, tup: NotedTuple, origin: str) -> None:
        """``c``'s tuple is not written as eCapture gave it (a :class:`~ecq2pcap.model.NotedTuple`): its endpoints are
        invented when an address in it is none (the tuple is its key still), else written without an IPv6 zone id;
        said at its first capture, and in its SYN's comment."""
        if tup.unusable:
            c.client, c.server = self._endpoints.allocate(group)
            c.tuple_known, c.synthetic_reason = False, tup.note
            self._warn_about(c, UNUSABLE_TUPLE, origin, tup.note)
        else:
            c.client, c.server = (tup.src_ip, tup.src_port), (tup.dst_ip, tup.dst_port)
            c.tuple_note = tup.note
            self._warn_about(c, ZONE_LEFT_OUT, origin, tup.note)

    def _normalizer(self) -> Normalizer | None:
        """A new connection's :class:`Normalizer`; None when the table hands on captures, normalised after it
        (``convert -j``'s first process: making and freeing one a connection that is never used was ~4 % of it)."""
        return Normalizer(repair_http1=self.repair_http1, limits=self.limits) if self.normalize else None

    def _synthetic(self, group: tuple, cap: Capture, reason: str) -> ConnState:
        """A connection whose tuple eCapture never gave: stable invented endpoints."""
        client, server = self._endpoints.allocate(group)
        c = self._new(group, cap, Tuple(*client, *server))
        c.tuple_known = False
        c.synthetic_reason = reason
        return c

    # ---------------------------------------------------------------- emission

    def _emit(self, c: ConnState, cap: Capture, ts: int, direction: Direction, out: list[FlowEvent]) -> None:
        if c.opened and ts - c.last_released_ts > self._idle_after:  # (idle longer than the timeout: ends first)
            self._idle_gap(c, out)
        if c.closed:  # a straggler after the connection was closed: reopen a new one
            self._reopen(c)
        if cap.form is _RENDERED and is_stale_reemit(c.last_headers, c.upgraded, cap.payload, direction, ts, cap.uuid):
            c.reemits += 1  # (left out, counted: said in its Closed event's notes)
            self.report.count(Count.STALE_REEMITS)
            return
        # where the pcapng writes it: a late capture of an opened connection goes at that connection's latest
        at = c.last_released_ts if c.opened and c.last_released_ts > ts else ts
        if not c.opened:
            c.opened = True
            if self._displaced:  # the one before of its tuple ends first (Wireshark tells streams by their tuple)
                old = self._displaced.get((c.group, c.tuple))
                if old is not None and old is not c:  # (not the one it names opening late)
                    self._close(old, superseded_reason(old), out)  # (which forgets it)
            if cap.uuid and cap.uuid not in c.uuids:
                c.uuids.append(cap.uuid)
            if c.client in self._from:  # (another open from its client port: .client_ports decides how it is shown)
                keep, moved, same = self._client_port(c)
            else:
                c.shown_from, keep, moved, same = c.client, False, 0, 0
                self._from[c.client] = c
            c.conn = Connection(  # (by position, in the fields' order: ~0.6k instructions less than by keyword)
                next(self._ids), c.pid, c.comm, c.fd, c.client, c.server, c.tuple_known, c.synthetic_reason, c.role,
                tuple(c.uuids), cap.tid, c.module, keep, moved, same, c.tuple_note,
            )
            if c.warnings is not None:  # (said while it had no Connection: held for the filters' decision on this
                for reason, origin, detail in c.warnings:  # one, Ordering._warn_about)
                    self.report.warn(reason, origin, detail, c.conn.id)
                c.warnings = None
            if self._ended and (c.group, c.tuple) in self._ended:  # (the open limit ended one of its key: this may go
                cap = self._went_on(c, cap, ts)  # on with it; looked up here: a call each connection cost ~1k)
            if len(self._open) >= self.limits.open_connections:
                self._end_idlest(out, cap.origin)  # first, so that no more are ever open at once
            if self._leaves_out is not None:
                c.left_out = self._leaves_out(c.conn)
            self.report.counts[Count.CONNECTIONS] += 1  # (without Report.count's call: once a connection)
            out.append(Opened(c.conn, ts, cap.origin))
            self._open[id(c)] = c
        else:
            self._open.move_to_end(id(c))
        if c.left_out:  # (in no pcapng: neither written after later ones nor later than others)
            if ts > self._released_ns:
                self._released_ns = ts
        elif ts > self._written_ns:
            self._written_ns = ts
            if ts > self._released_ns:
                self._released_ns = ts
        elif at < self._written_ns:  # (later than the reorder window, or waited for its tuple or role: the pcapng
            self.report.late(c.conn.id)  # goes back in time here, whichever connection went on)
        out.extend(chunks(c, cap, direction, ts, self.report, self.normalize))
