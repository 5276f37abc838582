"""Passive, sans-IO HTTP/1.x decoder for one connection.

Client→server bytes are read as requests, server→client bytes as responses, each message
by a reader of :mod:`.readers` (h11, or the fast path of :mod:`.fast`). A response reader
is told the request it answers, so HEAD, 1xx, 204/304, CONNECT and EOF-delimited bodies
frame as they should; the answer to an ``Upgrade``/``CONNECT`` request decides whether
the rest of the connection is still HTTP/1.

The decoder owns each direction's bytes (:class:`~.stream.HalfStream`) and hands them to a
reader in growing slices, so a chunk holding many pipelined messages costs linear time
and a long body does not pile up in memory. Between messages it checks the start line
itself, so it can skip garbage (eCapture is lossy) and start again at the next line that
looks like a request line (client→server) or a status line (server→client). Nothing here
raises on bad input: every problem becomes an error string on an
:class:`~.exchange.Http1Exchange` or a connection diagnostic (:meth:`take_diagnostics`).

The lossy-capture rules (lost requests and responses, reordering, protocol switches) are
listed in the package's docstring.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from ...limits import ECAPTURE_CAP
from ...model import Direction
from .events import NEED_DATA, Body, End, ParseError, RequestHead, ResponseHead
from .exchange import REQUEST_NOT_CAPTURED, RESPONSE_NOT_CAPTURED, Http1Exchange, Switch
from .fast import NO_BODY_METHODS, fast_request, fast_response
from .grammar import text
from .limits import AWAITING_COST, CONNECTION_BUFFER, H11_TOO_LONG, MAX_HEADER_LINE, MAX_HEADER_SECTION, TRAILER_TOO_LONG
from .messages import append_body, asks_switch, end_message, new_request, new_response, rendered_into
from .readers import H11Reader, WholeMessage
from .recovery import Recovery
from .stream import FIRST_SLICE, MAX_SLICE, HalfStream

__all__ = ["DEFAULT_BODY_CAP", "MAX_HEADER_LINE", "MAX_HEADER_SECTION", "REQUEST_NOT_CAPTURED", "RESPONSE_NOT_CAPTURED",
           "FAST_PATH", "Http1Decoder"]

DEFAULT_BODY_CAP = 64 * 1024 * 1024
FAST_PATH = True  # default of Http1Decoder(fast=...): parse simple complete messages without h11
_C2S, _S2C = Direction.C2S, Direction.S2C  # (Enum members cost ~0.15 µs to read on Python 3.11, aliases ~0.02)


class Http1Decoder(Recovery):
    """HTTP/1.x exchanges of one connection; see the module docstring.

    ``feed()`` and ``close()`` return the exchanges that completed, in completion order.
    ``meta`` is whatever the caller says about a chunk: kept on the exchanges it fed (``add_meta``).
    ``new_exchange`` makes the exchanges (arguments of :class:`Http1Exchange`: a request by position, the rest by
    keyword): that class, or one with its fields, ``start_ns`` and ``add_meta`` (the HAR sink's, so that no
    exchange is made twice).
    """

    def __init__(self, body_cap: int = DEFAULT_BODY_CAP, reorder_window_ns: int = 0, fast: bool | None = None,
                 max_line: int = MAX_HEADER_LINE, max_head: int = MAX_HEADER_SECTION,
                 max_buffer: int = CONNECTION_BUFFER,
                 new_exchange: Callable[..., Http1Exchange] = Http1Exchange) -> None:  # fmt: skip
        self.fast = FAST_PATH if fast is None else fast
        self.new_exchange = new_exchange
        self.max_awaiting = max_buffer // AWAITING_COST if max_buffer >= AWAITING_COST else 1  # see _end_oldest_waiting
        self._orphans = 0  # responses still owed to requests that _end_oldest_waiting ended
        self.body_cap = body_cap
        self.reorder_window_ns = reorder_window_ns
        self.max_line = max_line  # longest start or header line; a longer one makes the head unparsable
        self.max_head = max_head  # largest header section, likewise
        self._c2s = HalfStream(_C2S)
        self._s2c = HalfStream(_S2C)
        self._req_ex: Http1Exchange | None = None  # exchange whose request the C2S reader reads
        self._resp_ex: Http1Exchange | None = None  # exchange whose response the S2C reader reads
        self._awaiting: deque[Http1Exchange] = deque()  # request head read, response not started
        self._switch_ex: Http1Exchange | None = None  # upgrade/CONNECT request waiting for its answer
        self._interim: list[tuple[int, str]] = []  # 1xx seen for the response in progress
        self.switch: Switch | None = None
        self._done: list[Http1Exchange] = []
        self._diagnostics: list[str] = []
        self._closed = False
        self._asked: tuple | None = None  # (stream, the fast path's answer) for the bytes _begin reads next

    # -- public API ----------------------------------------------------------------

    def feed(self, direction: Direction, data: bytes, time_ns: int, meta: object = None,
             rendered: bytes | None = None) -> list[Http1Exchange]:
        """Decode the bytes of one chunk; return the exchanges that completed. A feed with the ``meta`` of the
        direction's last one (not None) goes on with the same capture (a big one fed in pieces). ``rendered``: the
        head eCapture rendered, when the framing repair changed it (:attr:`HttpMessage.rendered_headers`)."""
        if self._closed:
            if data:
                self._diagnostics.append(f"{len(data)} bytes fed after the connection closed: ignored")
            return []
        if not data:
            return self._take()
        held = self._s2c
        if self.switch is None and held.reader is None and held.pos < len(held.buf):  # (responses waiting: no call else)
            self._release_held(time_ns)
        if self.switch is not None:
            self.switch.pending.append((direction, data, time_ns, meta))
            return self._take()
        s = self._c2s if direction is _C2S else held
        s.time_ns = time_ns
        s.rendered = rendered
        same_capture = meta is not None and meta is s.meta
        s.meta, capped, s.taken = meta, s.taken == ECAPTURE_CAP, len(data) + (s.taken if same_capture else 0)
        if s.reader is None:
            if s.pos >= len(s.buf):  # (not s.waiting: without the property's call)
                s.gate_ns = time_ns
                if self.fast and self._whole_capture(s, data):
                    return self._take()
        elif not (s.in_head or same_capture) and (length := self._lost_end(s, data, capped)) is not None:  # (lost end)
            self._cut_short(s, length)
            s.gate_ns = time_ns
        s.buf += data
        self._pump(s)
        return self._take()

    def close(self, time_ns: int) -> list[Http1Exchange]:
        """End of the connection: EOF-delimited bodies end, incomplete messages become errors."""
        if self._closed:
            return []
        c2s, s2c = self._c2s, self._s2c
        if self._awaiting or self.switch is not None or self._switch_ex is not None or c2s.reader is not None or \
                s2c.reader is not None or c2s.pos < len(c2s.buf) or s2c.pos < len(s2c.buf) or c2s.skipped or \
                s2c.skipped or c2s.pending_errors or s2c.pending_errors:  # (else nothing is left to end or say)
            self._end_streams(time_ns)
        self._closed = True
        done = self._take()  # (most are none or one: no sort, no key function made)
        return sorted(done, key=lambda e: e.start_ns) if len(done) > 1 else done

    def take_diagnostics(self) -> list[str]:
        """Connection-level problems that no exchange carries (e.g. garbage at the end)."""
        out, self._diagnostics = self._diagnostics, []
        return out

    # -- driving the readers -------------------------------------------------------

    def _take(self) -> list[Http1Exchange]:
        out, self._done = self._done, []
        return out

    def _pump(self, s: HalfStream) -> None:
        while self.switch is None:
            if s.reader is None:
                if s.pos >= len(s.buf):  # nothing left to read: find_start's first answer, without two calls
                    s.buf.clear()
                    s.pos = 0
                    return
                if not self._begin(s):
                    return
                if s.reader is None:  # a whole message, read at once (_whole)
                    continue
            try:
                ev = s.reader.next_event()
            except ParseError as exc:
                reason = str(exc)
                if reason == H11_TOO_LONG and not s.in_head:  # (h11's words for a trailer section or chunk line
                    self._on_error(s, TRAILER_TOO_LONG, limit=True)  # over its event size: a limit's, said so)
                else:
                    self._on_error(s, reason)
                continue
            if ev is NEED_DATA:
                over = s.in_head and s.head_limit(self.max_line, self.max_head, complete=False)
                if over:
                    self._on_error(s, over, limit=True)
                    continue
                if s.give():
                    continue
                return
            if (type(ev) is RequestHead or type(ev) is ResponseHead) and type(s.reader) is H11Reader \
                    and (over := s.head_limit(self.max_line, self.max_head, complete=True)):  # fmt: skip
                self._on_error(s, over, limit=True)
                continue
            if type(ev) is Body or type(ev) is End or type(ev) is RequestHead or type(ev) is ResponseHead:
                if s.is_request:
                    self._on_request_event(ev)
                else:
                    self._on_response_event(ev)
                continue
            return  # PAUSED

    def _begin(self, s: HalfStream) -> bool:
        """Start a reader on the next message; False when that cannot happen yet."""
        buf, max_line = s.buf, self.max_line
        at = s.pos  # (the fast path first, for a response when a request waits for it: a message it takes starts with
        # a start line find_start takes where it stands, ASCII: neither is run, nor ascii_target, ~10k a request)
        first = self.fast and (s.is_request or bool(self._awaiting))
        asked, self._asked = self._asked, None
        reader = asked[1] if asked is not None and asked[0] is s and at == 0 else \
            (fast_request if s.is_request else fast_response)(buf, at, max_line, self.max_head) if first else None
        if reader is None and not s.find_start(max_line):
            return False
        if s.rendered is not None:  # (the message is the rendered one when it starts as it does)
            s.original = s.rendered if s.rendered.startswith(buf[s.pos : buf.find(b"\n", s.pos) + 1]) else None
        if s.is_request:
            s.widened = 0
            if reader is None:
                s.ascii_target()
                if self.fast and (s.pos != at or s.widened):  # (else the fast path refused these bytes already)
                    reader = fast_request(buf, s.pos, max_line, self.max_head)
                if reader is None:
                    reader = H11Reader(request=True, max_head=self.max_head + MAX_SLICE)
        else:
            # (the exchange awaiting it, without _next_for_response's call when one does: most responses, ~0.5k)
            ex = self._awaiting.popleft() if self._awaiting and not self._orphans else self._next_for_response(s)
            if ex is None:
                return False
            method = ex.request.method if ex.request is not None else None
            if reader is None and self.fast and (s.pos != at or not first) and method not in NO_BODY_METHODS:
                reader = fast_response(buf, s.pos, max_line, self.max_head)
            if reader is None or method in NO_BODY_METHODS:  # (answers framed by the request: h11 reads them)
                reader = H11Reader(request=False, max_head=self.max_head + MAX_SLICE, method=method)
            self._resp_ex = ex
            self._interim = []
        if s.skipped or s.skip_said or s.skip_reason:  # (else flush_skip has nothing to do: no call)
            s.flush_skip()
        if s.pos > len(buf) - s.pos:  # amortised compaction: drop what is behind us
            del buf[: s.pos]
            s.pos = 0
        s.reader = reader
        s.rendered = None
        s.in_head = True
        s.start = s.pos
        s.head_ns = s.gate_ns
        s.slice = FIRST_SLICE
        s.eof_sent = False
        if type(reader) is H11Reader:
            s.give()
        else:
            s.pos += reader.unconsumed  # the whole message is given at once
            self._whole(s, reader)
        return True

    def _whole_capture(self, s: HalfStream, data: bytes) -> bool:
        """A capture on a direction with nothing left to read that is one whole message of the fast path: what
        :meth:`_begin` and :meth:`_whole` do with it, read from the capture's own bytes (not copied into the
        stream's buffer and out of it again, nor through :meth:`_pump`: ~5k instructions a message). False when it
        is not (nothing done; the fast path's answer, when asked, goes to :meth:`_begin`, which would ask the same
        of the same bytes) or when :meth:`_begin` has more to do (a skip to say, a response that must wait, one
        the fast path is not asked first for)."""
        if s.skipped or s.skip_said or s.skip_reason or s.buf or s.pos:
            return False
        awaiting = self._awaiting
        if s.is_request:
            r = self._s2c
            if r.reader is not None or r.pos < len(r.buf):  # (a response waits for it: _whole leaves it to events)
                return False
            w = fast_request(data, 0, self.max_line, self.max_head)
        elif awaiting and not self._orphans and self._switch_ex is None and \
                (awaiting[0].request is None or awaiting[0].request.method not in NO_BODY_METHODS):
            w = fast_response(data, 0, self.max_line, self.max_head)
        else:
            return False
        if w is None or w.unconsumed != len(data):
            self._asked = (s, w)  # (for this direction's next _begin, at the start of these bytes: checked there)
            return False
        if s.rendered is not None:
            s.original = s.rendered if s.rendered.startswith(data[: data.find(b"\n") + 1]) else None
            s.rendered = None
        if s.is_request:
            s.widened = 0
        else:
            self._resp_ex = awaiting.popleft()
            self._interim = []
        s.head_ns = s.gate_ns
        self._whole(s, w)
        return True

    def _whole(self, s: HalfStream, w: WholeMessage) -> None:
        """What a whole message's events (head, body, end) do, done at once when nothing can come between them
        (a request and its response ~25k instructions less, of ~170k): a request when no response waits for it
        (the head would let it go on), a response that does not answer an upgrade (its head would resume the
        requests). Else the events go one by one through :meth:`_pump`."""
        head, body, ex = w.head, w.body, None
        if s.is_request:
            r = self._s2c
            if r.reader is not None or r.pos < len(r.buf):
                return
            r.buf.clear()  # (what _pump does with it after the head)
            r.pos = 0
            req = new_request(head, s.head_ns, w.unconsumed - len(body), s.widened, w.texts)
            if s.original is not None:
                rendered_into(req, s)
            ex = self.new_exchange(req)  # (the request by position: no keywords' dict)
            ex.http_version = req.http_version
            if len(self._awaiting) >= self.max_awaiting:  # (see _end_oldest_waiting)
                self._end_oldest_waiting()
            self._awaiting.append(ex)
            msg = req
        elif self._resp_ex is not self._switch_ex:
            ex = self._resp_ex
            msg = ex.response = new_response(head, s.head_ns, w.unconsumed - len(body), self._interim, w.texts)
            if s.original is not None:
                rendered_into(msg, s)
            if ex.request is None:
                ex.http_version = msg.http_version
            self._resp_ex = None
        if ex is None:
            return
        ex.add_meta(s.meta)
        if s.pending_errors:
            s.move_errors(ex.errors)
        if body:
            append_body(self.body_cap, msg, body)
        msg.complete, msg.end_ns = True, s.time_ns  # (end_message's and end_reader's work written out: no trailers,
        w.unconsumed = 0  # nothing unconsumed, ~0.5k instructions a call; a request's exchange waits for its answer)
        s.reader, s.in_head, s.gate_ns = None, False, s.time_ns
        if ex.response is not None:
            self._maybe_finish(ex)

    # -- events --------------------------------------------------------------------

    def _on_request_event(self, ev) -> None:
        s = self._c2s
        if type(ev) is RequestHead:
            self._final_lost(s.time_ns)  # (the final answer to a 1xx lost?)
            req = new_request(ev, s.head_ns, s.head_size(), s.widened)
            if s.original is not None:
                rendered_into(req, s)
            s.in_head = False
            ex = self.new_exchange(req)  # (the request by position: no keywords' dict)
            ex.http_version = req.http_version
            s.move_errors(ex.errors)
            ex.add_meta(s.meta)
            self._req_ex = ex
            if len(self._awaiting) >= self.max_awaiting:
                self._end_oldest_waiting()
            self._awaiting.append(ex)
            self._pump(self._s2c)  # a response may have been waiting for this request
            return
        ex = self._req_ex
        if ex is None:  # pragma: no cover - a body or end only follows a head
            return
        req = ex.request
        ex.add_meta(s.meta)
        if type(ev) is Body:
            append_body(self.body_cap, req, ev.data)
        else:
            end_message(req, ev, s.time_ns)
            self._req_ex = None
            if asks_switch(req, s.reader) and ex.response is None and (self.switch is None or ex is not self.switch.exchange):
                self._switch_ex = ex  # the reader pauses: the answer decides what the next bytes are
            else:
                s.end_reader()
            self._maybe_finish(ex)

    def _on_response_event(self, ev) -> None:
        s = self._s2c
        ex = self._resp_ex
        ex.add_meta(s.meta)
        if type(ev) is ResponseHead:
            if ev.status < 200:
                if ev.status == 101:
                    ex.response = new_response(ev, s.head_ns, s.head_size(), self._interim)
                    if s.original is not None:
                        rendered_into(ex.response, s)
                    ex.response.complete = True
                    ex.response.end_ns = s.time_ns
                    self._switch(ex)
                    return
                reason = text(ev.reason)
                self._interim.append((ev.status, reason))
                ex.notes.append(f"interim response {ev.status} {reason}".rstrip())
                s.start = s.pos - s.reader.unconsumed  # the final response's head starts here
                s.head_ns = s.time_ns
                return
            ex.response = new_response(ev, s.head_ns, s.head_size(), self._interim)
            if s.original is not None:
                rendered_into(ex.response, s)
            s.in_head = False
            s.move_errors(ex.errors)
            if ex.request is None:
                ex.http_version = ex.response.http_version
            if s.reader.tunnel:  # 2xx to CONNECT: a tunnel
                ex.response.complete = True
                ex.response.end_ns = s.time_ns
                self._switch(ex)
            elif ex is self._switch_ex:
                self._resume_requests()
            return
        resp = ex.response
        if type(ev) is Body:
            append_body(self.body_cap, resp, ev.data)
        else:
            end_message(resp, ev, s.time_ns)
            s.end_reader()
            self._resp_ex = None
            self._maybe_finish(ex)

    def _maybe_finish(self, ex: Http1Exchange) -> None:
        if self.switch is not None and ex is self.switch.exchange:
            return  # returned by close()
        req, resp = ex.request, ex.response  # (whether they ended by end_ns: the property ended is a call, ~1.5k each)
        if (req is None or req.end_ns is not None) and resp is not None and resp.end_ns is not None:
            self._done.append(ex)
