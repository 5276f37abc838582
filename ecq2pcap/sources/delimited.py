"""Length-delimited protobuf files: ``varint length`` + one ``LogEntry`` per message.

This is protobuf's usual stream form (``writeDelimitedTo``), what a Go or Rust client
that saved eCaptureQ's binary frames back to back would write. Read incrementally: the
file is never loaded whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO


_SKIP_STEP = 1 << 20


class CutShort(ValueError):
    """The file ends inside an entry (or in garbage read as one): ``offset`` is where that entry starts."""

    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(reason)
        self.offset = offset


def iter_delimited(stream: BinaryIO, max_size: int | None = None) -> Iterator[tuple[int, bytes | None, int]]:
    """Yield ``(offset, entry, size)``; raises :class:`CutShort` when the file ends inside one.

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
                raise CutShort(start, f"truncated length prefix at byte {start}")
            offset += 1
            n |= (b[0] & 0x7F) << shift
            shift += 7
            if b[0] < 0x80:
                break
            if shift > 63:
                raise CutShort(start, f"bad length prefix at byte {start}")
        if max_size is not None and n > max_size:
            left = n
            while left:
                got = len(read(min(left, _SKIP_STEP)))
                if not got:
                    raise CutShort(start, f"truncated entry at byte {start}: {n} bytes announced, {n - left} there")
                left -= got
            offset += n
            yield start, None, n
            continue
        entry = read(n)
        if len(entry) != n:
            raise CutShort(start, f"truncated entry at byte {start}: {n} bytes announced, {len(entry)} there")
        offset += n
        yield start, entry, n


# a LogEntry's first byte: the tag of log_type (field 1, varint) or of its payload (fields 2-4, length-delimited)
_ENTRY_TAGS = frozenset((0x08, 0x12, 0x1A, 0x22))
# the entries looked at: the first must read as a LogEntry, and all of the others but one (when there are 3 or
# more): one damaged entry or trailing garbage is one skipped message, not a file read as JSON lines and every
# event lost. Text reads as a first entry about once in a few hundred starts, as more never (tests/sources/)
_LOOK = 4
_CUT, _BAD = -1, -2  # (what _varint gives for a varint cut by the end of what is looked at, for one too long)


def looks_delimited(head: bytes) -> bool:
    """Whether ``head``, a file's first bytes, reads as length-delimited ``LogEntry`` messages: of its first
    :data:`_LOOK` entries (the last may be cut by the end of ``head``), the first and all others but one are each a
    LogEntry's tag and then protobuf fields that end where the entry does. Tells such a file from JSON lines when
    its first length is a byte JSON may start with (``{``: 123, a space, a tab, a line end: a first entry of 123
    bytes, a small log line, was read as JSON lines and every event lost), and when a damaged entry or garbage
    follows the first (read as JSON lines too: the entry is skipped, with its offset, when read)."""
    pos = seen = bad = 0
    while pos < len(head) and seen < _LOOK:
        n, pos = _varint(head, pos)
        if n == _CUT:
            break
        if n <= 0 or not _fields_end_at(head, pos, pos + n):
            if not seen:
                return False
            bad += 1
        seen += 1
        if n < 0:  # (no entry follows a length that is none)
            break
        pos += n
    return seen > 0 and bad <= (seen >= 3)


def _fields_end_at(head: bytes, pos: int, end: int) -> bool:
    """Whether ``head[pos:end]`` is a LogEntry's tag and then protobuf fields, the last ending at ``end`` (or cut
    with ``head``). Any field is allowed after the first: a newer eCapture may add some (the decoder allows it)."""
    if pos < len(head) and head[pos] not in _ENTRY_TAGS:
        return False
    while pos < end:
        key, pos = _varint(head, pos)
        wire = key & 7
        if key == _CUT:
            return True
        if key < 8 or wire > 5 or wire in (3, 4):  # (no field 0; 3 and 4 are proto2's groups, 6 and 7 no type)
            return False
        if wire == 0:
            value, pos = _varint(head, pos)
            if value < 0:
                return value == _CUT
        elif wire == 2:
            size, pos = _varint(head, pos)
            if size < 0:
                return size == _CUT
            pos += size
        else:
            pos += 8 if wire == 1 else 4
    return pos == end


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """The varint at ``pos`` and the position after it; :data:`_CUT` when ``data`` ends inside it, :data:`_BAD` when
    it runs past 10 bytes (none does)."""
    n = shift = 0
    for at in range(pos, min(len(data), pos + 10)):
        b = data[at]
        n |= (b & 0x7F) << shift
        if b < 0x80:
            return n, at + 1
        shift += 7
    return (_CUT, len(data)) if len(data) < pos + 10 else (_BAD, pos + 10)
