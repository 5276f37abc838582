"""What the HTTP/1 decoder does when a message does not parse, which exchange a response answers (and when
answers do not come), when the connection switches protocols, and what its end ends (and what it holds till then).

A mixin of :class:`~.decoder.Http1Decoder` (its state: the two :class:`~.stream.HalfStream`, the exchanges being
read, the one awaiting an answer to an upgrade, :attr:`switch`), kept apart because it is its own job: the
decoder reads messages, this recovers from those that do not frame and stops at a protocol switch.
"""

from __future__ import annotations

from ...limits import limit_note
from ...model import Direction
from ..http import HttpRequest, HttpResponse
from ..http1_render import starts_http1_message
from ..numbers import ascii_number
from .events import ParseError
from .exchange import REQUEST_NOT_CAPTURED, RESPONSE_NOT_CAPTURED, Http1Exchange, Switch
from .grammar import REQUEST_LINE, REQUEST_SEARCH, STATUS_LINE, STATUS_SEARCH, text
from .limits import ANSWER_OF_ENDED, AWAITING_COST
from .messages import append_body, body_error
from .readers import H11Reader
from .stream import BLANK_LINE, MAX_SLICE, HalfStream

CHUNKED = -1  # (what Recovery._lost_end says of a chunked body: it has no length)


