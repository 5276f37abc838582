"""eCapture v2.1+'s event log: what its event address writes to a file or a TCP collector (``--eventaddr=tls.log``,
or ``--eventaddr=tcp://host:port`` into ``nc -l``; v2.1–v2.5.1's command line takes the flag but does not pass it to
the capture, whose configuration, reloaded through eCapture's HTTP API, sets it: without it they print the
renderings on stdout, :mod:`.console`): each event's text rendering, back to back,
the same text eCaptureQ sends one event a message (gojue/ecapture v2.5.1 ``TextHandler``: ``String()``, or
``StringHex()`` under ``--hex``, and a ``\\n`` when it does not end in one; the writers add nothing).

No frame says where a rendering ends. A data event's header says how many bytes follow (openssl and gnutls
``… (N bytes):``, gotls ``Len:N`` then ``Data:``): exactly those are taken, whatever they hold (header-like lines
too), and then the one ``\\n`` eCapture added when they did not end in one, as long as a rendering starts right
after them (a header that says more than eCapture wrote, as v2.5.1's gnutls one may, is not trusted). Any other
rendering (a connect line, a ``--hex`` dump, bash, SQL, master secrets) ends where a line starts that begins a
rendering (the v2 dialect's :data:`~ecq2pcap.dialects.v2_text.RENDERING_START`).
Each rendering is then read by :mod:`~ecq2pcap.dialects.v2_text`, as one eCaptureQ message's payload.

A header that says more than ``max_size`` is not trusted either (its bytes cannot be held to see that a rendering
follows them, and one such header would take in all the log after it; eCapture keeps at most 16 KiB of a call): the
event ends where the next rendering starts, and the cut is told (``on_cut``). (A real event over ``max_size`` whose
data holds a line that starts a rendering is cut there too, and told: the rest of its data is read as renderings.)

(v1.x's text output gives no length: it is not read here.) Bounded memory: a rendering over ``max_size`` is read past,
never held whole, and said as its size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import BinaryIO

from ..dialects.v2_text import CONNECT_LINE, DATA_HEAD, GOTLS_FIRST_LINE, GOTLS_HEAD, HEADERS
from ..dialects.v2_text import RENDERING_START as START
from .lines import READ_BUFFER as BLOCK

__all__ = ["looks_like_event_log", "iter_renderings"]

_PEEK = 32  # bytes after a line start that START needs to tell (the bracketed time and "PID:" within 64 + 6)
HEAD_ROOM = 4096  # a header is within it (a comm is at most 64 bytes, a number 18 digits, a tuple 256)


def looks_like_event_log(head: bytes) -> bool:
    """Whether a file's first bytes are an event log's: a rendering's whole first header (the v2 dialect's
    :data:`~ecq2pcap.dialects.v2_text.HEADERS`; the first line of a JSON or protobuf dump never is one)."""
    return any(header.match(head) for header in HEADERS)


class _Reader:
    """A window on the stream: ``buf[pos:]`` is what is read and not taken yet (positions stay valid as blocks are
    added; :meth:`compact` lets what was taken go, between renderings)."""

    __slots__ = ("read", "buf", "pos", "eof", "cut")

    def __init__(self, stream: BinaryIO) -> None:
        self.read = stream.read1 if hasattr(stream, "read1") else stream.read
        self.buf = bytearray()
        self.pos = 0
        self.eof = False
        self.cut: tuple[int, int] | None = None  # (announced, there) of the last data event, when cut (_sliced)

    def more(self) -> bool:
        """A block more; False at the end of the stream."""
        if self.eof:
            return False
        block = self.read(BLOCK)
        if not block:
            self.eof = True
            return False
        self.buf += block
        return True

    def have(self, n: int) -> bool:
        """At least ``n`` bytes from ``pos`` (reading more as needed), else False at the end of the stream."""
        while len(self.buf) - self.pos < n:
            if not self.more():
                return False
        return True

    def compact(self) -> None:
        if self.pos:
            del self.buf[:self.pos]
            self.pos = 0


def iter_renderings(stream: BinaryIO, max_size: int, on_cut: Callable[[int, int, int], None] | None = None
                    ) -> Iterator[tuple[int, bytes | None, int]]:
    """``(line, rendering, size)`` for each rendering of an event log: ``line`` its first line's number (from 1),
    ``rendering`` its bytes (None when it is over ``max_size``: then ``size`` is its length, read past).
    ``on_cut(line, announced, there)`` is told, before it, of a data event whose header announced more than
    ``max_size`` bytes and that ended where the next rendering starts, ``there`` bytes after its header."""
    r = _Reader(stream)
    line = 1
    while True:
        r.compact()
        if not r.have(1):
            return
        size, lines = _next(r, max_size)
        if r.cut is not None:
            if on_cut is not None:
                on_cut(line, *r.cut)
            r.cut = None
        if size > max_size:  # (read past already)
            yield line, None, size
            line += lines
            continue
        rendering = bytes(r.buf[r.pos:r.pos + size])
        r.pos += size
        yield line, rendering, size
        line += rendering.count(b"\n")


def _lines_ahead(r: _Reader, count: int) -> None:
    """Read until ``buf[pos:]`` holds ``count`` line ends, :data:`HEAD_ROOM` bytes, or all the stream: no more (a
    pipe from a collector: a rendering is told as soon as its own bytes are there, not when the next one comes)."""
    while len(r.buf) - r.pos < HEAD_ROOM and not _has_lines(r, count) and r.more():
        pass


def _has_lines(r: _Reader, count: int) -> bool:
    at = r.pos
    for _ in range(count):
        at = r.buf.find(b"\n", at) + 1
        if not at:
            return False
    return True


def _next(r: _Reader, max_size: int) -> tuple[int, int]:
    """The size of the rendering at ``r.pos``; one over ``max_size`` is read past (then also its lines)."""
    _lines_ahead(r, 1)
    end = r.pos + HEAD_ROOM
    m = DATA_HEAD.match(r.buf, r.pos, end)
    if m is not None and not m[8]:  # (not ", hex": a dump of the bytes, ended by the next rendering)
        return _sliced(r, m.end() - r.pos, int(m[7]), max_size)
    if GOTLS_FIRST_LINE.match(r.buf, r.pos, end):  # (its header is two lines: "Data:" follows)
        _lines_ahead(r, 2)
        m = GOTLS_HEAD.match(r.buf, r.pos, r.pos + HEAD_ROOM)
        if m is not None and not m[8]:  # (not "Data(hex):")
            return _sliced(r, m.end() - r.pos, int(m[7]), max_size)
    m = CONNECT_LINE.match(r.buf, r.pos, end)
    if m is not None:  # (a connect or destroy line is one line: told at its end)
        return m.end() - r.pos, 0
    return _until_next_start(r, max_size)


def _sliced(r: _Reader, head: int, n: int, max_size: int) -> tuple[int, int]:
    """A header of ``head`` bytes and ``n`` bytes of data, and the ``\\n`` eCapture added when they end otherwise
    (written with them: looked for only then); when what follows does not start a rendering, the header said more
    than eCapture wrote, and the rendering ends where the next one starts."""
    size = head + max(n, 0)
    if size > max_size:  # (not held to check what follows: the next rendering's start ends it, as a cut one)
        got, lines = _until_next_start(r, max_size)
        if got < size:
            r.cut = (n, got - head)
        return got, lines
    if not r.have(size):  # (the stream ends within the data: cut short, or a header that said more, see below)
        return _until_next_start(r, max_size)
    if n > 0 and r.buf[r.pos + size - 1] != 0x0A and r.have(size + 1) and r.buf[r.pos + size] == 0x0A:
        size += 1
    # (v2.5.1's gnutls event keeps 4 KiB of the 16 its eBPF side sends, and its header says the 16: its length may
    # be more than its data, and slicing it would take the renderings after it in)
    while len(r.buf) - (r.pos + size) < _PEEK and r.more():
        pass
    if r.pos + size >= len(r.buf) or START.match(r.buf, r.pos + size):
        return size, 0
    return _until_next_start(r, max_size)


def _until_next_start(r: _Reader, max_size: int) -> tuple[int, int]:
    """Up to the next line that starts a rendering, or the end of the stream; past ``max_size``, read past."""
    at = r.pos
    while True:
        nl = r.buf.find(b"\n", at)
        if nl < 0:
            at = len(r.buf)
            if at - r.pos > max_size:
                return _skip_to_start(r, max_size)
            if not r.more():
                return len(r.buf) - r.pos, 0
            continue
        start = nl + 1
        while len(r.buf) - start < _PEEK and r.more():
            pass
        if start - r.pos > max_size:
            return _skip_to_start(r, max_size)
        if start >= len(r.buf) or START.match(r.buf, start):
            return start - r.pos, 0
        at = start


def _skip_to_start(r: _Reader, max_size: int) -> tuple[int, int]:
    """A rendering past ``max_size``: read past, a line at a time, up to the next line that starts one (or the
    end); (its size, its lines)."""
    size = lines = 0
    while True:
        nl = r.buf.find(b"\n", r.pos)
        if nl < 0:
            size += len(r.buf) - r.pos
            r.pos = len(r.buf)
            r.compact()
            if not r.more():
                return max(size, max_size + 1), lines
            continue
        size += nl + 1 - r.pos
        lines += 1
        r.pos = nl + 1
        r.compact()
        r.have(_PEEK)
        if r.pos >= len(r.buf) or START.match(r.buf, r.pos):
            return max(size, max_size + 1), lines
