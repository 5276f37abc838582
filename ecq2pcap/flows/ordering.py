"""The connection table's reorder buffer: captures wait for ``reorder_window_ns`` of capture time and
come out ordered by (time, rank, client→server first, arrival); a connection's captures wait for its
role first (which end eCapture hooked decides their direction).

A mixin of :class:`~.table.ConnectionTable` (its state: ``_heap``, ``_heap_bytes``, ``_unroled``, the
clock, the limits), kept apart because it is its own job, as :mod:`.lifecycle` is: when a capture goes
on, not what it becomes (:meth:`~.table.ConnectionTable._emit`). Bounded: past ``--max-reorder-buffer``
the oldest captures go on early, and so do connections waiting for their role.
"""

from __future__ import annotations

import heapq

from msgspec.structs import replace

from ..limits import HELD_COST, limit_note
from ..model import Capture, DataType, Direction, FlowEvent
from ..report import Count
from .lifecycle import SECOND
from .roles import may_start_request
from .state import ConnState

PRE, REAL = 0, 1  # at equal times a connection's tuple-less (first) captures go before the others

ROLE_WAIT_BYTES = 4 << 20  # at most this much of a connection waits for its role
# bytes made up for frames' lost rests (zeros, up to 16 MiB a frame: alignment.MAX_FILL) in one list of events, after
# which a release stops and the list goes to the sinks first (ConnectionTable.cut): 60 WebSocket frame headers saying
# 16 MiB, in 32 KB of a dump, made a list of 1 GB, and 3 GB of RSS in the pcapng sink
MADE_UP_BATCH = 16 << 20
TAIL_KEPT = 64  # captures of a request a connection ends with that an accept line may take back (ConnState.tail)
AFTER_EARLY_NOTE = limit_note("reorder_buffer", "arrived after captures of its second that went on early: placed "
                              "after them, not before")
ROLE_SETTLED = "connection's role settled early"
ROLE_SETTLED_NOTE = limit_note("reorder_buffer", "its captures went on to keep those waiting under it")
SHORTER_WINDOW = "captures put in time order over a shorter window"
SHORTER_WINDOW_NOTE = limit_note("reorder_buffer", "its captures released before --reorder-window passed; an older "
                                 "one that comes later is placed out of order, said in its packet comment")


_C2S, _S2C, _WRITE = Direction.C2S, Direction.S2C, DataType.WRITE  # (Enum members: ~0.15 µs to read on 3.11)


def noted(cap: Capture, note: str) -> Capture:
    """``cap`` with one more note."""
    return replace(cap, notes=cap.notes + (note,))


