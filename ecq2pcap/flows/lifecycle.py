"""When connections end: superseded by a new one on their fd, idle, or over the open limit
(the one idle longest), or at the end of input; and stragglers after a close, which reopen a new connection.

A mixin of :class:`~.table.ConnectionTable` (its state: ``_by_key``, ``_current``,
``_displaced``, ``_open``, ``_deadlines``, the clock), kept apart because it is its own job: the sweep
looks only at connections whose deadline passed, O(expired) per sweep, not O(open).
"""

from __future__ import annotations

import heapq
import itertools
from functools import lru_cache

from msgspec.structs import replace

from ..limits import CONTINUES, limit_note
from ..model import Capture, Closed, FlowEvent
from ..report import OPEN_LIMIT_PARTED, Count
from .emission import closing_notes
from .state import ConnState

SECOND = 1_000_000_000
CLOSING_BATCH = 4096  # events in each list of close_all_batches
DEADLINES_SLACK = 4096  # the deadline heap's entries past twice the connections known before it drops stale ones
IDLE = "idle timeout"
REUSED = "its fd was reused by a new connection"
# the connections the open limit ended that are remembered, times the limit (Lifecycle._remember_ended; ~0.3 KB each)
ENDED_REMEMBERED = 8
_NEVER = float("inf")  # (the deadline of a WebSocket's: no idle timeout ends one)
SUPERSEDED_NO_FD = "the bytes that followed opened a new connection (eCapture gave no socket to tell them apart)"


def superseded_reason(c: ConnState) -> str:
    """Why a superseded connection ends: its fd reused, or (no fd) the next bytes opened another."""
    return REUSED if c.fd is not None else SUPERSEDED_NO_FD


@lru_cache(maxsize=8)
def _open_limit_note(limit: int) -> str:
    """The note of every connection the open limit ends (the same for a run: made once)."""
    return limit_note("open_connections", f"ended early: more than {limit} connections open, this one idle longest")


