"""One direction of an HTTP/1 connection: its bytes, where parsing stands, and finding the
next message start (resynchronisation after bytes that are not HTTP/1)."""

from __future__ import annotations

import re
from collections.abc import Callable

from ...model import Direction
from .events import NEED_DATA, Body, End, ParseError
from .limits import HEADER_LINE_FLAG, HEADER_SECTION_FLAG
from .grammar import REQUEST_PREFIX, REQUEST_SEARCH, START_REQUEST, START_STATUS, STATUS_PREFIX, STATUS_SEARCH

__all__ = ["FIRST_SLICE", "MAX_SLICE", "COMPACT_AT", "HalfStream", "longest_line"]

FIRST_SLICE = 4096  # bytes first given to a new reader; doubled on every NEED_DATA
MAX_SLICE = 1024 * 1024
COMPACT_AT = 4 * 1024 * 1024  # inside a long body, drop consumed bytes once this many piled up
BLANK_LINE = re.compile(rb"\n\r?\n")  # where a head ends
_NON_ASCII = re.compile(rb"[\x80-\xff]")
_C2S = Direction.C2S  # (Enum members cost ~0.15 µs to read on Python 3.11; aliases ~0.02)


class HalfStream:
    """Parsing state of one direction.

    ``buf[pos:]`` is what no reader has been given yet. While a message is parsed,
    ``buf[start:pos]`` are its bytes given so far (``start`` is where its head begins),
    and the reader's unconsumed bytes are the tail of that range: when the message ends,
    ``pos`` steps back over them. ``buf`` is compacted only between messages.
    """

    __slots__ = (
        "direction", "is_request", "buf", "pos", "start", "slice", "gate_ns", "reader", "in_head", "head_ns",
        "time_ns", "meta", "skipped", "skip_reason", "pending_errors", "eof", "eof_sent", "force", "widened",
        "skip_said", "rendered", "original", "taken",
    )  # fmt: skip

    def __init__(self, direction: Direction) -> None:
        self.direction = direction
        self.is_request = direction is _C2S
        self.buf = bytearray()
        self.pos = 0
        self.start = 0  # where the current message (or its final head, after a 1xx) begins
        self.slice = FIRST_SLICE
        self.gate_ns = 0  # time of the chunk that brought buf[pos]
        self.reader = None  # reads the current message (see .readers)
        self.in_head = False  # the reader has not produced the message's head yet
        self.head_ns = 0
        self.time_ns = 0  # time of the chunk being processed
        self.meta = None  # what the caller said about the chunk being processed (kept, not read)
        self.skipped = 0  # bytes dropped while resynchronising, not reported yet
        self.skip_reason = ""
        self.pending_errors: list[str] = []  # go to the exchange of the next message
        self.eof = False
        self.eof_sent = False
        self.force = False  # responses: start even without a request (response-only)
        self.widened = 0  # bytes the current request's start line grew by (:meth:`ascii_target`)
        self.skip_said = ""  # what an exchange whose head was over a limit said of the bytes being skipped (so the
        # next message does not say it again)
        self.rendered: bytes | None = None  # the head eCapture rendered, of the chunk being fed, when repaired
        self.original: bytes | None = None  # that head, when the message being read starts as it does
        self.taken = 0  # bytes of the capture being read so far (all of the last one at a new one's start)

    @property
    def label(self) -> str:
        return "client→server" if self.is_request else "server→client"

    @property
    def what(self) -> str:
        return "request" if self.is_request else "response"

    @property
    def waiting(self) -> bool:
        """Bytes no reader has been given."""
        return self.pos < len(self.buf)

    def give(self) -> bool:
        """Hand the reader its next slice (or the EOF); False when there is nothing to give."""
        if self.pos < len(self.buf):
            if not self.in_head and self.pos >= COMPACT_AT:  # a long body: forget what was consumed
                keep = self.pos - self.reader.unconsumed
                del self.buf[:keep]
                self.pos -= keep
                self.start = 0
            end = min(len(self.buf), self.pos + self.slice)
            self.reader.receive_data(self.buf[self.pos : end])
            self.pos = end
            self.slice = min(self.slice * 2, MAX_SLICE)
            return True
        if self.eof and not self.eof_sent:
            self.reader.receive_data(b"")
            self.eof_sent = True
            return True
        return False

    def end_reader(self) -> None:
        """The reader is done: the bytes it did not consume become ungiven again."""
        self.pos -= self.reader.unconsumed
        self.reader = None
        self.in_head = False
        self.gate_ns = self.time_ns

    def rest(self) -> bytes:
        """Everything not consumed (for a protocol switch); ends the reader."""
        if self.reader is not None:
            self.end_reader()
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

    def head_limit(self, max_line: int, max_head: int, *, complete: bool) -> str:
        """Why the head being read breaks a header limit ("" when it does not). The h11 reader
        is given at most ``MAX_SLICE`` bytes past ``max_head``, so this speaks before h11 does."""
        size = self.head_size() if complete else self.pos - self.start
        if size > max_head:
            return f"{self.what} header section larger than {max_head} bytes (limit: {HEADER_SECTION_FLAG})"
        if size > max_line and longest_line(self.buf, self.start, self.start + size) > max_line:
            return f"{self.what} header line longer than {max_line} bytes (limit: {HEADER_LINE_FLAG})"
        return ""

    # -- finding a message start -------------------------------------------------------

    def find_start(self, max_line: int) -> bool:
        """Move ``pos`` to the next message's start line, skipping (and noting) what is not
        one; False when no whole start line is there yet."""
        buf = self.buf
        line_re = START_REQUEST if self.is_request else START_STATUS
        while True:
            n = len(buf)
            while self.pos < n and buf[self.pos] in b"\r\n":  # blank lines between messages are tolerated
                self.pos += 1
            if self.pos >= n:
                buf.clear()
                self.pos = 0
                return False
            nl = buf.find(b"\n", self.pos, self.pos + max_line + 1)
            if nl >= 0 and line_re.fullmatch(buf, self.pos, nl):
                return True
            if nl < 0 and not self.eof and self.plausible_prefix(self.pos, max_line):
                return False  # wait for the rest of the first line
            if not self.skip_reason:
                if nl < 0 and n - self.pos > max_line and self.plausible_prefix(self.pos, None):
                    self.skip_reason = (f"{self.what} start line longer than {max_line} bytes "
                                        f"(limit: {HEADER_LINE_FLAG})")  # fmt: skip
                else:
                    self.skip_reason = (
                        f"{self.what} start line incomplete at the end of the capture" if nl < 0 and self.eof
                        else f"not an HTTP/1 {'request' if self.is_request else 'status'} line"
                    )  # fmt: skip
            self.resync(max_line)

    def ascii_target(self) -> None:
        """The request line at ``pos`` with the bytes outside ASCII in its target percent-encoded (RFC 3986 §2.1),
        ``widened`` set to what that added. Clients send them raw (curl 'https://host/café') and Go's server, whose
        parser eCapture uses, reads them; h11 refuses such a line, and the request was lost to the HAR. The pcapng
        keeps the bytes as sent. (Only the target can hold them: the start line matched START_REQUEST.)"""
        buf, pos = self.buf, self.pos
        end = buf.find(b"\n", pos)
        line = buf[pos:end]
        if line.isascii():
            self.widened = 0
            return
        wide = _NON_ASCII.sub(_percent, line)
        buf[pos:end] = wide
        self.widened = len(wide) - len(line)

    def plausible_prefix(self, pos: int, max_line: int | None) -> bool:
        """``buf[pos:]`` (no line end yet) may still grow into a start line (of at most ``max_line`` bytes)."""
        buf = self.buf
        if max_line is not None and len(buf) - pos > max_line:
            return False
        if self.is_request:
            return REQUEST_PREFIX.fullmatch(buf, pos) is not None
        return buf[pos : pos + 7] == STATUS_PREFIX[: len(buf) - pos]

    def resync(self, max_line: int) -> None:
        """Skip to the next line that looks like a message start (at least one byte)."""
        buf = self.buf
        search = REQUEST_SEARCH if self.is_request else STATUS_SEARCH
        m = search.search(buf, self.pos + 1)
        if m is not None:
            cut = m.start()
        else:
            cut = len(buf)
            last_nl = buf.rfind(b"\n", self.pos)
            if last_nl >= 0 and not self.eof and self.plausible_prefix(last_nl + 1, max_line):
                cut = last_nl + 1  # the last line may still grow into a start line
        self.skipped += cut - self.pos
        self.pos = cut
        self.gate_ns = self.time_ns

    def move_errors(self, into: list[str]) -> None:
        """What was said for the next message (:attr:`pending_errors`) goes onto ``into`` (its exchange's errors)."""
        into += self.pending_errors
        self.pending_errors.clear()

    def flush_skip(self) -> None:
        """What was skipped becomes an error for the next message (or the connection), unless it was said on the
        exchange of a message whose head was over a limit (``skip_said``)."""
        if self.skip_said:
            self.skipped, self.skip_said = 0, ""
        if self.skipped:
            self.pending_errors.append(
                f"{self.skipped} bytes of unparsable {self.label} data skipped ({self.skip_reason})"
            )
            self.skipped = 0
        self.skip_reason = ""


    def head_cut(self) -> bool:
        """The head being read ends with the stream, not with its blank line."""
        return self.eof_sent and BLANK_LINE.search(self.buf, self.start, self.pos) is None

    def skip_bad_head(self, reason: str, *, limit: bool, to: int | None = None) -> None:
        """The head being read did not parse (or broke a limit): skip its first line (or to ``to``) and look for a
        start line after it; the skipped bytes are reported under ``reason`` (a limit) or what went wrong."""
        incomplete = self.head_cut()
        nl = self.buf.find(b"\n", self.start, self.pos)
        first = to if to is not None else self.pos if nl < 0 else nl + 1
        self.skipped += first - self.start
        self.pos = first
        self.reader = None
        self.in_head = False
        self.gate_ns = self.time_ns
        if limit:
            self.skip_reason = reason  # the limit is what the skipped bytes are reported under
        elif not self.skip_reason:
            self.skip_reason = (f"{self.what} head incomplete at the end of the capture" if incomplete
                                else f"unparsable {self.what} head: {reason}")  # fmt: skip

    def drain(self, on_body: Callable[[bytes], None]) -> bool:
        """Read the current message to its end with what is buffered (its body to ``on_body``);
        True when it ended."""
        while True:
            try:
                ev = self.reader.next_event()
            except ParseError:
                return False
            if ev is NEED_DATA and self.give():
                continue
            if type(ev) is Body:
                on_body(ev.data)
            else:
                return type(ev) is End


def _percent(m: re.Match) -> bytes:
    return b"%%%02X" % m.group()[0]


def longest_line(buf: bytearray, start: int, end: int) -> int:
    """Length of the longest line in ``buf[start:end]`` (line end excluded)."""
    longest = 0
    while True:
        nl = buf.find(b"\n", start, end)
        if nl < 0:
            return max(longest, end - start)
        longest = max(longest, nl - start)
        start = nl + 1
