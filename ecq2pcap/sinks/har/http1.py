"""Passive, sans-IO HTTP/1.x parser for one connection (h11 state machines, cross-fed).

Client→server bytes go through an h11 machine in the SERVER role (it receives requests);
server→client bytes through one in the CLIENT role (it receives responses). The response
machine is told the request it answers with ``send()`` before it reads the response, so
HEAD, 1xx, 204/304, CONNECT and EOF-delimited bodies frame exactly as h11 frames them;
the request machine is told the answer to an ``Upgrade``/``CONNECT`` request, which
decides whether the rest of the connection is still HTTP/1.

Machines live for one message. The parser owns each direction's bytes and hands them to
the machine in growing slices, so a chunk holding many pipelined messages costs linear
time and a long body does not pile up in memory. Between messages it checks the start
line itself, so it can skip garbage (eCapture is lossy) and start again at the next line
that looks like a request line (client→server) or a status line (server→client).
Nothing here raises on bad input: every problem becomes an error string on an
:class:`~.exchange.Exchange` or a connection diagnostic (:meth:`Http1Parser.take_diagnostics`).

Lossy-capture rules:

* a response with no request to answer becomes an exchange with ``request=None`` and the
  error :data:`REQUEST_NOT_CAPTURED` (h11 is fed a synthetic ``GET`` to frame it);
* a request with no response at close gets :data:`RESPONSE_NOT_CAPTURED`;
* a response fed *before* its request (eCapture stamps a merged event with the time of its
  last call) waits up to ``reorder_window_ns`` for a request to arrive, then is taken as
  response-only. The default window is 0 (only a request with the same timestamp pairs):
  a longer window pairs a response whose request was lost with the *next* request, and
  that misattribution cascades through a keep-alive connection;
* after ``101 Switching Protocols`` (or a 2xx to ``CONNECT``) the parser stops: the bytes
  that follow, in both directions, go to an :class:`UpgradeHandler` (by default
  :class:`UpgradedBytes`, which keeps them aside) and the upgrade exchange is returned by
  :meth:`Http1Parser.close`, after the handler had a chance to attach its messages.
"""

from __future__ import annotations

import re
from collections import deque
from typing import Callable, Protocol

import h11

try:  # h11's own grammar, so the fast path accepts exactly what h11 accepts
    from h11._abnf import header_field as _H11_HEADER_FIELD
    from h11._abnf import request_line as _H11_REQUEST_LINE
    from h11._abnf import status_line as _H11_STATUS_LINE
    from h11._headers import Headers as _H11Headers
except ImportError:  # pragma: no cover - another h11 layout: h11 parses everything
    _H11Headers = None

from ...model import Connection, Direction
from .exchange import ChunkMeta, Exchange, HttpMessage, HttpRequest, HttpResponse

__all__ = [
    "DEFAULT_BODY_CAP",
    "REQUEST_NOT_CAPTURED",
    "RESPONSE_NOT_CAPTURED",
    "Http1Parser",
    "UpgradeHandler",
    "UpgradedBytes",
]

DEFAULT_BODY_CAP = 64 * 1024 * 1024
REQUEST_NOT_CAPTURED = "request not captured by eCapture"
RESPONSE_NOT_CAPTURED = "response not captured"

MAX_START_LINE = 64 * 1024  # longer first lines are garbage (h11's own limit is lower)
MAX_HEAD = 1024 * 1024  # h11 max_incomplete_event_size: big header blocks are real
FIRST_SLICE = 4096  # bytes first given to a new machine; doubled on every NEED_DATA
MAX_SLICE = 1024 * 1024
COMPACT_AT = 4 * 1024 * 1024  # inside a long body, drop consumed bytes once this many piled up

_TOKEN = rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_REQUEST_LINE = re.compile(_TOKEN + rb" [^\x00-\x20\x7f]+ HTTP/1\.[0-9]\r?")
_STATUS_LINE = re.compile(rb"HTTP/1\.[0-9] [0-9]{3}(?: [^\r\n]*)?\r?")
# the same lines at any line start, for resynchronisation
_REQUEST_SEARCH = re.compile(rb"^" + _REQUEST_LINE.pattern + rb"$", re.M)
_STATUS_SEARCH = re.compile(rb"^" + _STATUS_LINE.pattern + rb"$", re.M)
# an incomplete first line that may still become a start line
_REQUEST_PREFIX = re.compile(_TOKEN + rb"(?: [^\x00-\x20\x7f]*(?: [HTP/1.0-9]*\r?)?)?")
_STATUS_PREFIX = b"HTTP/1."

