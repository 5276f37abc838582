"""Where a capture taken before eCapture knew its socket belongs (protocol doc §3.3, §11.9, §11.15).

eCapture reads SSL data and connect/accept events from different perf maps, so a
connection's first calls can be processed before its socket is known:

* v1 gives them the unknown-tuple uuid ``sock:PID_TID_COMM_FD_DT_0.0.0.0:0-0.0.0.0:0_0``.
  On a server that reuses one fd for every connection (nginx) that uuid is shared by all
  of them. Such calls are a connection's *first* ones, so a capture stamped ``T`` belongs
  to the first connection on that (pid, fd) whose real-tuple captures start at or after
  ``T`` — never to the one before (:func:`pick_successor`).
* v2 text events carry no tuple at all; a (pid, fd) takes the tuple of its last
  connect/accept line. Data of a new connection that arrives before its accept line would
  land on the previous connection on that fd. Bytes that cannot continue that connection
  (:func:`cannot_continue`: a second HTTP/2 preface or opening SETTINGS, an HTTP/1 request
  on an HTTP/2 or upgraded connection, or after an exchange that closed it) start a new one
  that waits for its accept line.

Neither rule depends on when the events arrive, only on their times, bytes and order.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from ..limits import HELD_COST
from ..model import Capture, DataType, PayloadForm, Tuple
from ..payloads.h2 import PREFACE
from ..payloads.h2dump import parse_h2_dump
from .closing import NO_REQUEST, alone_on_its_connection, closes_connection
from .roles import METHODS, is_server_settings

RECENT = 8  # connections per (pid, fd) remembered
CLOSED_GROUPS = 4096  # (pid, fd)s remembered after their last connection closed
UNKNOWN_GROUPS = 4096  # (pid, fd)s remembered as having had unknown-tuple captures

PLACED_NOTE = ("captured before eCapture knew its socket (unknown-tuple uuid): placed on this connection, the "
               "first on its (pid, fd) whose own calls follow")
EARLY_NOTE = "captured before this connection's accept/connect line: placed on it"
JOINED_NOTE = ("captured before eCapture knew its socket (unknown-tuple uuid) and no later connection on its "
               "(pid, fd) followed: placed on the connection before")


@dataclass(slots=True)
class Shape:
    """What a connection's bytes have shown so far (enough for :func:`cannot_continue`)."""

    http1: bool = False
    http2: bool = False
    preface: bool = False
    upgraded: bool = False
    closing: bool = False  # an HTTP/1 message said the connection ends after its exchange (see closes_connection)
    settings: set = field(default_factory=set)  # data types whose bytes opened with a SETTINGS frame
    client_streams: int = 0  # the highest stream a client's HEADERS opened in eCapture's v1 dumps (no fd only)

    def update(self, cap: Capture) -> None:
        kind = opening(cap)
        if kind == "preface":
            self.preface = self.http2 = True
            if len(cap.payload) > len(PREFACE):  # (its SETTINGS with it: a Go server reads the preface alone,
                self.settings.add(cap.data_type)  # then that SETTINGS frame, which opens nothing new)
        elif kind == "settings":
            self.http2 = True
            self.settings.add(cap.data_type)
        elif kind in ("request", "response"):
            self.http1 = True
            if kind == "response" and cap.payload[9:13] == b"101 ":
                self.upgraded = True
            if closes_connection(cap.payload):
                self.closing = True
        elif cap.form is PayloadForm.H2_DUMP:
            self.http2 = True


def opening(cap: Capture) -> str | None:
    """How a capture's bytes begin: "preface", "settings" (a SETTINGS frame on stream 0, not
    an ACK), "request" / "response" (an HTTP/1 start line), or None."""
    p = cap.payload
    if cap.form is PayloadForm.H2_DUMP:
        return None
    if p.startswith(PREFACE):
        return "preface"
    if p.startswith(METHODS):
        return "request"
    if p.startswith((b"HTTP/1.0 ", b"HTTP/1.1 ")):
        return "response"
    if cap.form is PayloadForm.RAW and is_server_settings(p):
        return "settings"
    return None


