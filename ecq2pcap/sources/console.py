"""eCapture v2's console output (``ecapture tls > capture.log``, its default): the records, split.

Each record is a zerolog console line (its time and level first), with the lines its message goes on over: an
event's rendering holds newlines, and its record ends with the fields, ``probe=…``, on a line of their own
(:mod:`ecq2pcap.dialects.v2_console` reads a record). A record ends where the next begins. Coloured output (the
default: zerolog colours unless ``NO_COLOR`` is set) is split exactly: a record begins with the escape sequence of
its time's colour and ends at the line of its fields, whose name is coloured too, and the data's own control bytes
are printed escaped (``\\x1b``), so nothing in the data is taken for either; a record is then given as soon as its
fields are read (from a pipe, ``ecapture tls | ecq2pcap convert - …``, at once). Without colours a line of the data
that looks like a record's first line would begin one: the event's header length then tells the shortfall.

Lines before the first record are given one by one (the dialect says they are none). Bounded memory: a record over
``max_size`` is read past, never held whole, and said as its size.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from ..dialects.v2_console import RECORD_START
from .lines import READ_BUFFER as BLOCK, lines_of

__all__ = ["looks_like_console", "iter_records"]

_COLOURED = b"\x1b["
_RECORD_COLOUR = b"\x1b[90m"  # (a record's time's colour: what a coloured record begins with)
_NEXT_RECORD = b"\n" + _RECORD_COLOUR
_COLOURED_START = frozenset((b"\x1b",))
_PLAIN_START = frozenset(bytes((c,)) for c in b"0123456789")
_ANY_START = _COLOURED_START | _PLAIN_START
_FIELDS_LINE_MAX = 4096  # (a fields line is short: eCapture's probe names are)
_FIELDS_LINE = b" \x1b[36m"  # (a record's last line when its message ends in a newline: the fields)


def looks_like_console(head: bytes) -> bool:
    """Whether a file's first bytes are eCapture's console output: its first line that is not blank is a record's
    (a time and a level: no JSON line or protobuf entry starts so)."""
    first = head.lstrip(b"\r\n").split(b"\n", 1)[0]
    return RECORD_START.match(first) is not None


def iter_records(stream: BinaryIO, max_size: int) -> Iterator[tuple[int, bytes | None, int]]:
    """``(line, record, size)`` for each record (with its line ends): ``line`` its first line's number (from 1),
    ``record`` None when it is over ``max_size`` (then ``size`` is its length, read past)."""
    read = stream.read1 if hasattr(stream, "read1") else stream.read
    block = read(BLOCK)
    while 0 < len(block.lstrip(b"\r\n")) < len(_RECORD_COLOUR) and (more := read(BLOCK)):  # (a pipe's first bytes)
        block += more
    if block.lstrip(b"\r\n").startswith(_RECORD_COLOUR):
        return _coloured(read, block, max_size)
    return _by_lines(_Replay(block, read), max_size)


class _Replay:
    """A stream whose first block was read already."""

    def __init__(self, block: bytes, read) -> None:
        self.block, self.read_rest = block, read

    def read1(self, n: int = -1) -> bytes:
        block, self.block = self.block, b""
        return block or self.read_rest(n)


def _coloured(read, block: bytes, max_size: int) -> Iterator[tuple[int, bytes | None, int]]:
    """Coloured records, cut out of blocks: each begins at a line that begins with its time's colour, which only
    zerolog writes (the data's ESC is printed escaped), and one whose message ends in a newline is whole at its
    fields line (given then: a pipe's records go on as they come). Lines before the first record one by one."""
    buf = bytearray(block)
    line = 1
    while True:  # (what comes before the first record: blank lines, one by one)
        end = buf.find(b"\n")
        if buf.startswith(_RECORD_COLOUR) or end < 0:
            break
        yield line, bytes(buf[:end + 1]), end + 1
        del buf[:end + 1]
        line += 1
    scan, dropped, lines_dropped = 1, 0, 0  # (where the next record's start is looked for; what was let go of this)
    while True:
        at = buf.find(_NEXT_RECORD, scan)
        if at >= 0 or (buf.endswith(b"\n") and buf.startswith(_FIELDS_LINE, _last_line(buf))):
            end = at + 1 if at >= 0 else len(buf)
            text = bytes(buf[:end])
            size = dropped + end
            yield line, (text if size <= max_size else None), size
            line += lines_dropped + text.count(b"\n")
            del buf[:end]
            scan, dropped, lines_dropped = 1, 0, 0
            if at >= 0:
                continue
        if dropped + len(buf) > max_size:  # (a record over the limit: measured, not held; its start's tail kept)
            keep = len(_NEXT_RECORD) - 1
            let_go = max(len(buf) - keep, 0)
            lines_dropped += buf.count(b"\n", 0, let_go)
            dropped += let_go
            del buf[:let_go]
        scan = max(len(buf) - len(_NEXT_RECORD) + 1, 0 if dropped else 1)  # (buf[0]: the record's start, if held)
        more = read(BLOCK)
        if not more:
            break
        buf += more
    if buf or dropped:
        size = dropped + len(buf)
        yield line, (bytes(buf) if size <= max_size else None), size


def _last_line(buf: bytearray) -> int:
    """Where the last line of ``buf`` (which ends in a newline) begins, if it is short enough to be a fields line (a
    long one is not looked through again at each block), else 0 (a record's start, no fields line)."""
    return buf.rfind(b"\n", max(len(buf) - _FIELDS_LINE_MAX, 0), len(buf) - 1) + 1


def _by_lines(stream, max_size: int) -> Iterator[tuple[int, bytes | None, int]]:
    """The records of output that is not coloured (or does not begin with a coloured record), line by line: a
    record begins at each line that begins as one."""
    parts: list[bytes] | None = None  # the record being read (None: none open)
    size = first = lineno = 0
    coloured: bool | None = None
    starts = _ANY_START  # (what a record's first byte may be: only ESC once the records are coloured)
    for line in lines_of(stream, max_size):
        lineno += 1
        if type(line) is int:  # (a line over max_size: its length; the record it is in is too big)
            if parts is None:
                yield lineno, None, line
            else:
                parts, size = [], size + line
            continue
        if line[:1] in starts and RECORD_START.match(line) is not None:
            if parts is not None:
                yield _record(first, parts, size, max_size)
            if coloured is None:
                coloured = line.startswith(_COLOURED)
                starts = _COLOURED_START if coloured else _PLAIN_START
            parts, size, first = [line], len(line) + 1, lineno
        elif parts is None:
            yield lineno, line + b"\n", len(line) + 1
            continue
        else:
            size += len(line) + 1
            if size <= max_size:
                parts.append(line)
            if coloured and line.startswith(_FIELDS_LINE):
                yield _record(first, parts, size, max_size)
                parts = None
    if parts is not None:
        yield _record(first, parts, size, max_size)


def _record(first: int, parts: list[bytes], size: int, max_size: int) -> tuple[int, bytes | None, int]:
    if size > max_size:
        return first, None, size
    parts.append(b"")
    return first, b"\n".join(parts), size