_EOF_LENGTH = re.compile(r"received (\d+) bytes, expected (\d+)")

FAST_PATH = True  # default of Http1Parser(fast=...): parse simple complete messages without h11
FAST_MAX_HEAD = 256 * 1024  # larger heads go through h11
if _H11Headers is not None:
    _FAST_REQUEST_LINE = re.compile(_H11_REQUEST_LINE.encode("ascii"))
    _FAST_STATUS_LINE = re.compile(_H11_STATUS_LINE.encode("ascii"))
    _FAST_HEADER = re.compile(_H11_HEADER_FIELD.encode("ascii"))
else:  # pragma: no cover
    FAST_PATH = False
_FAST_DIGITS = re.compile(rb"[0-9]{1,18}")
_EOM = h11.EndOfMessage()


class UpgradeHandler(Protocol):
    """Takes over a connection after a protocol switch (WebSocket, CONNECT tunnel, h2c).

    Created by the parser's ``on_upgrade(exchange)`` factory with the upgrade exchange;
    it may attach what it decodes to that exchange (``websocket_messages``, ``notes``,
    ``errors``): the exchange is returned by :meth:`Http1Parser.close` after
    :meth:`close` ran.
    """

    def feed(self, direction: Direction, data: bytes, time_ns: int, meta: ChunkMeta | None) -> None: ...

    def close(self, time_ns: int) -> None: ...


class UpgradedBytes:
    """Default :class:`UpgradeHandler`: keeps the bytes after the switch aside, undecoded.

    ``chunks`` holds ``(direction, time_ns, bytes)`` up to ``cap`` bytes in total;
    ``seen`` counts every byte per direction.
    """

    def __init__(self, exchange: Exchange, cap: int = DEFAULT_BODY_CAP) -> None:
        self.exchange = exchange
        self.cap = cap
        self.chunks: list[tuple[Direction, int, bytes]] = []
        self.kept = 0
        self.seen = {Direction.C2S: 0, Direction.S2C: 0}

    def feed(self, direction: Direction, data: bytes, time_ns: int, meta: ChunkMeta | None) -> None:
        self.seen[direction] += len(data)
        if self.kept < self.cap:
            piece = data[: self.cap - self.kept]
            self.chunks.append((direction, time_ns, piece))
            self.kept += len(piece)
        self.exchange.add_meta(meta)

    def close(self, time_ns: int) -> None:
        c2s, s2c = self.seen[Direction.C2S], self.seen[Direction.S2C]
        if c2s or s2c:
            self.exchange.notes.append(
                f"after the protocol switch: {c2s} bytes client→server and {s2c} bytes server→client "
                "not decoded into HAR"
            )