def cannot_continue(shape: Shape, cap: Capture, one_socket: bool = False) -> bool:
    """True when ``cap``'s bytes cannot be the continuation of a connection of ``shape``: they
    open a new connection (a preface or opening SETTINGS the connection already had that way,
    HTTP/1 on an HTTP/2 connection, HTTP/2's opening on an HTTP/1 one that did not switch protocols, a request
    after an upgrade). With ``one_socket`` (the captures of one (pid, fd)), also a request after a message
    that closed the connection (:func:`closes_connection`); without (a thread's or a process's
    connections, told apart by their bytes alone), such a request may be another open connection's."""
    kind = opening(cap)
    if kind == "preface":  # (after a 101, HTTP/2's opening is h2c's: RFC 9113 §3.2's upgrade, not a new connection)
        return shape.preface or (shape.http1 and not shape.upgraded)
    if kind == "settings":
        return cap.data_type in shape.settings or (shape.http1 and not shape.http2 and not shape.upgraded)
    if kind == "request":
        return shape.http2 or shape.upgraded or (one_socket and shape.closing)
    if kind == "response":
        return shape.http2
    return False


def client_streams(cap: Capture, role: str) -> list[int]:
    """The streams the HEADERS frames of ``cap`` name when it is an HTTP/2 dump of the client's (the process's
    writes when it is the client, its reads when it is the server), else nothing. HTTP/2 never reuses a
    stream: a client opening one at or below those it opened before is on a new connection."""
    if cap.form is not PayloadForm.H2_DUMP or (cap.data_type is DataType.WRITE) != (role == "client"):
        return []
    return [f.stream_id for f in parse_h2_dump(cap.payload, lazy=True).frames if f.type == "HEADERS"]


@dataclass(slots=True)
class Held:
    """Captures of one (pid, fd) waiting for their connection."""

    items: list = field(default_factory=list)  # (time, capture)
    since: int = 0  # the first one's time
    new_connection: bool = False  # v2: bytes that started a connection whose accept line is to come
    size: int = 0  # their payloads' bytes
    fallbacks: dict | None = None  # id(capture) -> the connection it goes to unless one starts in its second

    def add(self, ts: int, cap: Capture, fallback=None) -> None:
        if not self.items:
            self.since = ts
        self.items.append((ts, cap))
        self.size += len(cap.payload)
        if fallback is not None:
            if self.fallbacks is None:
                self.fallbacks = {}
            self.fallbacks[id(cap)] = fallback


KNOWN_KEPT = 65536  # (pid, fd)s whose connect line is remembered (~500 bytes each)


def adopt(c, cap: Capture) -> None:
    """Connection ``c`` takes ``cap``, captured before eCapture knew its socket: the direction of a v1 one (an
    unknown-tuple uuid's event) is kept (see :func:`pick_successor`)."""
    if cap.uuid is not None:
        if c.adopted is None:
            c.adopted = set()
        c.adopted.add(cap.data_type)


