"""Write whole units (the pcapng blocks of one event, one recording line) so that a file
never ends in a partial one, even when the disk fills up.

Units are buffered up to ``buffer_size`` bytes and written together. When a write fails
(disk full, file too large, I/O error), the file is cut back to the end of the last whole
unit that was written, nothing more is written, and the error is raised once; later
calls do nothing. Outputs that cannot be cut back (pipes) are left as they are.
"""

from __future__ import annotations

import io
from typing import BinaryIO

__all__ = ["UnitWriter"]

DEFAULT_BUFFER = 64 * 1024


class UnitWriter:
    def __init__(self, out: BinaryIO, buffer_size: int = DEFAULT_BUFFER) -> None:
        self.out = out
        self.buffer_size = buffer_size
        self.failed: OSError | None = None
        self._pending = bytearray()
        self.written = 0  # items (a caller's count: packets) of the units written whole
        self._held = 0  # items of the units in _pending
        # where the last whole unit ends, when the file can be cut back there: only for
        # unbuffered files (a buffered one may hold a part of it unwritten)
        self._good: int | None = None
        if isinstance(out, (io.RawIOBase, io.BytesIO)):
            try:
                self._good = out.tell() if out.seekable() else None
            except (OSError, ValueError):
                pass

    def write(self, data: bytes, items: int = 0) -> None:
        """Queue one or more whole units (holding ``items`` of what the caller counts); written once the buffer is
        full."""
        if self.failed is not None:
            return
        if len(data) >= self.buffer_size:  # (a big one, e.g. a -j merge's run of blocks: written as it is, not
            self._drain()  # copied into the buffer and out again)
            self._send(data)
            self.written += items
            return
        self._pending += data
        self._held += items
        if len(self._pending) >= self.buffer_size:
            self._drain()

    def write_parts(self, parts: list[bytes], size: int, items: int = 0) -> None:
        """:meth:`write` of ``b"".join(parts)`` (``size``: its length). To a file that writes parts (``write_parts``:
        an :class:`~ecq2pcap.outputs.OutputFile`), a big one goes out without being joined first (a copy less of
        each of its bytes)."""
        if size < self.buffer_size or self.failed is not None or not hasattr(self.out, "write_parts"):
            self.write(b"".join(parts), items)
            return
        self._drain()
        try:
            self.out.write_parts(parts, size)
        except OSError as exc:
            self._fail(exc)
        self.written += items
        if self._good is not None:
            self._good += size

    def flush(self) -> None:
        """Write what is queued and flush ``out`` (raises the write error, once)."""
        if self.failed is not None:
            return
        self._drain()
        try:
            self.out.flush()
        except OSError as exc:
            self._fail(exc)

    def _drain(self) -> None:
        if not self._pending:
            return
        data = bytes(self._pending)
        self._pending.clear()
        self._send(data)
        self.written += self._held
        self._held = 0

    def _send(self, data: bytes) -> None:
        try:
            self.out.write(data)
        except OSError as exc:
            self._fail(exc)
        if self._good is not None:
            self._good += len(data)

    def _fail(self, exc: OSError) -> None:
        self.failed = exc
        self._pending.clear()
        if self._good is not None and not isinstance(exc, BrokenPipeError):
            try:
                self.out.truncate(self._good)
            except (OSError, ValueError, io.UnsupportedOperation):
                pass
        raise exc
