"""Captures taken before eCapture knew their socket, and v2's connect/accept lines that name it.

A mixin of :class:`~.table.ConnectionTable` (its state: ``_placement``, ``_by_key``, ``_current``,
``_displaced``, the reorder heap, the clock), kept apart because it is its own job: a capture without its
tuple joins the connection whose own captures follow on its (pid, fd) (:mod:`.placement`), or is held until
one comes, or gets invented endpoints; a connect line opens the connection its held captures were for.
"""

from __future__ import annotations

import heapq

from ..limits import HELD_COST, limit_note
from ..model import Capture, ConnectInfo, FlowEvent, NOT_PLACED
from ..report import Count
from .ordering import PRE, noted
from .placement import EARLY_NOTE, JOINED_NOTE, PLACED_NOTE, adopt
from .roles import METHODS
from .state import ConnState


PLACED_EARLY = "captures placed before their connection came"


class Waiting:
    """Tuple-less captures and connect lines (a mixin of the connection table)."""

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
            self._expire_held(group, why, cap.origin)  # (said where the limit bit)
        together = self.limits.reorder_buffer
        while self._placement.held_bytes > together and len(self._placement.held) > 1:  # (many (pid, fd)s waiting:
            why = limit_note("reorder_buffer", f"and over {together} bytes of captures of all (pid, fd)s waiting")
            self._expire_held(next(iter(self._placement.held)), why, "")  # the oldest go on: said at their first)

    def _expire_held(self, group: tuple, why: str, said_at: str | None = None) -> None:
        """No connection came for held captures: a v1 unknown-tuple capture joins the connection
        before it on its (pid, fd); what is left gets invented endpoints, and says so. ``said_at``: a limit ended
        their wait, said as a warning about the connection they go to, at this origin ("": their first capture's)."""
        held = self._placement.take(group)
        prev = self._current.get(group)
        if said_at is not None:
            said_at = said_at or held.items[0][1].origin
        if not held.new_connection and prev is not None and not prev.closed:
            if said_at is not None:
                self._warn_about(prev, PLACED_EARLY, said_at, why)
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
        if said_at is not None:
            self._warn_about(c, PLACED_EARLY, said_at, why)
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
            if self._ended:  # (the line opens a new connection: one of its key the open limit ended does not go on)
                self._ended.pop((group, info.tuple), None)
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