def pick_successor(conns, ts: int, data_type: DataType, request: bool = False):
    """Where a capture of time ``ts`` and direction ``data_type`` goes: (the first of ``conns``, a (pid, fd)'s recent
    connections, whose real-tuple captures start at or after ``ts``, None), or (None, a fallback) while it is held
    for a connection to come, or (None, None).

    At a tie, a connection whose real-tuple captures start at ``ts`` itself (v1.4's whole seconds, §11.13), it is
    not taken when it already took an unknown-tuple capture of that direction then (:func:`refuses`), and only as
    a fallback when it has a real-tuple one: eCapture flushes a uuid's calls ~1.1 s after its last (§4.1). A
    connection's first calls in a direction, made before eCapture knew its socket, are one burst of one thread under
    the unknown-tuple uuid, flushed before its later calls of that direction under its own, so one that comes after
    those is mostly the next connection's first calls (on a busy server: the next on the fd, whose own captures are
    flushed after it; also from another thread of a pool). It waits for that connection, and goes to the fallback
    when the next to come starts in a later second (:meth:`Placement.due_for`) or none comes: a connection's own
    burst comes after its later calls when they followed within the ticker's 100 ms (a WebSocket's first frames
    right after its 101, a fast keep-alive). A ``request`` is not given to a connection whose own request then is
    alone on it (:func:`alone_on_its_connection`: HTTP/1.0 without keep-alive, as ab sends): it waits for the
    next, and joins that one only when none comes."""
    best = tied = None
    for c in conns:
        first = c.first_real_ts
        if first is None or first < ts or c.closed or best is not None and first >= best.first_real_ts:
            continue
        if first == ts:
            if refuses(c, first, ts, data_type):
                continue
            if c.first_types >> data_type & 1:
                if request and c.first_request and alone_on_its_connection(c.first_request):
                    continue
                tied = tied or c
                continue
        best = c
    if tied is not None and (best is None or best.first_real_ts != ts):
        return (tied, None) if best is not None else (None, tied)
    return best, None


def refuses(c, first: int, ts: int, data_type: DataType) -> bool:
    """Connection ``c``, whose real-tuple captures start at ``first``, already took an unknown-tuple capture of
    direction ``data_type`` at that time: one of ``ts`` is a later connection's (see :func:`pick_successor`)."""
    return first == ts and c.adopted is not None and data_type in c.adopted