class _Side:
    """Parsing state of one direction.

    ``buf[pos:]`` is what no machine has been given yet. While a message is parsed,
    ``buf[start:pos]`` are its bytes given so far (``start`` is where its head begins),
    and the machine's unconsumed bytes are the tail of that range: when the message ends,
    ``pos`` steps back over them. ``buf`` is compacted only between messages.
    """

    __slots__ = (
        "direction", "is_request", "buf", "pos", "start", "slice", "gate_ns", "machine", "in_head", "head_ns",
        "time_ns", "meta", "skipped", "skip_reason", "pending_errors", "eof", "eof_sent", "force",
    )  # fmt: skip

    def __init__(self, direction: Direction) -> None:
        self.direction = direction
        self.is_request = direction is Direction.C2S
        self.buf = bytearray()
        self.pos = 0
        self.start = 0  # where the current message (or its final head, after a 1xx) begins
        self.slice = FIRST_SLICE
        self.gate_ns = 0  # time of the chunk that brought buf[pos]
        self.machine: h11.Connection | None = None  # parses the current message
        self.in_head = False  # the machine has not produced the message's head yet
        self.head_ns = 0
        self.time_ns = 0  # time of the chunk being processed
        self.meta: ChunkMeta | None = None
        self.skipped = 0  # bytes dropped while resynchronising, not reported yet
        self.skip_reason = ""
        self.pending_errors: list[str] = []  # go to the exchange of the next message
        self.eof = False
        self.eof_sent = False
        self.force = False  # responses: start even without a request (response-only)

    @property
    def label(self) -> str:
        return "client→server" if self.is_request else "server→client"

    @property
    def what(self) -> str:
        return "request" if self.is_request else "response"

    @property
    def waiting(self) -> bool:
        """Bytes no machine has been given."""
        return self.pos < len(self.buf)

    def give(self) -> bool:
        """Hand the machine its next slice (or the EOF); False when there is nothing to give."""
        if self.pos < len(self.buf):
            if not self.in_head and self.pos >= COMPACT_AT:  # a long body: forget what was consumed
                keep = self.pos - self.unconsumed()
                del self.buf[:keep]
                self.pos -= keep
                self.start = 0
            end = min(len(self.buf), self.pos + self.slice)
            self.machine.receive_data(self.buf[self.pos : end])
            self.pos = end
            self.slice = min(self.slice * 2, MAX_SLICE)
            return True
        if self.eof and not self.eof_sent:
            self.machine.receive_data(b"")
            self.eof_sent = True
            return True
        return False

    def unconsumed(self) -> int:
        """Bytes given to the machine that it did not consume."""
        m = self.machine
        if type(m) is _FastMessage:
            return m.unconsumed
        return len(m.trailing_data[0])

    def end_machine(self) -> None:
        """The machine is done: the bytes it did not consume become ungiven again."""
        self.pos -= self.unconsumed()
        self.machine = None
        self.in_head = False
        self.gate_ns = self.time_ns

    def rest(self) -> bytes:
        """Everything not consumed (for a protocol switch); ends the machine."""
        if self.machine is not None:
            self.end_machine()
        out = bytes(self.buf[self.pos :])
        self.buf = bytearray()
        self.pos = 0
        return out

    def head_size(self) -> int:
        i = self.buf.find(b"\r\n\r\n", self.start, self.pos)
        if i >= 0:
            return i + 4 - self.start
        i = self.buf.find(b"\n\n", self.start, self.pos)
        return i + 2 - self.start if i >= 0 else -1


