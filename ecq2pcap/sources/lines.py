"""A stream's lines, cut out of its blocks, each held only while it is within a size (JSON lines' and the console's
records' reading: :mod:`.files`, :mod:`.console`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

READ_BUFFER = 1 << 20  # 16 KB events make 22 KB lines: with io's 8 KiB, readline read 60 MB in 37 ms; with 1 MiB 10.5

__all__ = ["lines_of", "READ_BUFFER"]


def lines_of(stream: BinaryIO, room: int, block_size: int = READ_BUFFER) -> Iterator[bytes | int]:
    """The lines of ``stream``, each without its ``\n``; a line of more than ``room`` bytes (without its ``\n``)
    as its length with its ``\n`` (an int) instead, read past in blocks, never held whole.

    (Lines are cut out of blocks of the stream, one copy each: ``readline`` copied a line out of the stream's
    buffer and ``strip`` copied it again without its line end, ~11k instructions of a 16 KB event's 22 KB line.
    ``read1``: a pipe's lines go on as they come, as with ``readline``.)"""
    read = stream.read1 if hasattr(stream, "read1") else stream.read
    pending: list[bytes] = []  # the start of a line earlier blocks ended in, while it is within ``room``
    size = 0  # that line's bytes so far (past ``room`` its pieces are let go: it is only measured)
    while block := read(block_size):
        pos = 0
        if size:  # (the line earlier blocks ended in goes on here)
            end = block.find(b"\n")
            size += len(block) if end < 0 else end
            if size <= room:
                pending.append(block if end < 0 else block[:end])
            else:
                pending = []
            if end < 0:
                continue
            yield b"".join(pending) if size <= room else size + 1
            pending, size, pos = [], 0, end + 1
        find = block.find
        while (end := find(b"\n", pos)) >= 0:  # (the block's whole lines)
            yield block[pos:end] if end - pos <= room else end - pos + 1
            pos = end + 1
        if pos < len(block):
            size = len(block) - pos
            if size <= room:
                pending.append(block[pos:])
    if size:
        yield b"".join(pending) if size <= room else size