class Recovery:
    """Http1Decoder's recovery from bytes that do not frame, its bound on requests waiting for answers, its
    stop at a protocol switch, and the end of the connection (:meth:`_end_streams`; :meth:`buffered`, what it
    holds until then)."""

    def _end_streams(self, time_ns: int) -> None:
        """What :meth:`close` ends: bodies read to EOF, unfinished messages and exchanges, unsaid skips."""
        if self.switch is None:
            self._release_held(None)  # at the times they arrived, before EOF ends anything
            for s in (self._c2s, self._s2c):
                s.eof = True
                s.time_ns = max(s.time_ns, time_ns)
                self._pump(s)
        if self.switch is not None:
            self._done.append(self.switch.exchange)
        elif self._switch_ex is not None and self._c2s.reader is not None:
            rest = self._c2s.reader.unconsumed + len(self._c2s.buf) - self._c2s.pos
            if rest:
                self._switch_ex.errors.append(
                    f"{rest} client→server bytes after the upgrade request not parsed "
                    "(the answer to the upgrade was not captured)"
                )
        for s in (self._c2s, self._s2c):
            s.flush_skip()
        if self._awaiting:
            self._s2c.move_errors(self._awaiting[0].errors)
        for s in (self._c2s, self._s2c):
            s.move_errors(self._diagnostics)
        while self._awaiting:
            ex = self._awaiting.popleft()
            ex.errors.append(RESPONSE_NOT_CAPTURED)
            if ex.request is not None and ex.request.end_ns is None:
                ex.request.end_ns = time_ns
            self._done.append(ex)

    def buffered(self) -> int:
        """Bytes held for exchanges not yet returned: unread input and kept bodies."""
        n = len(self._c2s.buf) - self._c2s.pos + len(self._s2c.buf) - self._s2c.pos
        for x in {id(x): x for x in (*self._awaiting, self._req_ex, self._resp_ex) if x is not None}.values():
            for msg in (x.request, x.response):
                if msg is not None:
                    n += len(msg.body)
        if self.switch is not None:
            n += sum(len(p[1]) for p in self.switch.pending)
        return n

    def _end_oldest_waiting(self) -> None:
        """Before one more request waits for its answer when :attr:`max_awaiting` do: each counts AWAITING_COST
        bytes of the connection's buffer (700,000 pipelined requests whose answers were lost took 1.25 GB). The
        oldest ends unanswered; the next response, its own, is one without its request."""
        old = self._awaiting.popleft()
        old.errors.append(limit_note("connection_buffer", (
            f"{RESPONSE_NOT_CAPTURED}: ended early, {len(self._awaiting) + 1} requests waiting at once for their "
            f"answers ({AWAITING_COST} bytes each counted against the connection's buffer)")))
        self._done.append(old)
        self._orphans += 1

    def _on_error(self, s: HalfStream, reason: str, *, limit: bool = False) -> None:
        ex = self._req_ex if s.is_request else self._resp_ex
        if s.in_head:
            # (a start line whose header section did not parse is a message all the same: a request the next
            # response answers, or the answer to the request waiting; no other one)
            first_end, ended, inner = _extent(s, self.max_line, self.max_head)
            if inner is not None and limit:  # (it ends at that start line: within the limits, its lines refused)
                reason, limit = _refusal(s, inner[0], self.max_head), False
            if limit or inner is not None or not ended or s.head_cut():
                answer = None
            elif s.is_request:
                answer = _start_line(s, first_end, REQUEST_LINE)
            else:
                answer = None if ex is None else _final_status(s, first_end)
            s.skip_bad_head(reason, limit=limit, to=None if inner is None else inner[1])
            if limit:  # a message whose head is over a limit came: its exchange says so, and the bytes skipped to
                s.skip_said = f"{s.what} not parsed, skipped: {reason}"  # the next start line are not said on the next one
            elif answer is not None:  # (said on its exchange: not again on the next one's)
                s.skip_said = f"{s.what} head not parsed ({s.skip_reason}): its header fields and body skipped"
            if s.is_request and (limit or answer is not None):  # (its answer is this exchange's, not the next's)
                errors: list[str] = []
                s.move_errors(errors)  # (what was skipped before it)
                self._awaiting.append(self.new_exchange(errors=[*errors, s.skip_said]))
                if answer is not None:
                    self._awaiting[-1].request = _request(s, answer)
            elif not s.is_request and ex is not None:
                self._resp_ex = None
                if not (limit or answer is not None or self._interim):
                    if ex.request is not None:
                        self._awaiting.appendleft(ex)  # its response may still come
                    return
                s.move_errors(ex.errors)  # (what was skipped before it: said on it, as on a message that parsed)
                if limit and not self._interim:  # (the answer it was: the next one is the next request's)
                    ex.response = HttpResponse(status=0, reason="", http_version=ex.http_version, body=bytearray(),
                                               start_ns=s.head_ns, end_ns=s.time_ns, complete=False)
                    ex.errors.append(s.skip_said)
                    self._maybe_finish(ex)
                elif answer is not None:  # (its answer all the same, after its 1xx if any: the next one is the next
                    code, why, version = answer  # request's)
                    ex.response = HttpResponse(status=code, reason=why, http_version=version, body=bytearray(),
                                               start_ns=s.head_ns, end_ns=s.time_ns, complete=False,
                                               interim=[c for c, _ in self._interim])
                    ex.errors.append(s.skip_said)
                    self._maybe_finish(ex)
                elif self._interim:  # the 1xx is all that is left of this response
                    self._interim_only(s, ex)
            return
        # the body did not frame: the message ends here, incomplete
        msg = ex.request if s.is_request else ex.response
        msg.end_ns = s.time_ns
        msg.complete = False
        if limit:  # (a trailer section or chunk-size line over the limit: the body read so far is kept)
            ex.errors.append(limit_note("header_section_size", f"{s.what} {reason}: body ended after "
                                                               f"{msg.body_size} bytes, the rest skipped"))
        else:
            at_eof = s.eof_sent and s.reader.unconsumed == 0  # every byte read, then the stream ended
            ex.errors.append(body_error(s.what, reason, msg, s.eof, at_eof))
        s.end_reader()
        s.skip_reason = (f"after a {s.what} whose {reason[:-len(' too long')]} was over --max-header-size" if limit
                         else f"after a {s.what} body that did not frame")
        if s.is_request:
            self._req_ex = None
        else:
            self._resp_ex = None
        self._maybe_finish(ex)

    def _interim_only(self, s: HalfStream, ex: Http1Exchange) -> None:
        """``ex``'s response is its last 1xx: the final one was not captured."""
        code, why = self._interim[-1]
        ex.response = HttpResponse(status=code, reason=why, http_version=ex.http_version, body=bytearray(),
                                   start_ns=s.head_ns, end_ns=s.time_ns, complete=True)
        ex.errors.append(f"final response not captured after interim {code}")
        self._maybe_finish(ex)

    def _final_lost(self, time_ns: int) -> None:
        """A request head came (at ``time_ns``) while the answer being read has had only its 1xx, and no byte of
        the final one is there: the final one was lost, and the next response is the new request's. (A client
        sends its next request after the final answer to one that waited for a 100 Continue; eCapture v1 renders
        only a flush's first response, so a 100 swallows the final one that came in its flush: protocol doc §4.3.)
        Not when the request's time is a whole second (v1.4): a second's requests come before its responses, and
        the final answer may be in that second."""
        s = self._s2c
        ex = self._resp_ex
        if (ex is None or not self._interim or ex.response is not None or not s.in_head or s.reader is None
                or s.reader.unconsumed or s.pos < len(s.buf) or not time_ns % 1_000_000_000):
            return
        self._interim_only(s, ex)
        s.end_reader()
        self._resp_ex = None

    def _lost_end(self, s: HalfStream, data: bytes, capped: bool) -> int | None:
        """The ``Content-Length`` of the message being read (:data:`CHUNKED` for a chunked one) when ``data``, the
        next capture of ``s``'s direction, starts the next message while that body still lacks bytes: eCapture
        lost the rest (its 16 KiB cap per call, a dropped event; protocol doc §10.16); else None. Only at a
        capture's start, with every earlier byte read, and a response only when a later request waits for its
        answer (else a body piece that starts like a status line would cut it). A chunked body only after a
        capture of the cap's size (``capped``): a chunk's data is often written apart from its size line, and an
        upload of text holds start lines where a write begins (a body cut inside a chunk would read the next
        message as the rest of that chunk, and every message after it would be lost)."""
        ex = self._req_ex if s.is_request else self._resp_ex
        msg = None if ex is None else ex.request if s.is_request else ex.response
        if msg is None or s.pos < len(s.buf) or s.reader.unconsumed or not (s.is_request or self._awaiting):
            return None
        length = ascii_number((msg.header("content-length") or "").strip())
        if length is None:
            if not capped or "chunked" not in (msg.header("transfer-encoding") or "").lower():
                return None
            length = CHUNKED
        elif msg.body_size >= length:
            return None
        return length if data.startswith(b"HTTP/") != s.is_request and starts_http1_message(data) else None

    def _cut_short(self, s: HalfStream, length: int) -> None:
        """End the message being read where its bytes stopped, ``length`` declared (see :meth:`_lost_end`)."""
        ex = self._req_ex if s.is_request else self._resp_ex
        msg = ex.request if s.is_request else ex.response
        msg.end_ns = s.time_ns
        msg.complete = False
        had = f"{msg.body_size} of {length} bytes" if length != CHUNKED else f"chunked, {msg.body_size} bytes read"
        ex.errors.append(f"{s.what} body truncated: {had}, then the next {s.what} began (eCapture lost the rest: its "
                         "16 KiB cap per call, or a dropped event)")
        s.end_reader()
        if s.is_request:
            self._req_ex = None
        else:
            self._resp_ex = None
        self._maybe_finish(ex)

    def _resume_requests(self) -> None:
        """The upgrade/CONNECT was refused: the request side is HTTP/1 again."""
        self._switch_ex = None
        s = self._c2s
        if s.reader is not None and s.reader.switch_pending:
            s.end_reader()
            self._pump(s)

    def take_switched_bytes(self) -> list[tuple[Direction, bytes, int, object]]:
        """The bytes after a protocol switch not taken yet, as ``(direction, data, time_ns, meta)``."""
        if self.switch is None:
            return []
        out, self.switch.pending = self.switch.pending, []
        return out

    def _switch(self, ex: Http1Exchange) -> None:
        """``ex`` switched protocols: the rest of both directions is not HTTP/1."""
        c2s, s2c = self._c2s, self._s2c
        if c2s.reader is not None and ex.request is not None and not ex.request.ended:
            self._drain_request(ex)
        self._resp_ex = None
        self._req_ex = None
        self._switch_ex = None
        self.switch = Switch.at(ex, (Direction.C2S, c2s.rest(), c2s.time_ns, c2s.meta),
                                (Direction.S2C, s2c.rest(), s2c.time_ns, s2c.meta))

    def _drain_request(self, ex: Http1Exchange) -> None:
        """Take what is left of the upgrade request from the C2S reader (usually just its end)."""
        s = self._c2s
        ex.request.complete = s.drain(lambda data: append_body(self.body_cap, ex.request, data))
        if not ex.request.complete:
            ex.errors.append("request incomplete when the connection switched protocols")
        ex.request.end_ns = s.time_ns

    def _next_for_response(self, s: HalfStream) -> Http1Exchange | None:
        """The exchange the next response answers, a response-only one, or None (hold)."""
        if self._orphans:  # (the answer to a request that ended early: see max_awaiting)
            self._orphans -= 1
            ex = self.new_exchange()
            ex.errors.append(ANSWER_OF_ENDED)
            return ex
        if self._awaiting:
            return self._awaiting.popleft()
        if s.force or s.eof:
            ex = self.new_exchange()
            ex.errors.append(REQUEST_NOT_CAPTURED)
            ex.notes.append("framed as the answer to a GET (the request is unknown)")
            return ex
        return None  # hold: its request may still arrive (see reorder_window_ns)

    def _release_held(self, now_ns: int | None) -> None:
        """Held responses older than the reorder window (all of them when ``now_ns`` is None)
        become response-only exchanges."""
        s = self._s2c
        if s.reader is None and s.waiting and (now_ns is None or now_ns - s.gate_ns > self.reorder_window_ns):
            s.force = True
            try:
                self._pump(s)
            finally:
                s.force = False


