"""The HAR sink: flow events in, one HAR 1.2 entry per HTTP exchange out, written as they complete.

Per connection it runs a protocol parser (:class:`~.exchange.ExchangeParser`) for each
protocol its chunks speak (``Chunk.protocol``, decided by the flows): :class:`~.http2.Http2Parser`
for HTTP/2 (eCapture v1's text dumps arrive already re-encoded as frames), otherwise
:class:`~.http1.Http1Parser` (it resynchronises on garbage). The factories can be replaced
(``None`` turns a protocol off; its chunks are then counted):

* ``h2_parser(conn, options)`` for HTTP/2,
* ``on_upgrade(exchange, options)`` for the bytes after an HTTP/1 protocol switch (WebSocket).

``options`` (:class:`~.options.HarOptions`) carries the resource limits to every parser. A
parser with a ``buffered()`` method (bytes it holds for unfinished exchanges) is measured
every MiB fed: over ``limits.connection_buffer`` its connection's exchanges end there.

Each factory returns an object with ``feed``/``close``/``take_diagnostics`` (the
``ExchangeParser`` protocol) or, for ``on_upgrade``, an ``UpgradeHandler``.
"""

from __future__ import annotations

import re
from typing import BinaryIO, Callable, TextIO

from ...limits import CONTINUES, LIMIT_FLAGS, LOST_BY_ECAPTURE, limit_note
from ...payloads.http1.exchange import REQUEST_NOT_CAPTURED, RESPONSE_NOT_CAPTURED
from ...model import Chunk, Closed, Connection, FlowEvent, Opened, PayloadForm, Protocol
from ...report import Count, Report
from .entries import build_entry
from .exchange import Exchange, ExchangeParser
from .http1 import Http1Parser, UpgradeHandler
from .http2 import Http2Parser
from .options import HarOptions
from .websocket import upgrade_handler
from .writer import COMMIT_INTERVAL_S, HarWriter

__all__ = ["HarSink", "H2_NOT_DECODED"]

H2_NOT_DECODED = "HTTP/2 connection not decoded into HAR (HTTP/2 decoding turned off)"

_CHECK_EVERY = 1 << 20  # bytes fed between two measures of a connection's buffers
_FEED_PIECE = 1 << 18  # a longer chunk goes to its parser in pieces of this size
_DIGITS = re.compile(r"\s*(?<![/.\w])\d+(?:,\d{3})*\s*")  # (numbers, "1,048,576" too; not a version: "HTTP/2")

ParserFactory = Callable[[Connection, HarOptions], ExchangeParser]


_HTTP2, _RENDERED = Protocol.HTTP2, PayloadForm.HTTP1_RENDERED  # (Enum members cost ~0.15 µs to read on 3.11)


def _h2(conn: Connection, options: HarOptions) -> Http2Parser:
    return Http2Parser(conn, limits=options.limits)


class _Conn:
    __slots__ = ("conn", "last_ns", "parsers", "origin", "sides", "unchecked", "ignored")

    def __init__(self, conn: Connection, last_ns: int) -> None:  # (not a dataclass's: no default factory's call)
        self.conn = conn
        self.last_ns = last_ns
        # HTTP/2 or not -> ExchangeParser, in creation order (keyed by a bool: a Protocol's hash is a Python call)
        self.parsers: dict = {}
        self.origin = ""
        self.sides = ["", ""]  # the origin of the latest chunk client→server, server→client (see _emit)
        self.unchecked = 0  # bytes fed since the parsers' buffers were last measured
        self.ignored: int | None = None  # after --max-connection-buffer bit: bytes not decoded (None: it did not)


