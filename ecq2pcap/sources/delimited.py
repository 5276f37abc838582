"""Length-delimited protobuf files: ``varint length`` + one ``LogEntry`` per message.

This is protobuf's usual stream form (``writeDelimitedTo``), what a Go or Rust client
that saved eCaptureQ's binary frames back to back would write. Read incrementally: the
file is never loaded whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO


_SKIP_STEP = 1 << 20


def iter_delimited(stream: BinaryIO, max_size: int | None = None) -> Iterator[tuple[int, bytes | None, int]]:
    """Yield ``(offset, entry, size)``; raises ValueError (with the offset) when truncated.

    An entry over ``max_size`` bytes is skipped without being read into memory: its
    ``entry`` is None."""
    offset = 0
    read = stream.read
    while True:
        start = offset
        n = shift = 0
        while True:
            b = read(1)
            if not b:
                if shift == 0:
                    return
                raise ValueError(f"truncated length prefix at byte {start}")
            offset += 1
            n |= (b[0] & 0x7F) << shift
            shift += 7
            if b[0] < 0x80:
                break
            if shift > 63:
                raise ValueError(f"bad length prefix at byte {start}")
        if max_size is not None and n > max_size:
            left = n
            while left:
                got = len(read(min(left, _SKIP_STEP)))
                if not got:
                    raise ValueError(f"truncated entry at byte {start}: {n} bytes announced, {n - left} there")
                left -= got
            offset += n
            yield start, None, n
            continue
        entry = read(n)
        if len(entry) != n:
            raise ValueError(f"truncated entry at byte {start}: {n} bytes announced, {len(entry)} there")
        offset += n
        yield start, entry, n


# a LogEntry's first byte: the tag of log_type (field 1, varint) or of its payload (fields 2-4, length-delimited)
_ENTRY_TAGS = frozenset((0x08, 0x12, 0x1A, 0x22))


def looks_delimited(head: bytes) -> bool:
    """Whether ``head``, a file's first bytes, reads as length-delimited ``LogEntry`` messages: each length is
    followed by a LogEntry's first tag, and the entries chain up to the end of ``head`` (the last may be cut).
    Tells such a file from JSON lines when its first length is a byte JSON may start with (``{``: 123, a space, a
    tab, a line end: a first entry of 123 bytes, a small log line, was read as JSON lines and every event lost)."""
    pos, entries = 0, 0
    while pos < len(head):
        n = shift = 0
        while True:
            if pos >= len(head):
                return entries > 0
            b = head[pos]
            pos += 1
            n |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                break
            if shift > 35:
                return False
        if not n or (pos < len(head) and head[pos] not in _ENTRY_TAGS):
            return False
        entries += 1
        pos += n
    return entries > 0