def _extent(s: HalfStream, max_line: int, max_head: int) -> tuple[int, bool, tuple[int, int] | None]:
    """(where the first line of the head being read ends, -1 when not within ``max_line``; whether a blank line
    ends the head within ``max_head`` bytes; where the first and the last start line inside it begin, or None).

    A start line inside a head, before its blank line (or the end of the buffer, within ``max_head``), is no
    header line: that head is refused, and so is each head that starts at one of them but the last (it holds the
    next), for its lines, not for a limit (the head ends where the next one starts: raising a limit would not read
    it). The heads up to the last are skipped at once, under the first one's reason (theirs would not be said):
    each would be read to the same blank line, in time quadratic in the bytes before it (4,000 heads without a
    blank line took 11 s, 40,000 minutes)."""
    buf, start = s.buf, s.start
    end = buf.find(b"\n", start, start + max_line + 1)
    if end < 0:
        return end, False, None
    bound = min(len(buf), start + max_head)
    blank = BLANK_LINE.search(buf, end, bound)
    stop = bound if blank is None else blank.start() + 1
    search = REQUEST_SEARCH if s.is_request else STATUS_SEARCH
    first = last = search.search(buf, end + 1, stop)
    if first is None:
        return end, blank is not None, None
    for last in search.finditer(buf, first.end() + 1, stop):
        pass  # (the last one is wanted)
    return end, blank is not None, (first.start(), last.start())