class HarSink:
    """Write a HAR 1.2 file to ``out`` (binary, UTF-8; a text stream works too).

    ``options.limits`` bound what every parser keeps and decodes. Nothing is dropped
    silently: each exchange error is in the entry's ``_error`` and in ``report.warn``.
    ``commit_interval``: how often (seconds) the file is made a complete HAR while entries
    come (0: after every entry; see :class:`~.writer.HarWriter`).
    """

    def __init__(
        self,
        out: BinaryIO | TextIO,
        *,
        report: Report | None = None,
        options: HarOptions = HarOptions(),
        on_upgrade: Callable[[Exchange, HarOptions], UpgradeHandler] | None = upgrade_handler,
        h2_parser: ParserFactory | None = _h2,
        comment: str | None = None,
        commit_interval: float = COMMIT_INTERVAL_S,
        on_entry: Callable[[dict], None] | None = None,
        writer_factory: Callable[..., HarWriter] = HarWriter,
    ) -> None:
        self.report = report if report is not None else Report()
        self.options = options
        # bytes fed to a connection between two measures of its parsers' buffers (worked out once: min() and the
        # attribute reads were ~1.5k instructions a chunk)
        self._check_at = min(_CHECK_EVERY, options.limits.connection_buffer // 4)
        self._on_upgrade = (lambda ex: on_upgrade(ex, options)) if on_upgrade is not None else None
        self._h2_parser = h2_parser
        self._writer = writer_factory(out, comment=comment, commit_interval=commit_interval)
        self._uncounted = 0  # entries of this writer's that its output lost, taken off the summary's count
        self._writer.commit()  # a valid, empty HAR from the start (raises when out cannot be written)
        self._writer_options = {"comment": comment, "commit_interval": commit_interval}
        self._on_entry = on_entry  # also told every entry written (e.g. for a summary)
        self._conns: dict[int, _Conn] = {}  # by connection id (a convert -j worker's events carry copies)
        self._finished = False

    # -- Sink protocol -------------------------------------------------------------

    def handle(self, event: FlowEvent) -> None:
        self.handle_events((event,))

    def handle_events(self, events) -> None:
        """Several events (a list the flow table emitted), the file committed when due once after them."""
        for event in events:
            if self._writer.failed is not None:  # the output broke (disk full): nothing more to do
                return
            if type(event) is Chunk:
                self._chunk(event)
            elif type(event) is Opened:
                self._state(event.conn, event.time_ns)
            elif type(event) is Closed:
                self._close(event.conn, event.time_ns, event.notes)
        self._writer.commit_if_due()

    def finish(self) -> None:
        """Close every open connection and complete the HAR document (idempotent)."""
        if self._finished:
            return
        self._finished = True
        try:
            if self._writer.failed is None:
                for st in list(self._conns.values()):
                    self._close(st.conn, st.last_ns, ())
                self._writer.close()
        finally:
            self._uncount_lost()

    def write_encoded(self, data: bytes, entries: int) -> None:
        """Append entries encoded elsewhere (a ``convert -j`` worker's), joined by ``,\\n``."""
        self._writer.write_encoded(data, entries)

    def rotate(self, out: BinaryIO | TextIO) -> None:
        """Complete the current HAR file and go on in ``out`` (ring buffers): exchanges still
        open go on and are written to the file current when they complete."""
        try:
            self._writer.close()
        finally:
            self._uncount_lost()
        self._writer = HarWriter(out, **self._writer_options)
        self._uncounted = 0
        self._writer.commit()

    # -- internals -----------------------------------------------------------------

    def _uncount_lost(self) -> None:
        """The entries counted that the output does not hold, uncounted: it could not be written (disk full) and
        was cut back to its last commit (the summary said entries the HAR did not have)."""
        w = self._writer
        lost = w.count - w.committed - self._uncounted
        if w.failed is not None and lost > 0:
            self.report.counts[Count.HAR_ENTRIES] -= lost
            self._uncounted += lost

    def _state(self, conn: Connection, time_ns: int) -> _Conn:
        st = self._conns.get(conn.id)
        if st is None:
            st = self._conns[conn.id] = _Conn(conn, time_ns)
        return st

    def _chunk(self, chunk: Chunk) -> None:
        st = self._conns.get(chunk.conn.id) or self._state(chunk.conn, chunk.time_ns)  # (a call for a new one only)
        if chunk.time_ns > st.last_ns:  # (not max(): ~1k instructions less a chunk)
            st.last_ns = chunk.time_ns
        origin = chunk.info.origin
        st.origin = st.origin or origin
        st.sides[chunk.direction] = origin
        if not chunk.wire:
            return
        if st.ignored is not None:
            st.ignored += len(chunk.wire)
            return
        http2 = chunk.protocol is _HTTP2
        parser = st.parsers.get(http2)
        if parser is None:
            if http2:
                if self._h2_parser is None:
                    self.report.warn(H2_NOT_DECODED, origin)
                    return
                parser = self._h2_parser(chunk.conn, self.options)
            else:
                # (conn, limits, on_upgrade, reorder_window_ns: by position, no keywords' dict)
                parser = Http1Parser(chunk.conn, self.options.limits, self._on_upgrade, self.options.reorder_window_ns)
            st.parsers[http2] = parser
        wire = chunk.wire
        # (an HTTP/1 message eCapture rendered whose framing the flows repaired: the entry shows the head it rendered,
        # the server's Content-Length and codings)
        rendered = _rendered_head(chunk.raw) if chunk.raw is not wire and chunk.info.form is _RENDERED else None
        if len(wire) <= _FEED_PIECE:
            done = parser.feed(chunk.direction, wire, chunk.time_ns, chunk.info, rendered) if rendered else \
                parser.feed(chunk.direction, wire, chunk.time_ns, chunk.info)
            self._emit(parser, done, origin, st.sides)
        else:  # (a huge chunk fed whole would become all its exchanges' objects at once: a piece at a time, with
            # the same meta: HTTP/1 reads a piece after the first as the same capture, not as one that could start
            # the next message after a body whose end eCapture lost)
            for at in range(0, len(wire), _FEED_PIECE):
                piece = wire[at:at + _FEED_PIECE]
                done = parser.feed(chunk.direction, piece, chunk.time_ns, chunk.info, rendered) if rendered and \
                    not at else parser.feed(chunk.direction, piece, chunk.time_ns, chunk.info)
                self._emit(parser, done, origin, st.sides)
        st.unchecked += len(chunk.wire)
        if st.unchecked > self._check_at:
            st.unchecked = 0
            held = sum(p.buffered() for p in st.parsers.values() if hasattr(p, "buffered"))
            if held > self.options.limits.connection_buffer:
                self._overflow(st, held, chunk.time_ns, origin)

    def _overflow(self, st: _Conn, held: int, time_ns: int, origin: str) -> None:
        """The connection's parsers hold more than the limit: end its exchanges here and
        decode nothing more of it (the pcapng keeps every byte)."""
        limit = self.options.limits.connection_buffer
        note = limit_note("connection_buffer", f"connection {st.conn.id} held {held} bytes of unfinished exchanges "
                          f"(over {limit}): its exchanges end here and the rest of it is not decoded into HAR")
        said = False
        for parser in st.parsers.values():
            exchanges = parser.close(time_ns)
            for ex in exchanges:  # (an answer that had not come yet was not lost by eCapture: not said "not captured";
                if RESPONSE_NOT_CAPTURED in ex.errors:  # a request eCapture lost was known before, and is said)
                    ex.errors.remove(RESPONSE_NOT_CAPTURED)
                ex.errors.append(note)
            said = said or bool(exchanges)
            self._emit(parser, exchanges, origin, st.sides)
        if not said:
            self.report.warn("HAR: connection over its buffer limit", origin, note)
        st.parsers = {}
        st.ignored = 0

    def _close(self, conn: Connection, time_ns: int, notes: tuple[str, ...]) -> None:
        st = self._conns.pop(conn.id, None)
        if st is None:
            return
        if st.ignored:
            self.report.warn("HAR: bytes after the connection's buffer limit not decoded", st.origin,
                             f"connection {conn.id}: {st.ignored} bytes")
        for parser in st.parsers.values():
            exchanges = parser.close(time_ns if time_ns > st.last_ns else st.last_ns)
            for ex in exchanges:
                for n in notes:
                    ex.flows_said(n)
            self._emit(parser, exchanges, st.origin, st.sides)

    def _emit(self, parser: ExchangeParser, exchanges: list[Exchange], origin: str, sides: list[str]) -> None:
        """Write the entries of ``exchanges`` and say their errors, each where it was found: one of a request at
        the latest client→server capture of the connection, one of a response at its latest server→client one
        (``sides``), else at the exchange's first capture (``origin``: the capture that completed it, when it
        has none). A limit biting on a response was said at its request's line, and one on a request whose head
        did not parse at its response's."""
        for ex in exchanges:
            if ex.upstream:
                _parted_by_the_open_limit(ex)
            try:
                entry = build_entry(ex, limits=self.options.limits)
            except Exception as exc:  # a bug must not lose the rest of the HAR
                self.report.count(Count.INTERNAL_ERRORS)
                self.report.warn("HAR: entry could not be built (internal error; please report it)",
                                 ex.origin or origin, repr(exc))
                continue
            self.report.count(Count.HAR_ENTRIES)  # (first: a write that fails counted it in the writer, which
            self._writer.write(entry)  # _uncount_lost takes back)
            if self._on_entry is not None:
                self._on_entry(entry)
            if ex.errors:
                where = f"connection {ex.conn.id}" + (f" stream {ex.stream_id}" if ex.stream_id is not None else "")
                for err in ex.errors:  # (what eCapture lost, and what the flows noted, was said where it was found:
                    if LOST_BY_ECAPTURE not in err and err not in ex.upstream:  # a limit counted once, with or
                        self._warn(err, _said_at(err, ex, sides) or ex.origin or origin, where)  # without --har)
        for diag in parser.take_diagnostics():
            self._warn(diag, origin)

    def _warn(self, error: str, origin: str, where: str = "") -> None:
        reason = _reason(error)
        detail = "" if reason == "HAR: " + error else error
        self.report.warn(reason, origin, f"{where}: {detail}" if where and detail else where or detail)


_C2S_SAID, _S2C_SAID = ("request", "c2s"), ("response", "s2c")  # (what an error about one side starts with)


def _said_at(error: str, ex: Exchange, sides: list[str]) -> str:
    """The capture ``error`` of ``ex`` is about, when known: the one its exchange recorded for it (a WebSocket
    message's), else the latest capture of the side it names ("" when it names none)."""
    side = sides[0] if error.startswith(_C2S_SAID) else sides[1] if error.startswith(_S2C_SAID) else ""
    return ex.said_at.get(error, side) if ex.said_at is not None else side


_OPEN_LIMIT = f"(limit: {LIMIT_FLAGS['open_connections']})"
_REQUEST_PARTED = "request not in this entry: if eCapture captured it, the connection this one continues holds it"
_RESPONSE_PARTED = ("response not seen before the limit ended the connection: if eCapture captured it, a later one "
                    "holds it")


def _parted_by_the_open_limit(ex: Exchange) -> None:
    """An exchange --max-connections may have parted from its other half (the flows' notes say where it ended a
    connection, and where a straggler continues one): its "not captured", which said eCapture lost what may be in
    the other connection's entry, says that instead. (It was taken out at first, which hid a real loss.)"""
    ended = continues = False
    for note in ex.upstream:
        if _OPEN_LIMIT in note:
            if note.startswith(CONTINUES):
                continues = True
            else:
                ended = True
    errors = ex.errors
    if continues and REQUEST_NOT_CAPTURED in errors:
        errors[errors.index(REQUEST_NOT_CAPTURED)] = _REQUEST_PARTED
    if ended and RESPONSE_NOT_CAPTURED in errors:
        errors[errors.index(RESPONSE_NOT_CAPTURED)] = _RESPONSE_PARTED


_LABELS = ("HTTP/2: ", "WebSocket: ")  # what a parser's diagnostics start with (then, maybe, a direction)
_DIRECTIONS = ("c2s: ", "s2c: ")


def _rendered_head(raw: bytes) -> bytes | None:
    """The head of an HTTP/1 message as eCapture rendered it (start line to blank line), None without one."""
    end = raw.find(b"\r\n\r\n", 0, _FEED_PIECE)
    return raw[: end + 4] if end >= 0 else None


def _reason(error: str) -> str:
    """A grouping key for the report: the error's leading phrase without numbers (its first 300
    characters: _DIGITS.sub is quadratic in a long run of whitespace), after the label of the parser
    that said it, kept, and the direction, left out."""
    label = ""
    for known in _LABELS:
        if error.startswith(known):
            label, error = known, error[len(known):]
            break
    if error.startswith(_DIRECTIONS):
        error = error[5:]
    head = error.split(":", 1)[0].split("(", 1)[0][:300]
    return "HAR: " + label + _DIGITS.sub(" ", head).strip()