class Http1Parser:
    """HTTP/1.x exchanges of one connection; see the module docstring.

    ``feed()`` and ``close()`` return the exchanges that completed, in completion order.
    ``on_upgrade(exchange)`` makes the :class:`UpgradeHandler` that receives the bytes
    after a protocol switch (default :class:`UpgradedBytes`); the handler in use is
    :attr:`upgraded`.
    """

    def __init__(
        self,
        conn: Connection,
        *,
        body_cap: int = DEFAULT_BODY_CAP,
        on_upgrade: Callable[[Exchange], UpgradeHandler] | None = None,
        reorder_window_ns: int = 0,
        fast: bool | None = None,
    ) -> None:
        self.conn = conn
        self.fast = FAST_PATH if fast is None else fast  # simple complete messages skip h11
        self.body_cap = body_cap
        self.reorder_window_ns = reorder_window_ns
        self._on_upgrade = on_upgrade or (lambda ex: UpgradedBytes(ex, body_cap))
        self._c2s = _Side(Direction.C2S)
        self._s2c = _Side(Direction.S2C)
        self._req_ex: Exchange | None = None  # exchange whose request the C2S machine parses
        self._resp_ex: Exchange | None = None  # exchange whose response the S2C machine parses
        self._awaiting: deque[Exchange] = deque()  # request head parsed, response not started
        self._switch_ex: Exchange | None = None  # upgrade/CONNECT request waiting for its answer
        self._interim: list[tuple[int, str]] = []  # 1xx seen for the response in progress
        self.upgraded: UpgradeHandler | None = None
        self._upgrade_ex: Exchange | None = None
        self._done: list[Exchange] = []
        self._diagnostics: list[str] = []
        self._closed = False

    # -- public API ----------------------------------------------------------------

    def feed(self, direction: Direction, data: bytes, time_ns: int, meta: ChunkMeta | None = None) -> list[Exchange]:
        """Parse the bytes of one chunk; return the exchanges that completed."""
        if self._closed:
            if data:
                self._diagnostics.append(f"{len(data)} bytes fed after the connection closed: ignored")
            return []
        if not data:
            return self._take()
        if self.upgraded is not None:
            self.upgraded.feed(direction, data, time_ns, meta)
            return self._take()
        self._release_held(time_ns)
        s = self._c2s if direction is Direction.C2S else self._s2c
        s.time_ns = time_ns
        s.meta = meta
        if s.machine is None and not s.waiting:
            s.gate_ns = time_ns
        s.buf += data
        self._pump(s)
        return self._take()

    def close(self, time_ns: int) -> list[Exchange]:
        """End of the connection: EOF-delimited bodies end, incomplete messages become errors."""
        if self._closed:
            return []
        if self.upgraded is None:
            self._release_held(None)  # at the times they arrived, before EOF ends anything
            for s in (self._c2s, self._s2c):
                s.eof = True
                s.time_ns = max(s.time_ns, time_ns)
                self._pump(s)
        if self.upgraded is not None:
            self.upgraded.close(time_ns)
            ex = self._upgrade_ex
            self._upgrade_ex = None
            self._done.append(ex)
        elif self._switch_ex is not None and self._c2s.machine is not None:
            rest = self._c2s.unconsumed() + len(self._c2s.buf) - self._c2s.pos
            if rest:
                self._switch_ex.errors.append(
                    f"{rest} client→server bytes after the upgrade request not parsed "
                    "(the answer to the upgrade was not captured)"
                )
        for s in (self._c2s, self._s2c):
            self._flush_skip(s)
        if self._awaiting:
            self._awaiting[0].errors.extend(self._s2c.pending_errors)
            self._s2c.pending_errors.clear()
        for s in (self._c2s, self._s2c):
            self._diagnostics.extend(s.pending_errors)
            s.pending_errors.clear()
        while self._awaiting:
            ex = self._awaiting.popleft()
            ex.errors.append(RESPONSE_NOT_CAPTURED)
            if ex.request is not None and ex.request.end_ns is None:
                ex.request.end_ns = time_ns
            self._done.append(ex)
        self._closed = True
        done = self._take()
        done.sort(key=lambda e: e.start_ns)
        return done

    def take_diagnostics(self) -> list[str]:
        """Connection-level problems that no exchange carries (e.g. garbage at the end)."""
        out, self._diagnostics = self._diagnostics, []
        return out

    # -- driving the machines ------------------------------------------------------

    def _take(self) -> list[Exchange]:
        out, self._done = self._done, []
        return out

    def _pump(self, s: _Side) -> None:
        while self.upgraded is None:
            if s.machine is None and not self._begin(s):
                return
            machine = s.machine
            try:
                ev = machine.next_event()
            except h11.RemoteProtocolError as exc:
                self._on_error(s, exc)
                continue
            if ev is h11.NEED_DATA:
                if s.give():
                    continue
                return
            if ev is h11.PAUSED or isinstance(ev, h11.ConnectionClosed):
                return
            if s.is_request:
                self._on_request_event(ev)
            else:
                self._on_response_event(ev)

    def _begin(self, s: _Side) -> bool:
        """Start a machine on the next message; False when that cannot happen yet."""
        buf = s.buf
        line_re = _REQUEST_LINE if s.is_request else _STATUS_LINE
        while True:
            n = len(buf)
            while s.pos < n and buf[s.pos] in b"\r\n":  # blank lines between messages are tolerated
                s.pos += 1
            if s.pos >= n:
                buf.clear()
                s.pos = 0
                return False
            nl = buf.find(b"\n", s.pos, s.pos + MAX_START_LINE + 1)
            if nl >= 0 and line_re.fullmatch(buf, s.pos, nl):
                break
            if nl < 0 and not s.eof and n - s.pos <= MAX_START_LINE and self._plausible_prefix(s, buf, s.pos):
                return False  # wait for the rest of the first line
            if not s.skip_reason:
                s.skip_reason = (
                    f"{s.what} start line incomplete at the end of the capture" if nl < 0 and s.eof
                    else f"not an HTTP/1 {'request' if s.is_request else 'status'} line"
                )  # fmt: skip
            self._resync(s)
        fast = None
        if s.is_request:
            if self.fast:
                fast = _fast_request(buf, s.pos)
            if fast is None:
                machine = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
        else:
            ex = self._next_for_response(s)
            if ex is None:
                return False
            if self.fast and (ex.request is None or ex.request.method not in _FAST_NO_BODY_METHODS):
                fast = _fast_response(buf, s.pos)
            if fast is None:
                machine = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD)
                machine.send(_synthetic_request(ex.request))
                machine.send(h11.EndOfMessage())
            self._resp_ex = ex
            self._interim = []
        if fast is not None:
            machine = fast
        self._flush_skip(s)
        if s.pos > len(buf) - s.pos:  # amortised compaction: drop what is behind us
            del buf[: s.pos]
            s.pos = 0
        s.machine = machine
        s.in_head = True
        s.start = s.pos
        s.head_ns = s.gate_ns
        s.slice = FIRST_SLICE
        s.eof_sent = False
        if fast is not None:
            s.pos += fast.unconsumed  # the whole message is given at once
        else:
            s.give()
        return True

    @staticmethod
    def _plausible_prefix(s: _Side, buf: bytearray, pos: int) -> bool:
        if s.is_request:
            return _REQUEST_PREFIX.fullmatch(buf, pos) is not None
        return buf[pos : pos + 7] == _STATUS_PREFIX[: len(buf) - pos]

    def _resync(self, s: _Side) -> None:
        """Skip to the next line that looks like a message start (at least one byte)."""
        buf = s.buf
        search = _REQUEST_SEARCH if s.is_request else _STATUS_SEARCH
        m = search.search(buf, s.pos + 1)
        if m is not None:
            cut = m.start()
        else:
            cut = len(buf)
            last_nl = buf.rfind(b"\n", s.pos)
            if last_nl >= 0 and not s.eof:
                if len(buf) - last_nl - 1 <= MAX_START_LINE and self._plausible_prefix(s, buf, last_nl + 1):
                    cut = last_nl + 1  # the last line may still grow into a start line
        s.skipped += cut - s.pos
        s.pos = cut
        s.gate_ns = s.time_ns

    def _flush_skip(self, s: _Side) -> None:
        if s.skipped:
            s.pending_errors.append(f"{s.skipped} bytes of unparsable {s.label} data skipped ({s.skip_reason})")
            s.skipped = 0
        s.skip_reason = ""

    def _next_for_response(self, s: _Side) -> Exchange | None:
        """The exchange the next response answers, a response-only one, or None (hold)."""
        if self._awaiting:
            return self._awaiting.popleft()
        if s.force or s.eof:
            ex = Exchange(self.conn)
            ex.errors.append(REQUEST_NOT_CAPTURED)
            ex.notes.append("framed as the answer to a GET (the request is unknown)")
            return ex
        return None  # hold: its request may still arrive (see reorder_window_ns)

    def _release_held(self, now_ns: int | None) -> None:
        """Held responses older than the reorder window (all of them when ``now_ns`` is None)
        become response-only exchanges."""
        s = self._s2c
        if s.machine is None and s.waiting and (now_ns is None or now_ns - s.gate_ns > self.reorder_window_ns):
            s.force = True
            try:
                self._pump(s)
            finally:
                s.force = False

    # -- events --------------------------------------------------------------------

    def _on_request_event(self, ev) -> None:
        s = self._c2s
        if isinstance(ev, h11.Request):
            req = HttpRequest(
                method=ev.method.decode("ascii", "replace"),
                target=_text(ev.target),
                http_version="HTTP/" + ev.http_version.decode("ascii", "replace"),
                headers=_headers(ev.headers),
                body=bytearray(),
                start_ns=s.head_ns,
                header_size=s.head_size(),
            )
            s.in_head = False
            ex = Exchange(self.conn, request=req, http_version=req.http_version)
            ex.errors.extend(s.pending_errors)
            s.pending_errors.clear()
            ex.add_meta(s.meta)
            self._req_ex = ex
            self._awaiting.append(ex)
            self._pump(self._s2c)  # a response may have been waiting for this request
            return
        ex = self._req_ex
        if ex is None:  # pragma: no cover - h11 only sends Data/EOM after a Request
            return
        req = ex.request
        ex.add_meta(s.meta)
        if isinstance(ev, h11.Data):
            self._append(req, ev.data)
        elif isinstance(ev, h11.EndOfMessage):
            req.complete = True
            req.end_ns = s.time_ns
            _trailers(req, ev)
            self._req_ex = None
            if _asks_switch(req) and ex.response is None and ex is not self._upgrade_ex:
                self._switch_ex = ex  # h11 pauses: the answer decides what the next bytes are
            else:
                s.end_machine()
            self._maybe_finish(ex)

    def _on_response_event(self, ev) -> None:
        s = self._s2c
        ex = self._resp_ex
        ex.add_meta(s.meta)
        if isinstance(ev, h11.InformationalResponse):
            if ev.status_code == 101:
                ex.response = self._new_response(ev, s)
                ex.response.complete = True
                ex.response.end_ns = s.time_ns
                self._switch(ex)
                return
            reason = _text(ev.reason)
            self._interim.append((ev.status_code, reason))
            ex.notes.append(f"interim response {ev.status_code} {reason}".rstrip())
            s.start = s.pos - s.unconsumed()  # the final response's head starts here
            s.head_ns = s.time_ns
            return
        if isinstance(ev, h11.Response):
            ex.response = self._new_response(ev, s)
            s.in_head = False
            ex.errors.extend(s.pending_errors)
            s.pending_errors.clear()
            if ex.request is None:
                ex.http_version = ex.response.http_version
            if s.machine.their_state is h11.SWITCHED_PROTOCOL:  # 2xx to CONNECT: a tunnel
                ex.response.complete = True
                ex.response.end_ns = s.time_ns
                self._switch(ex)
            elif ex is self._switch_ex:
                self._resume_requests()
            return
        resp = ex.response
        if isinstance(ev, h11.Data):
            self._append(resp, ev.data)
        elif isinstance(ev, h11.EndOfMessage):
            resp.complete = True
            resp.end_ns = s.time_ns
            _trailers(resp, ev)
            s.end_machine()
            self._resp_ex = None
            self._maybe_finish(ex)

    def _new_response(self, ev, s: _Side) -> HttpResponse:
        return HttpResponse(
            status=ev.status_code,
            reason=_text(ev.reason),
            http_version="HTTP/" + ev.http_version.decode("ascii", "replace"),
            headers=_headers(ev.headers),
            body=bytearray(),
            start_ns=s.head_ns,
            header_size=s.head_size(),
            interim=[code for code, _ in self._interim],
        )

    def _append(self, msg: HttpMessage, data: bytes) -> None:
        room = self.body_cap - len(msg.body)
        if room >= len(data):
            msg.body += data
        else:
            if room > 0:
                msg.body += data[:room]
            if msg.body_size <= self.body_cap:
                msg.notes.append(f"body larger than the {self.body_cap}-byte cap: only the first bytes kept")
        msg.body_size += len(data)

    def _maybe_finish(self, ex: Exchange) -> None:
        if ex is self._upgrade_ex:
            return  # returned by close(), after the upgrade handler
        if (ex.request is None or ex.request.ended) and ex.response is not None and ex.response.ended:
            self._done.append(ex)

    # -- errors and protocol switches ----------------------------------------------

    def _on_error(self, s: _Side, exc: h11.RemoteProtocolError) -> None:
        reason = str(exc) or type(exc).__name__
        ex = self._req_ex if s.is_request else self._resp_ex
        if s.in_head:
            # the head did not parse: skip its first line, look for a start line after it
            nl = s.buf.find(b"\n", s.start, s.pos)
            first = s.pos if nl < 0 else nl + 1
            s.skipped += first - s.start
            s.pos = first
            s.machine = None
            s.in_head = False
            s.gate_ns = s.time_ns
            if not s.skip_reason:
                s.skip_reason = f"unparsable {s.what} head: {reason}"
                if s.eof and "closed" in reason:
                    s.skip_reason = f"{s.what} head incomplete at the end of the capture"
            if not s.is_request and ex is not None:
                self._resp_ex = None
                if self._interim:  # the 1xx is all that is left of this response
                    code, why = self._interim[-1]
                    ex.response = HttpResponse(
                        status=code, reason=why, http_version=ex.http_version, body=bytearray(),
                        start_ns=s.head_ns, end_ns=s.time_ns, complete=True,
                    )  # fmt: skip
                    ex.errors.append(f"final response not captured after interim {code}")
                    self._maybe_finish(ex)
                elif ex.request is not None:
                    self._awaiting.appendleft(ex)  # its response may still come
            return
        # the body did not frame: the message ends here, incomplete
        msg = ex.request if s.is_request else ex.response
        msg.end_ns = s.time_ns
        msg.complete = False
        ex.errors.append(_body_error(s.what, reason, msg, s.eof))
        s.end_machine()
        s.skip_reason = f"after a {s.what} body that did not frame"
        if s.is_request:
            self._req_ex = None
        else:
            self._resp_ex = None
        self._maybe_finish(ex)

    def _resume_requests(self) -> None:
        """The upgrade/CONNECT was refused: the request side is HTTP/1 again."""
        self._switch_ex = None
        s = self._c2s
        if s.machine is not None and s.machine.their_state is h11.MIGHT_SWITCH_PROTOCOL:
            s.end_machine()
            self._pump(s)

    def _switch(self, ex: Exchange) -> None:
        """``ex`` switched protocols: hand the rest of both directions to an upgrade handler."""
        c2s, s2c = self._c2s, self._s2c
        if c2s.machine is not None and ex.request is not None and not ex.request.ended:
            self._drain_request(ex)
        c2s_rest = c2s.rest()
        s2c_rest = s2c.rest()
        self._resp_ex = None
        self._req_ex = None
        self._switch_ex = None
        self._upgrade_ex = ex
        if ex.response.status != 101:
            ex.notes.append("connection became a tunnel (CONNECT)")
        else:
            what = ex.response.header("upgrade")
            ex.notes.append(f"connection switched to {what}" if what else "connection switched protocols")
        self.upgraded = handler = self._on_upgrade(ex)
        if c2s_rest:
            handler.feed(Direction.C2S, c2s_rest, c2s.time_ns, c2s.meta)
        if s2c_rest:
            handler.feed(Direction.S2C, s2c_rest, s2c.time_ns, s2c.meta)

    def _drain_request(self, ex: Exchange) -> None:
        """Take what is left of the upgrade request from the C2S machine (usually just its end)."""
        s = self._c2s
        while True:
            try:
                ev = s.machine.next_event()
            except h11.RemoteProtocolError:
                break
            if ev is h11.NEED_DATA and s.give():
                continue
            if isinstance(ev, h11.Data):
                self._append(ex.request, ev.data)
            elif isinstance(ev, h11.EndOfMessage):
                ex.request.complete = True
                break
            else:
                break
        if not ex.request.complete:
            ex.errors.append("request incomplete when the connection switched protocols")
        ex.request.end_ns = s.time_ns


