"""eCapture v2.1+'s event log: what ``--eventaddr`` writes to a file or a TCP collector (``ecapture tls
--eventaddr=tls.log``, or ``--eventaddr=tcp://host:port`` into ``nc -l``): each event's text rendering, back to back,
the same text eCaptureQ sends one event a message (gojue/ecapture v2.5.1 ``TextHandler``: ``String()``, or
``StringHex()`` under ``--hex``, and a ``\\n`` when it does not end in one; the writers add nothing).

No frame says where a rendering ends. A data event's header says how many bytes follow (openssl and gnutls
``… (N bytes):``, gotls ``Len:N`` then ``Data:``): exactly those are taken, whatever they hold (header-like lines
too), and then the one ``\\n`` eCapture added when they did not end in one. Any other rendering (a connect line, a
``--hex`` dump, bash, SQL, master secrets) ends where a line starts that begins a rendering (:data:`START`).
Each rendering is then read by :mod:`~ecq2pcap.dialects.v2_text`, as one eCaptureQ message's payload.

(v1.x's text output gives no length: it is not read here.) Bounded memory: a rendering over ``max_size`` is read past
in blocks, never held whole, and said as its size.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

from ..dialects.v2_text import DATA_HEAD, GOTLS_HEAD

__all__ = ["START", "looks_like_event_log", "iter_renderings"]

# the first bytes of every rendering v2.1+ writes (dialects/v2_text.py's table): a data event's time in brackets,
# "PID:" (connect lines, gotls, bash, zsh), "PID=" (postgres), nspr's struct, MySQL, master secrets, packets
START = re.compile(rb"\[[^\]\n]{1,64}\] PID:\d|PID[:=]\d|TLSDataEvent\{|MySQL Query\[|TLS Version: |Version: 0x"
                   rb"|Label: ?\S|MasterSecretEvent\{|Packet captured: len=")
_PEEK = 32  # bytes after a line start that START needs to tell (the bracketed time and "PID:" within 64 + 6)
_FIRST = re.compile(rb"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] PID:\d+ TID:\d+ Comm:|PID:\d+, (?:Comm|TID):")
BLOCK = 1 << 20


def looks_like_event_log(head: bytes) -> bool:
    """Whether a file's first bytes are an event log's: an openssl/gnutls data event's header or a connect line or a
    gotls event (what an event log of TLS starts with; the first line of a JSON or protobuf dump never is)."""
    return _FIRST.match(head) is not None


class _Reader:
    """A window on the stream: ``buf[pos:]`` is what is read and not taken yet (positions stay valid as blocks are
    added; :meth:`compact` lets what was taken go, between renderings)."""

    __slots__ = ("read", "buf", "pos", "eof")

    def __init__(self, stream: BinaryIO) -> None:
        self.read = stream.read1 if hasattr(stream, "read1") else stream.read
        self.buf = bytearray()
        self.pos = 0
        self.eof = False

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


def iter_renderings(stream: BinaryIO, max_size: int) -> Iterator[tuple[int, bytes | None, int]]:
    """``(line, rendering, size)`` for each rendering of an event log: ``line`` its first line's number (from 1),
    ``rendering`` its bytes (None when it is over ``max_size``: then ``size`` is its length, read past)."""
    r = _Reader(stream)
    line = 1
    while True:
        r.compact()
        if not r.have(1):
            return
        size, lines = _next(r, max_size)
        if size > max_size:  # (read past already)
            yield line, None, size
            line += lines
            continue
        rendering = bytes(r.buf[r.pos:r.pos + size])
        r.pos += size
        yield line, rendering, size
        line += rendering.count(b"\n")


def _next(r: _Reader, max_size: int) -> tuple[int, int]:
    """The size of the rendering at ``r.pos``; one over ``max_size`` is read past (then also its lines)."""
    r.have(4096)  # (a header is within it: its comm is at most 64 bytes, its numbers 18 digits)
    m = DATA_HEAD.match(r.buf, r.pos, r.pos + 4096)
    if m is not None and not m[8]:  # (not ", hex": a dump of the bytes, ended by the next rendering)
        return _sliced(r, m.end() - r.pos, int(m[7]), max_size)
    m = GOTLS_HEAD.match(r.buf, r.pos, r.pos + 4096)
    if m is not None and not m[8]:  # (not "Data(hex):")
        return _sliced(r, m.end() - r.pos, int(m[7]), max_size)
    return _until_next_start(r, max_size)


def _sliced(r: _Reader, head: int, n: int, max_size: int) -> tuple[int, int]:
    """A header of ``head`` bytes and ``n`` bytes of data, and the ``\\n`` eCapture added when they end otherwise."""
    size = head + max(n, 0)
    if size > max_size:
        return _read_past(r, size, max_size)
    if not r.have(size + 1):  # (the stream ends within the data, or right after it)
        return min(size, len(r.buf) - r.pos), 0
    if n > 0 and r.buf[r.pos + size - 1] != 0x0A and r.buf[r.pos + size] == 0x0A:
        size += 1
    return size, 0


def _read_past(r: _Reader, size: int, max_size: int) -> tuple[int, int]:
    """Let ``size`` bytes go by a block at a time, counting their lines, and the ``\\n`` eCapture added after them
    (data that ends otherwise: the likely case); (its size, over ``max_size``, and its lines)."""
    left, lines = size, 0
    while left and r.have(1):
        step = min(left, len(r.buf) - r.pos)
        lines += r.buf.count(b"\n", r.pos, r.pos + step)
        r.pos += step
        left -= step
        r.compact()
    if r.have(1) and r.buf[r.pos] == 0x0A:
        r.pos += 1
        lines += 1
    return max(size - left, max_size + 1), lines


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