class Placement:
    """What the table knows to place tuple-less captures: each (pid, fd)'s tuple from its last
    v2 connect/accept line, its last few connections, and the captures waiting for theirs."""

    def __init__(self) -> None:
        self.held: dict[tuple, Held] = {}  # group -> captures waiting for their connection, oldest first
        self.held_bytes = 0  # theirs, each counted with limits.HELD_COST
        self._recent: dict[tuple, list] = {}  # group -> its last few open connections, oldest first
        # groups whose connections all closed (the latest few; an OrderedDict: evicting the oldest of a
        # plain dict is O(deleted entries) per call)
        self._closed_groups: OrderedDict[tuple, None] = OrderedDict()
        # (pid, fd)s that had unknown-tuple captures, the latest last (their connections keep their first request)
        self._unknown: OrderedDict[tuple, None] = OrderedDict()
        # (pid, fd) -> (tuple, time) from connect lines, the latest last (an OrderedDict: see _closed_groups)
        self._known: OrderedDict[tuple, tuple[Tuple, int]] = OrderedDict()

    def tuple_of(self, pid: int, fd: int) -> Tuple | None:
        known = self._known.get((pid, fd))
        return known[0] if known else None

    def learn(self, pid: int, fd: int, tup: Tuple, now: int) -> None:
        """A connect/accept line's tuple for (pid, fd). At most :data:`KNOWN_KEPT`, the oldest line forgotten first:
        the lines of connections long gone are forgotten by capture time (:meth:`forget_old`), but a burst of them
        (processes that send no data, §11.2; times that stand still) has none to go by."""
        known, key = self._known, (pid, fd)
        known[key] = (tup, now)
        known.move_to_end(key)  # (a new line for it is the latest)
        if len(known) > KNOWN_KEPT:
            known.popitem(last=False)

    def forget_old(self, now: int, old: int, alive) -> None:
        """Forget connect lines older than ``old`` whose connection is gone (``alive(key, tuple)``
        is False): bounded memory.

        The lines are in the order they were learnt, their times' (the clock only goes forward; a line learnt
        again, or before any capture time when its clock starts, moves to the end), so only the old ones at the
        front are read: all of them at each sweep (a second of capture time) was ~100 ms with KNOWN_KEPT."""
        known = self._known
        gone, unstarted = [], []
        for key, (tup, t) in known.items():
            if not t:  # seen before any capture time was known: start its clock now
                unstarted.append(key)
            elif t >= old:
                break  # (and every line after it)
            elif not alive(key, tup):
                gone.append(key)
        for key in gone:
            del known[key]
        for key in unstarted:
            known[key] = (known[key][0], now)
            known.move_to_end(key)

    def track(self, c) -> None:
        if self._unknown and c.group in self._unknown:  # (its first request kept: pick_successor reads it)
            c.first_request = NO_REQUEST
        # (a list trimmed by hand: a deque(maxlen=...) for every new (pid, fd) cost ~1 % of a conversion)
        recent = self._recent.get(c.group)
        if recent is None:
            self._recent[c.group] = [c]
        else:
            recent.append(c)
            if len(recent) > RECENT:
                del recent[0]

    def forget(self, c) -> None:
        """``c`` closed: it can no longer take captures (bounded memory: only open connections and
        their groups are remembered)."""
        recent = self._recent.get(c.group)
        if recent is not None:
            try:
                recent.remove(c)
            except ValueError:
                pass
            if not recent:
                del self._recent[c.group]
                self._closed_groups[c.group] = None  # (a group that had connections, for had_connections)
                if len(self._closed_groups) > CLOSED_GROUPS:
                    self._closed_groups.popitem(last=False)

    def had_connections(self, group: tuple) -> bool:
        return bool(self._recent.get(group)) or group in self._closed_groups

    def note_unknown(self, group: tuple) -> None:
        """``group`` had an unknown-tuple capture: its next connections keep their first request (see
        :meth:`track`)."""
        unknown = self._unknown
        if group in unknown:
            unknown.move_to_end(group)
        else:
            unknown[group] = None
            if len(unknown) > UNKNOWN_GROUPS:
                unknown.popitem(last=False)

    def successor(self, group: tuple, ts: int, data_type: DataType, request: bool = False):
        return pick_successor(self._recent.get(group, ()), ts, data_type, request)

    def hold(self, group: tuple, ts: int, cap: Capture, new_connection: bool = False, fallback=None) -> int:
        """Hold ``cap`` for its connection (``fallback``: see :func:`pick_successor`); the bytes held for ``group``
        now."""
        held = self.held.setdefault(group, Held(new_connection=new_connection))
        held.add(ts, cap, fallback)
        self.held_bytes += len(cap.payload) + HELD_COST
        return held.size

    def waits_new_connection(self, group: tuple) -> bool:
        held = self.held.get(group)
        return held is not None and held.new_connection

    def due_for(self, c) -> list:
        """The held captures of ``c``'s (pid, fd) that ``c``'s own captures follow, (connection, time, capture) each:
        taken out, and adopted by ``c``, or by their fallback when ``c`` starts in a later second."""
        held = self.held.get(c.group)
        first = c.first_real_ts
        if held is None or held.new_connection or first is None or held.since > first:
            return []
        due, keep, fallbacks = [], [], held.fallbacks
        for item in held.items:
            ts, cap = item
            if ts <= first and not refuses(c, first, ts, cap.data_type):
                to = fallbacks.pop(id(cap), None) if fallbacks else None
                if to is None or to.closed or first == ts:
                    to = c
                adopt(to, cap)  # (before the next is looked at: two of one direction at ``first`` are two connections')
                due.append((to, ts, cap))
            else:
                keep.append(item)
        self.held_bytes -= sum(len(cap.payload) + HELD_COST for _, _, cap in due)
        if keep:
            held.items, held.since = keep, keep[0][0]
        else:
            del self.held[c.group]
        return due

    def take(self, group: tuple) -> Held | None:
        """The captures held for ``group`` (taken out), or None."""
        held = self.held.pop(group, None)
        if held is not None:
            self.held_bytes -= sum(len(cap.payload) + HELD_COST for _, cap in held.items)
        return held

    def expired(self, now: int, window: int) -> list[tuple]:
        return [g for g, held in self.held.items() if now - held.since > window]