# -- helpers -------------------------------------------------------------------------


def _text(b: bytes) -> str:
    """Header text: UTF-8 when it is, Latin-1 otherwise (never fails, never loses a byte)."""
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return b.decode("latin-1")


def _headers(headers) -> list[tuple[str, str]]:
    """Header fields in wire order with their original casing."""
    return [(_text(name), _text(value)) for name, value in headers.raw_items()]


def _trailers(msg: HttpMessage, ev: h11.EndOfMessage) -> None:
    if ev.headers:
        trailers = _headers(ev.headers)
        msg.headers.extend(trailers)
        msg.notes.append("trailer fields appended to the headers: " + ", ".join(n for n, _ in trailers))


def _asks_switch(req: HttpRequest) -> bool:
    return req.method == "CONNECT" or req.header("upgrade") is not None


_SYNTHETIC: dict[str, h11.Request] = {}


def _synthetic_request(req: HttpRequest | None) -> h11.Request:
    """What the response machine is told the client sent.

    Only the method frames a response (HEAD, CONNECT), so one cached request per method
    serves every exchange. It always proposes an upgrade so that a ``101`` is accepted;
    that changes nothing for other responses.
    """
    method = req.method if req is not None else "GET"
    cached = _SYNTHETIC.get(method)
    if cached is None:
        headers = [("Host", "unknown"), ("Connection", "upgrade"), ("Upgrade", "unknown")]
        try:
            cached = h11.Request(method=method, target="/", headers=headers)
        except (h11.LocalProtocolError, UnicodeError):
            cached = _synthetic_request(None)
        if len(_SYNTHETIC) < 64:
            _SYNTHETIC[method] = cached
    return cached