class Lifecycle:
    def _sweep(self, out: list[FlowEvent]) -> None:
        """Place or expire waiting captures, close superseded and idle connections."""
        now = self.clock
        for group in self._placement.expired(now, self.adopt_window_ns):
            self._expire_held(group, "and no real tuple within the adopt window")
            self._release(out)
            if self.cut:  # (a list full of bytes made up: the sweep is made again after it, Ordering.more)
                return
        for c in list(self._unroled.values()):
            if now - c.unroled[0][0] > self.adopt_window_ns:
                self._role_settled(c)
                self._release(out)
                if self.cut:
                    return
        grace = 2 * self.reorder_window_ns
        if self.idle_timeout_ns:  # forget connect lines of connections long gone (bounded memory)
            self._placement.forget_old(now, now - max(self.idle_timeout_ns, grace),
                                       lambda key, tup: (("fd", *key), tup) in self._by_key)
        if self._ended:
            self._forget_ended(now)
        # only connections whose deadline passed: O(expired), not O(open), per sweep
        self._expire(now, out)

    # ------------------------------------------------------- the end of input

    def close_all(self, reason: str = "end of input") -> list[FlowEvent]:
        return [event for batch in self.close_all_batches(reason) for event in batch]

    def close_all_batches(self, reason: str = "end of input", size: int = CLOSING_BATCH):
        """:meth:`close_all`'s events in lists of about ``size``: everything held comes out at the end of input
        (hundreds of thousands of captures in a busy second), and the sinks take each list before the next is
        made, so that their events and the connections they open do not all exist at once."""
        for group in list(self._placement.held):
            self._expire_held(group, "until the end of input")
        for c in list(self._unroled.values()):
            self._role_settled(c)
        while self._heap:
            out: list[FlowEvent] = []
            self._release(out, everything=size)
            self.cut = False  # (a list cut short by the bytes made up in it: the next one goes on)
            yield out
        out = []
        for c in list(self._all_conns()):  # (the same reason as the sweep would have given)
            self._close(c, superseded_reason(c) if c.superseded else reason, out)
            if len(out) >= size:
                yield out
                out = []
        yield out

    def _all_conns(self):
        seen = set()
        # (and the opened ones: a connection a connect line of its own tuple superseded is in neither)
        for c in itertools.chain(self._by_key.values(), self._current.values(), self._open.values()):
            if id(c) not in seen:
                seen.add(id(c))
                yield c

    def _expire(self, now: int, out: list[FlowEvent]) -> None:
        """The connections whose deadline is before ``now``: superseded or idle ones end (the release of
        captures calls this with each capture's release time first, so that where a connection ends among the
        captures depends on the data alone, not on when a live run's clock ticked)."""
        dl, grace = self._deadlines, 2 * self.reorder_window_ns
        while dl and dl[0][0] < now:
            due, _, c = heapq.heappop(dl)
            if c.due != due:  # rescheduled since: a newer entry exists
                continue
            c.due = None
            if c.closed:
                continue
            if c.unroled:
                self._schedule(c, now + SECOND)
            elif c.superseded and now - c.last_ts > grace:
                self._close(c, superseded_reason(c), out)
            elif self.idle_timeout_ns and now - c.last_ts > max(self.idle_timeout_ns, grace) and not c.websocket:
                self._close(c, IDLE, out)
            else:
                self._schedule(c)

    def _schedule(self, c: ConnState, due: int | None = None) -> None:
        """(Re)enter ``c`` in the sweep's deadline heap (no-op when it can never expire)."""
        if due is None:
            grace = 2 * self.reorder_window_ns
            if c.superseded:
                horizon = grace
            elif self.idle_timeout_ns and not c.websocket:
                horizon = self.idle_timeout_ns if self.idle_timeout_ns > grace else grace  # (max()'s call: ~1.2k)
            else:
                return
            due = c.last_ts + horizon
        if c.due is not None and c.due <= due:
            return  # an earlier entry is there; it reschedules when popped
        c.due = due
        heapq.heappush(self._deadlines, (due, next(self._seq), c))
        if len(self._deadlines) > 2 * len(self._by_key) + DEADLINES_SLACK:
            self._compact_deadlines()

    def _compact_deadlines(self) -> None:
        """Only the entries that still count (a connection's latest, while it is not closed): the others wait to be
        popped at their time, and holding their connections a second of busy traffic whose times stand still
        (v1.4's whole seconds) kept every connection it saw end (60k of them: 180 MB). Dropping them early is what
        popping them does (:meth:`_expire`); a connection a straggler reopens is scheduled again."""
        keep = []
        for entry in self._deadlines:
            c = entry[2]
            if c.due == entry[0]:
                if c.closed:
                    c.due = None
                else:
                    keep.append(entry)
        self._deadlines[:] = keep  # (in place: the release of captures holds the list)
        heapq.heapify(self._deadlines)

    def _end_idlest(self, out: list[FlowEvent], origin: str = "") -> None:
        """Over --max-connections: end the connection idle longest (FIN, HAR entries); a later
        capture of it starts a new connection, as a straggler after a close does. ``origin``: the capture that
        opened one too many. Nothing is lost when none follows, as on a busy v1.4 host, whose connections end only
        by the limit or the idle timeout (eCapture v1.4 sends no close): the FIN comment says so, the summary counts
        it, and the warning waits for a later capture of it (:meth:`_went_on`), which shows the split."""
        c = next(iter(self._open.values()))
        if c.superseded:  # (its fd reused or its tuple's next one opened: it ended there, and only waited for its
            self._close(c, superseded_reason(c), out)  # late captures: ended as it would be, no limit said)
            return
        limit = self.limits.open_connections
        if c.synthetic_reason:  # (invented endpoints: a later capture of its thread gets others, so no key tells
            self.report.warn(OPEN_LIMIT_PARTED, origin, (  # that it goes on: said now, as it may)
                f"connection {c.conn.id} ended: more than {limit} connections open, it idle longest; eCapture gave "
                "no socket for it, so a later capture of its thread, if any, goes on in another; --max-connections "
                "sets the limit"), c.conn.id)
        else:
            self._remember_ended(c, origin)
        self.report.ended_early(c.conn.id)
        self._close(c, "too many open connections", out, (_open_limit_note(limit),))

    def _remember_ended(self, c: ConnState, origin: str) -> None:
        """Keep ``c``'s key until its idle timeout would have ended it: a capture of that key before then goes on
        with it (:meth:`_went_on`); one after it would have begun a new connection anyway. At most
        :data:`ENDED_REMEMBERED` times the open limit are kept (bounded memory: a flood of new connections); past it
        the earliest ended are forgotten first, counted (whether they went on is not told); :meth:`_forget_ended`
        forgets those whose idle timeout passed."""
        ended = self._ended
        last = c.last_released_ts if c.last_released_ts > c.last_ts else c.last_ts
        deadline = _NEVER if c.websocket else last + self._idle_after  # (no idle timeout: _idle_after is inf)
        key = (c.group, c.tuple)
        ended.pop(key, None)
        ended[key] = (c.conn.id, deadline, origin)
        if len(ended) > ENDED_REMEMBERED * self.limits.open_connections:
            if ended.popitem(last=False)[1][1] >= self.clock:  # (not past its idle timeout: it might have gone on)
                self.report.counts[Count.ENDED_UNTOLD] += 1

    def _forget_ended(self, now: int) -> None:
        """(The sweep, once a second of capture time.) The ended connections whose idle timeout passed: what comes
        of one now begins a new connection anyway. (The earliest ended first, until one whose deadline is to come:
        their deadlines are nearly in order, and :meth:`_went_on` looks at the deadline of the one it finds.)"""
        ended = self._ended
        while ended:
            if next(iter(ended.values()))[1] >= now:
                return
            ended.popitem(last=False)

    def _went_on(self, c: ConnState, cap: Capture, ts: int) -> Capture:
        """``c`` opens: when the open limit ended a connection of its key before its idle timeout, ``c`` goes on with
        it, and the split is said (the warning, and a note on ``cap``: an answer whose request is in the ended one's
        entry was said "request not captured by eCapture"). Returns ``cap``, noted so or as it was."""
        found = self._ended.pop((c.group, c.tuple), None)
        if found is None:
            return cap
        ended, deadline, where = found
        if ts > deadline:
            return cap
        self.report.warn(OPEN_LIMIT_PARTED, cap.origin, (
            f"connection {ended} (ended{' at ' + where if where else ''}: more than {self.limits.open_connections} "
            f"connections open, it idle longest) goes on here as connection {c.conn.id}; --max-connections "
            "sets the limit"), c.conn.id)
        return replace(cap, notes=(*cap.notes, limit_note("open_connections", (
            f"{CONTINUES}{ended}, which ended early (too many open): what it began is in its entries"))))

    def _reopen(self, c: ConnState) -> None:
        """``c`` opens again (a straggler after its close; said at its opening when the open limit had ended it:
        :meth:`_went_on`)."""
        c.closed = c.opened = False
        c.conn = None  # a new Connection at its first data
        c.uuids = []
        c.early = None  # (a new TCP connection: what went on early was the old one's)
        c.last_headers.clear()
        c.normalizer = self._normalizer()  # (a new TCP connection)
        self._by_key.setdefault((c.group, c.tuple), c)  # (unless a connection of its tuple came after it)
        if c.synthetic_reason:
            self._endpoints.claim(c.client, c.server)
        self._schedule(c)

    def _opens_later(self, c: ConnState) -> bool:
        """With filters: does ``c``, closed before it opened (a new connection of its tuple opened first), still have
        captures waiting to go on? They open it again (:meth:`_reopen`), and its held warnings then wait for the
        filters' decision on that Connection (:meth:`~.table.ConnectionTable._emit`), not said at its close."""
        return self.report.held is not None and (bool(c.unroled) or any(item[4] is c for item in self._heap))

    def _idle_gap(self, c: ConnState, out: list[FlowEvent]) -> None:
        """A capture of ``c`` released longer after its last than the idle timeout: ``c`` ends first, as the
        sweep ends it when other captures move the clock past its deadline, so that whether it does depends on
        its own captures alone (nothing moved the clock in between: the capture was placed on it, and the sweep
        then found it busy). The capture reopens it, as a straggler after a close does."""
        if not c.closed and not c.websocket:  # (opened: the caller's test)
            self._close(c, IDLE, out, at=c.last_released_ts)

    def _close(self, c: ConnState, reason: str, out: list[FlowEvent], extra: tuple[str, ...] = (),
               at: int | None = None) -> None:
        self._open.pop(id(c), None)
        key = (c.group, c.tuple)
        if self._by_key.get(key) is c:
            del self._by_key[key]
        if self._displaced and self._displaced.get(key) is c:
            del self._displaced[key]
        if self._current.get(c.group) is c:
            del self._current[c.group]
        if not c.closed and c.synthetic_reason:
            self._endpoints.release(c.client, c.server)
        self._placement.forget(c)
        if c.closed or not c.opened:
            c.closed = True
            if c.warnings is not None and not self._opens_later(c):  # (about captures of a connection that never
                for reason, origin, detail in c.warnings:  # opened and never will: said, as without filters)
                    self.report.warn(reason, origin, detail)
                c.warnings = None
            return
        c.closed = True
        self._client_port_closed(c)  # (the open connections by client port: .client_ports)
        if at is None:  # (the later of the two, without max()'s call)
            at = c.last_released_ts if c.last_released_ts > c.last_ts else c.last_ts
        out.append(Closed(c.conn, at, reason, closing_notes(c, extra), self._released_ns))
        if at > self._released_ns:  # (a FIN timed past what was written, e.g. at a stale re-emit left out: the FINs
            self._released_ns = at  # after it are not timed before it)
        if not c.left_out and self._released_ns > self._written_ns:  # (its FIN is written at that time, or later)
            self._written_ns = self._released_ns
        # what only an open connection needs goes now: the sweep's deadline heap may still hold
        # this state for a while (a straggler reopens it with fresh state, see _reopen)
        c.last_headers.clear()
        c.normalizer = None  # type: ignore[assignment]
