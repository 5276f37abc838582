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
from .lines import lines_of

__all__ = ["looks_like_console", "iter_records"]

_COLOURED = b"\x1b["
_FIELDS_LINE = b" \x1b[36m"  # (a record's last line when its message ends in a newline: the fields)


def looks_like_console(head: bytes) -> bool:
    """Whether a file's first bytes are eCapture's console output: its first line that is not blank is a record's
    (a time and a level: no JSON line or protobuf entry starts so)."""
    first = head.lstrip(b"\r\n").split(b"\n", 1)[0]
    return RECORD_START.match(first) is not None


def iter_records(stream: BinaryIO, max_size: int) -> Iterator[tuple[int, bytes | None, int]]:
    """``(line, record, size)`` for each record (with its line ends): ``line`` its first line's number (from 1),
    ``record`` None when it is over ``max_size`` (then ``size`` is its length, read past)."""
    parts: list[bytes] | None = None  # the record being read (None: none open)
    size = first = lineno = 0
    coloured: bool | None = None
    for line in lines_of(stream, max_size):
        lineno += 1
        if type(line) is int:  # (a line over max_size: its length; the record it is in is too big)
            if parts is None:
                yield lineno, None, line
            else:
                parts, size = [], size + line
            continue
        if RECORD_START.match(line) is not None and (not coloured or line.startswith(_COLOURED)):
            if parts is not None:
                yield _record(first, parts, size, max_size)
            if coloured is None:
                coloured = line.startswith(_COLOURED)
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