def _body_error(what: str, reason: str, msg: HttpMessage, eof: bool) -> str:
    if eof:
        m = _EOF_LENGTH.search(reason)
        if m:
            return f"{what} body truncated: {m.group(1)} of {m.group(2)} bytes"
        if "chunked" in reason:
            return f"{what} body truncated: chunked body incomplete after {msg.body_size} bytes"
        return f"{what} body truncated after {msg.body_size} bytes ({reason})"
    return f"{what} body did not frame ({reason}): {msg.body_size} bytes kept"


# -- fast path -----------------------------------------------------------------------
#
# Most messages eCapture delivers are whole and simply framed: a head and then a body of
# exactly Content-Length bytes (or none). For those, a fresh h11 machine per message is
# most of the cost of a HAR conversion, so the parser builds the events h11 would return
# itself (h11's own grammar, the same event objects) and hands them out through
# :class:`_FastMessage`, which stands in for the machine: the rest of the parser cannot
# tell the difference. Anything else, or anything in doubt, goes through h11.

_FAST_NO_BODY_METHODS = ("HEAD", "CONNECT")  # their responses are framed by the request


class _FastMessage:
    """A whole, already parsed message posing as an h11 machine that was given all of it.

    ``next_event()`` returns the head, the body (one ``Data``, if any) and the end;
    ``unconsumed`` is what h11 would report as ``trailing_data`` at each point.
    """

    __slots__ = ("events", "index", "body_len", "unconsumed")
    their_state = h11.SEND_BODY  # never a protocol switch: those go through h11

    def __init__(self, head, buf: bytearray, head_end: int, length: int, head_len: int) -> None:
        if length:
            self.events = (head, h11.Data(data=bytes(buf[head_end : head_end + length])), _EOM)
        else:
            self.events = (head, _EOM)
        self.index = 0
        self.body_len = length
        self.unconsumed = head_len + length

    def next_event(self):
        i = self.index
        if i >= len(self.events):  # pragma: no cover - the parser ends the machine at the end
            return h11.PAUSED
        self.index = i + 1
        self.unconsumed = self.body_len if i == 0 else 0
        return self.events[i]