class Ordering:
    def _warn_about(self, c: ConnState, reason: str, origin: str, detail: str) -> None:
        """A warning about connection ``c`` alone. With filters it waits for their decision on its Connection
        (:attr:`~ecq2pcap.report.Report.held`): at once when ``c`` is open, else once its next one is built (at its
        next capture released: :meth:`~.table.ConnectionTable._emit`), so that a connection the filters leave out is
        not said to the user, as if its traffic were in the outputs."""
        report = self.report
        if report.held is None:  # (no filters: said at once)
            report.warn(reason, origin, detail)
        elif c.opened and not c.closed:
            report.warn(reason, origin, detail, c.conn.id)
        elif c.warnings is None:
            c.warnings = [(reason, origin, detail)]
        else:
            c.warnings.append((reason, origin, detail))

    def _submit(self, c: ConnState, cap: Capture, ts: int, rank: int) -> None:
        """Into the reorder buffer, or wait while the connection's role is unknown."""
        if c.role_known:
            self._push(c, cap, ts, rank)
            return
        c.unroled.append((ts, cap, rank))
        size = len(cap.payload) + HELD_COST
        c.unroled_bytes += size
        self._unroled_bytes += size
        self._unroled[id(c)] = c
        if c.unroled_bytes > ROLE_WAIT_BYTES:
            self._role_settled(c)
        elif self._unroled_bytes > self.limits.reorder_buffer:  # (many connections waiting: the longest goes on,
            longest = next(iter(self._unroled.values()))  # said at its first capture: the warning is about it)
            self._warn_about(longest, ROLE_SETTLED, longest.unroled[0][1].origin, ROLE_SETTLED_NOTE)
            self._role_settled(longest)

    def _role_settled(self, c: ConnState) -> None:
        """The role is known (or no longer waited for: the default, client, stays)."""
        c.role_known = True
        self._unroled.pop(id(c), None)
        self._unroled_bytes -= c.unroled_bytes
        waiting, c.unroled, c.unroled_bytes = c.unroled, [], 0
        for ts, cap, rank in waiting:
            self._push(c, cap, ts, rank)

    def _settle_mute(self, limit: int) -> None:
        """Connections whose bytes both ways told no role, the first of them past the reorder window: no later bytes
        will (the default, client, stays). They waited the adopt window (10 s) and then went on with their old
        times, behind seconds of newer packets (a pcapng out of time order); one that has spoken one way only may
        be a server's greeting whose client answers later, and waits on."""
        for c in [c for c in self._unroled.values() if len(c.seen_types) > 1 and c.unroled[0][0] <= limit]:
            self._role_settled(c)

    def _push(self, c: ConnState, cap: Capture, ts: int, rank: int) -> None:
        # Equal times: a connection's captures from before its tuple was known go first (they
        # are its first calls; v1.4 times are whole seconds). Then v1 events are merged flushes whose arrival order means nothing
        # (a response's worker may flush first), so client→server goes first; v2 events
        # (no uuid) are single calls sent as they happen, so arrival order is the truth.
        # The direction (which way the bytes went, from the end eCapture hooked: c.role) is kept for _emit: the role
        # is known before a capture is pushed, and never changes. (An unknown data type: taken as the process's write.)
        data_type = cap.data_type
        direction = _C2S if (data_type is _WRITE or data_type is None) == (c.role == "client") else _S2C
        self._heap_bytes += len(cap.payload) + HELD_COST
        seq = next(self._seq)
        heapq.heappush(self._heap, (ts, rank, direction if cap.uuid is not None else 0, seq, c, cap, direction))
        if cap.uuid is not None:  # (v1: its tuple is in every event, no accept line comes after its data)
            return
        if direction is c.tail_dir:  # (v2: the run of one-way captures a connection ends with, ConnState.tail)
            if c.tail is not None:
                c.tail.append(seq)
                if len(c.tail) > TAIL_KEPT:
                    c.tail = None
        else:
            c.tail = [seq] if c.tail_dir is not None and direction is _C2S and may_start_request(cap.payload) else None
            c.tail_dir = direction

    def _release(self, out: list[FlowEvent], everything: int = 0) -> None:
        """The captures whose reorder window passed; with ``everything``, all of them whatever their time, until
        ``out`` holds that many events (the end of input, in batches: :meth:`ConnectionTable.close_all_batches`)."""
        window = self.reorder_window_ns
        limit = self.clock - window
        if self._unroled and not everything:
            self._settle_mute(limit)
        heap, deadlines, report = self._heap, self._deadlines, self.report
        if not out:  # (the bytes made up in the list are counted from its start)
            self._stop = report.made_up + MADE_UP_BATCH
        while heap and (heap[0][0] <= limit if not everything else len(out) < everything):
            if deadlines and deadlines[0][0] < heap[0][0] + window:  # (a connection's deadline passed first: it
                self._expire(heap[0][0] + window, out)  # ends before this capture, however the clock got here)
                continue
            ts, rank, hint, _, c, cap, direction = heapq.heappop(heap)
            self._heap_bytes -= len(cap.payload) + HELD_COST
            if c.early is not None and ts == c.early[0]:
                cap = self._after_early(c, cap, (ts, rank, hint))
            self._emit(c, cap, ts, direction, out)
            if report.made_up > self._stop:  # (the list holds MADE_UP_BATCH made up: the rest after it, more())
                self.cut = True
                return
        if self._early_released or self._heap_bytes > self.limits.reorder_buffer:  # (a busy second of v1.4, whose
            self._release_early(out)  # times are whole seconds, or a capture whose times stand still: held whole,
            if self.cut:  # it took 6× its size)
                return
        if not everything and self.clock - self._last_sweep >= SECOND:
            last, self._last_sweep = self._last_sweep, self.clock
            self._sweep(out)
            if self.cut:  # (the sweep goes on with the rest, more())
                self._last_sweep = last

    def more(self) -> list[FlowEvent]:
        """The rest of a release that stopped (:attr:`cut`) once its list held :data:`MADE_UP_BATCH` bytes made up
        for frames' lost rests: the same events, in the same order, as if it had not stopped."""
        out: list[FlowEvent] = []
        self.cut = False
        self._release(out)
        return out

    def _release_early(self, out: list[FlowEvent]) -> None:
        """The oldest captures go on before their reorder window passed, down to half the buffer. Each connection
        they go on in is warned of once, at the first of its captures (with filters, a warning about a connection
        waits for their decision on it: one they leave out is not said)."""
        heap, keep, n, report = self._heap, self.limits.reorder_buffer // 2, self._early_released, self.report
        warned = self._early_warned  # (the connections this release warned of, kept while it stops for more())
        while heap and self._heap_bytes > keep:
            ts, rank, hint, _, c, cap, direction = heapq.heappop(heap)
            self._heap_bytes -= len(cap.payload) + HELD_COST
            key = (ts, rank, hint)
            if c.early is not None and ts == c.early[0]:
                cap = self._after_early(c, cap, key)
            if c.early is None or key > c.early:
                c.early = key
            self._emit(c, cap, ts, direction, out)
            n += 1
            conn = c.conn  # (the Connection it went on in; none when left out as a stale re-emit before any opened)
            if conn is None:
                if -id(c) not in warned:
                    warned.add(-id(c))
                    self._warn_about(c, SHORTER_WINDOW, cap.origin, SHORTER_WINDOW_NOTE)
            elif conn.id not in warned:  # (said with its events, in this list: held for the filters' decision)
                warned.add(conn.id)
                report.warn(SHORTER_WINDOW, cap.origin, SHORTER_WINDOW_NOTE, conn.id)
            if report.made_up > self._stop:  # (as in _release: it goes on in more())
                self._early_released, self.cut = n, True
                return
        self._early_released = 0
        warned.clear()

    def _after_early(self, c: ConnState, cap: Capture, key: tuple) -> Capture:
        """``cap`` (of the second of ``c``'s captures released early) as it goes on: one that would have gone before
        them (a request at the time of its response: equal times, no "late" note of :mod:`.emission`) says so."""
        if key[1:] >= c.early[1:]:
            return cap
        c.late += 1
        self.report.count(Count.LATE_EVENTS)
        return noted(cap, AFTER_EARLY_NOTE)