def _refusal(s: HalfStream, at: int, max_head: int) -> str:
    """What h11 says of the head being read cut after the start line at ``at`` (and the lines folded onto it),
    with a blank line: what it says of the whole head (its lines are checked in order, and that one is refused)."""
    buf = s.buf
    end = buf.find(b"\n", at)
    while 0 <= end < len(buf) - 1 and buf[end + 1] in b" \t":
        end = buf.find(b"\n", end + 1)
    head = bytes(buf[s.start : len(buf) if end < 0 else end + 1])
    reader = H11Reader(request=s.is_request, max_head=max_head + MAX_SLICE)
    reader.receive_data(head + (b"\r\n" if head.endswith(b"\n") else b"\r\n\r\n"))
    try:
        reader.next_event()
    except ParseError as exc:
        return str(exc)
    return f"a {s.what} start line inside the header section"


def _start_line(s: HalfStream, end: int, pattern):
    """The match of ``pattern`` (a strict start line) with the first line of the head being read, which ends at
    ``end`` (a head that did not parse, ended within the limit, and holds no other start line: :func:`_extent`),
    or None: bytes of another kind."""
    return pattern.fullmatch(s.buf, s.start, end - 1 if s.buf[end - 1] == 13 else end)


def _request(s: HalfStream, m) -> HttpRequest:
    """The request whose line ``m`` is, its head not parsed: what its exchange shows of it."""
    return HttpRequest(method=text(m["method"]), target=text(m["target"]),
                       http_version="HTTP/" + text(m["http_version"]),
                       body=bytearray(), start_ns=s.head_ns, end_ns=s.time_ns, complete=False)


def _final_status(s: HalfStream, end: int) -> tuple[int, str, str] | None:
    """(status, reason, version) of the final status line the response head being read (which did not parse)
    starts with; None when it does not start with one (bytes of another kind: the answer may still come)."""
    m = _start_line(s, end, STATUS_LINE)
    if m is None or m["status_code"] < b"200":
        return None
    return int(m["status_code"]), text(m["reason"] or b""), "HTTP/" + text(m["http_version"])