def _fast_head(buf: bytearray, pos: int):
    """(start line, header fields, Content-Length or None, Host count, head end) of a
    CRLF-only head that h11 would read the same way, or None."""
    end = buf.find(b"\r\n\r\n", pos, pos + FAST_MAX_HEAD)
    if end < 0:
        return None
    lines = bytes(buf[pos:end]).split(b"\r\n")
    fields = []
    length = None
    hosts = 0
    match = _FAST_HEADER.fullmatch
    for line in lines[1:]:
        m = match(line)  # no obs-fold, no bare CR/LF, no bad bytes (else h11 decides)
        if m is None:
            return None
        name, value = m.group("field_name", "field_value")
        lower = name.lower()
        if lower == b"content-length":
            if length is not None or _FAST_DIGITS.fullmatch(value) is None:
                return None
            length = int(value)
        elif lower == b"transfer-encoding" or lower == b"upgrade":
            return None
        elif lower == b"host":
            hosts += 1
        fields.append((name, lower, value))
    return lines[0], fields, length, hosts, end + 4


def _fast_request(buf: bytearray, pos: int) -> _FastMessage | None:
    """The request at ``buf[pos:]`` when it is whole and simple (see the fast path notes)."""
    head = _fast_head(buf, pos)
    if head is None:
        return None
    line, fields, length, hosts, head_end = head
    m = _FAST_REQUEST_LINE.fullmatch(line)
    if m is None:
        return None
    method, target, version = m.group("method", "target", "http_version")
    if method == b"CONNECT" or version not in (b"1.1", b"1.0"):
        return None
    if hosts > 1 or (hosts == 0 and version == b"1.1"):
        return None  # h11 refuses it
    if length is None:
        length = 0
    if len(buf) < head_end + length:
        return None
    ev = h11.Request(method=method, headers=_H11Headers(fields), target=target, http_version=version, _parsed=True)
    return _FastMessage(ev, buf, head_end, length, head_end - pos)


def _fast_response(buf: bytearray, pos: int) -> _FastMessage | None:
    """The response at ``buf[pos:]`` when it is whole, final, not 204/304 and framed by
    Content-Length (the caller excludes answers to HEAD and CONNECT)."""
    head = _fast_head(buf, pos)
    if head is None:
        return None
    line, fields, length, _hosts, head_end = head
    if length is None:
        return None  # EOF-delimited
    m = _FAST_STATUS_LINE.fullmatch(line)
    if m is None:
        return None
    version, code, reason = m.group("http_version", "status_code", "reason")
    status = int(code)
    if status < 200 or status == 204 or status == 304 or version not in (b"1.1", b"1.0"):
        return None
    if len(buf) < head_end + length:
        return None
    ev = h11.Response(
        headers=_H11Headers(fields), status_code=status, reason=b"" if reason is None else reason,
        http_version=version, _parsed=True,
    )  # fmt: skip
    return _FastMessage(ev, buf, head_end, length, head_end - pos)
