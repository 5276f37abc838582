"""The HAR sink: flow events in, one HAR 1.2 entry per HTTP exchange out, written as they complete.

Per connection it runs a protocol parser (:class:`~.exchange.ExchangeParser`):
:class:`~.http1.Http1Parser`, or :class:`~.http2.Http2Parser` when the connection is HTTP/2
(eCapture v1's text dumps arrive already re-encoded as frames by the connection table).
The factories can be replaced (``None`` turns a protocol off; its chunks are then counted):

* ``h2_parser(conn)`` for raw HTTP/2 connections (client preface ``PRI * HTTP/2.0`` or a
  server SETTINGS frame first),
* ``h2_dump_parser(conn)`` for eCapture's HTTP/2 text dumps (``PayloadForm.H2_DUMP``),
* ``on_upgrade(exchange)`` for the bytes after an HTTP/1 protocol switch (WebSocket).

Each factory returns an object with ``feed``/``close``/``take_diagnostics`` (the
``ExchangeParser`` protocol) or, for ``on_upgrade``, an ``UpgradeHandler``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import BinaryIO, Callable, TextIO

from ...model import Chunk, Closed, Connection, Direction, FlowEvent, Opened, PayloadForm
from ...report import Report
from .entries import build_entry
from .exchange import ChunkMeta, Exchange, ExchangeParser
from .http1 import DEFAULT_BODY_CAP, Http1Parser, UpgradeHandler
from .http2 import Http2Parser
from .websocket import upgrade_handler
from .writer import HarWriter

__all__ = ["HarSink", "H2_DUMP_NOT_DECODED", "H2_NOT_DECODED"]

H2_DUMP_NOT_DECODED = "HTTP/2 text dump not decoded into HAR (HTTP/2 decoding turned off)"
H2_NOT_DECODED = "HTTP/2 connection not decoded into HAR (HTTP/2 decoding turned off)"

_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_DIGITS = re.compile(r"\s*\d+\s*")

ParserFactory = Callable[[Connection], ExchangeParser]


@dataclass(slots=True, eq=False)
class _Conn:
    conn: Connection
    last_ns: int
    kind: str | None = None  # "http1" or "h2", decided by the first raw/rendered bytes
    parser: ExchangeParser | None = None  # for kind
    dump_parser: ExchangeParser | None = None  # for H2_DUMP chunks
    origin: str = ""


class HarSink:
    """Write a HAR 1.2 file to ``out`` (binary, UTF-8; a text stream works too).

    ``body_cap`` bounds every kept body and every decoded body (bytes). Nothing is dropped
    silently: each exchange error is in the entry's ``_error`` and in ``report.warn``.
    """

    def __init__(
        self,
        out: BinaryIO | TextIO,
        *,
        report: Report | None = None,
        body_cap: int = DEFAULT_BODY_CAP,
        reorder_window_ns: int = 0,
        on_upgrade: Callable[[Exchange], UpgradeHandler] | None = upgrade_handler,
        h2_parser: ParserFactory | None = Http2Parser,
        h2_dump_parser: ParserFactory | None = Http2Parser,
        comment: str | None = None,
    ) -> None:
        self.report = report if report is not None else Report()
        self.body_cap = body_cap
        self.reorder_window_ns = reorder_window_ns
        self._on_upgrade = on_upgrade
        self._h2_parser = h2_parser
        self._h2_dump_parser = h2_dump_parser
        self._writer = HarWriter(out, comment=comment)
        self._conns: dict[Connection, _Conn] = {}  # Connection hashes by identity
        self._finished = False

    # -- Sink protocol -------------------------------------------------------------

    def handle(self, event: FlowEvent) -> None:
        if isinstance(event, Chunk):
            self._chunk(event)
        elif isinstance(event, Opened):
            self._state(event.conn, event.time_ns)
        elif isinstance(event, Closed):
            self._close(event.conn, event.time_ns, event.notes)

    def finish(self) -> None:
        """Close every open connection and complete the HAR document (idempotent)."""
        if self._finished:
            return
        for st in list(self._conns.values()):
            self._close(st.conn, st.last_ns, ())
        self._writer.close()
        self._finished = True

    # -- internals -----------------------------------------------------------------

    def _state(self, conn: Connection, time_ns: int) -> _Conn:
        st = self._conns.get(conn)
        if st is None:
            st = self._conns[conn] = _Conn(conn, time_ns)
        return st

    def _chunk(self, chunk: Chunk) -> None:
        st = self._state(chunk.conn, chunk.time_ns)
        st.last_ns = max(st.last_ns, chunk.time_ns)
        origin = chunk.capture.origin
        st.origin = st.origin or origin
        if not chunk.wire:
            return
        meta = ChunkMeta.from_chunk(chunk)
        is_dump = chunk.capture.form is PayloadForm.H2_DUMP
        if st.kind is None:
            st.kind = "h2" if is_dump else _sniff(chunk.direction, chunk.wire)
        if is_dump and st.kind != "h2":  # a dump on a connection that started as HTTP/1
            if self._h2_dump_parser is None:
                self.report.warn(H2_DUMP_NOT_DECODED, origin)
                return
            if st.dump_parser is None:
                st.dump_parser = self._h2_dump_parser(chunk.conn)
            self._emit(st.dump_parser, st.dump_parser.feed(chunk.direction, chunk.wire, chunk.time_ns, meta), origin)
            return
        if st.parser is None:
            if st.kind == "h2":
                if self._h2_parser is None:
                    self.report.warn(H2_NOT_DECODED, origin)
                    return
                st.parser = self._h2_parser(chunk.conn)
            else:
                st.parser = Http1Parser(
                    chunk.conn,
                    body_cap=self.body_cap,
                    on_upgrade=self._on_upgrade,
                    reorder_window_ns=self.reorder_window_ns,
                )
        self._emit(st.parser, st.parser.feed(chunk.direction, chunk.wire, chunk.time_ns, meta), origin)

    def _close(self, conn: Connection, time_ns: int, notes: tuple[str, ...]) -> None:
        st = self._conns.pop(conn, None)
        if st is None:
            return
        for parser in (st.parser, st.dump_parser):
            if parser is None:
                continue
            exchanges = parser.close(max(time_ns, st.last_ns))
            for ex in exchanges:
                ex.notes.extend(n for n in notes if n not in ex.notes)
            self._emit(parser, exchanges, st.origin)

    def _emit(self, parser: ExchangeParser, exchanges: list[Exchange], origin: str) -> None:
        for ex in exchanges:
            try:
                entry = build_entry(ex, decode_cap=self.body_cap)
            except Exception as exc:  # a bug must not lose the rest of the HAR
                self.report.warn("HAR: entry could not be built", ex.origin or origin, repr(exc))
                continue
            self._writer.write(entry)
            self.report.count("har_entries")
            where = f"connection {ex.conn.id}" + (f" stream {ex.stream_id}" if ex.stream_id is not None else "")
            for err in ex.errors:
                self._warn(err, ex.origin or origin, where)
        for diag in parser.take_diagnostics():
            self._warn(diag, origin)

    def _warn(self, error: str, origin: str, where: str = "") -> None:
        reason = _reason(error)
        detail = "" if reason == "HAR: " + error else error
        self.report.warn(reason, origin, f"{where}: {detail}" if where and detail else where or detail)


def _reason(error: str) -> str:
    """A grouping key for the report: the error's leading phrase without numbers."""
    head = error.split(":", 1)[0].split("(", 1)[0]
    return "HAR: " + _DIGITS.sub(" ", head).strip()


def _sniff(direction: Direction, data: bytes) -> str:
    """Tell HTTP/2 from HTTP/1 by a connection's first bytes."""
    if direction is Direction.C2S:
        n = min(len(data), len(_PREFACE))
        if n >= 4 and data[:n] == _PREFACE[:n]:
            return "h2"
    # a server's HTTP/2 preface is a SETTINGS frame on stream 0
    elif len(data) >= 9 and data[3] == 0x04 and data[4] in (0, 1) and data[5:9] == b"\0\0\0\0":
        return "h2"
    return "http1"
