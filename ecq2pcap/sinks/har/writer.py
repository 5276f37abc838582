"""Streaming HAR 1.2 writer: the log header up front, each entry as it completes.

Memory does not grow with the number of entries. No ``pages`` are written (an empty
list) and entries carry no ``pageref``: haralyzer silently loses entries whose
``pageref`` names no page, and a page without ``pageTimings`` crashes it.

Crash safety: on a seekable output (a regular file) the file is a complete, valid HAR at
every *commit*: the closing ``]}}`` always follows the last committed entry, and the next
commit writes its entries over it followed by a new one. A commit happens after every
entry when ``commit_interval`` is 0, otherwise when ``commit_interval`` seconds passed
since the last one or ``commit_bytes`` are waiting, and always on :meth:`commit` and
:meth:`close`. So a run killed at any moment leaves a HAR holding every entry committed
before. A write error (disk full) cuts the file back to the last commit, which stays a
valid HAR, and is raised once; the writer then writes nothing more. On a pipe the entries
are written as they come and the end only by :meth:`close`.
"""

from __future__ import annotations

import io
import time
from typing import BinaryIO, TextIO

import msgspec

from ... import __version__

__all__ = ["HarWriter", "encode_entry"]

_encode = msgspec.json.Encoder().encode
_TAIL = b"\n]}}\n"
COMMIT_INTERVAL_S = 1.0
COMMIT_BYTES = 1 << 20


class HarWriter:
    """Write one HAR file to ``out``.

    ``out`` is a binary file object (UTF-8 is written), like every sink's output; a text
    stream (:class:`io.TextIOBase`) is accepted too (written as on a pipe). The writer
    never closes ``out``.
    """

    def __init__(self, out: BinaryIO | TextIO, *, comment: str | None = None,
                 commit_interval: float = COMMIT_INTERVAL_S, commit_bytes: int = COMMIT_BYTES) -> None:
        self._out = out
        self._text = isinstance(out, io.TextIOBase)
        self._comment = comment
        self.commit_interval = commit_interval
        self.commit_bytes = commit_bytes
        self._started = False
        self._closed = False
        self.failed: OSError | None = None
        self.count = 0
        self.committed = 0  # entries the output holds whole (after a failure, the file is cut back to them)
        self._tail_pos: int | None = None  # where the committed closing ]}} starts (seekable outputs)
        self._pending = bytearray()  # entries not yet committed
        self._last_commit = 0.0

    def _write(self, data: bytes) -> None:
        self._out.write(data.decode("utf-8") if self._text else data)

    def _seekable(self) -> bool:
        if self._text:
            return False
        try:
            return self._out.seekable()
        except (OSError, ValueError, AttributeError):
            return False

    def _start(self) -> None:
        self._started = True
        log: dict = {"version": "1.2", "creator": {"name": "ecq2pcap", "version": __version__}, "pages": []}
        if self._comment:
            log["comment"] = self._comment
        head = _encode({"log": log})
        # '{"log":{...,"pages":[]}}' → '{"log":{...,"pages":[],"entries":['
        head = head[:-2] + b',"entries":[\n'
        if self._seekable():
            try:
                self._tail_pos = self._out.tell() + len(head)
                self._guarded(head + _TAIL)
            except OSError as exc:
                self._fail(exc)
            self._last_commit = time.monotonic()
        else:
            self._write(head)

    def write(self, entry: dict) -> None:
        """Append one entry (a HAR entry dict)."""
        self.write_encoded(encode_entry(entry))

    def write_encoded(self, data: bytes, entries: int = 1) -> None:
        """Append ``entries`` entries already encoded (:func:`encode_entry`; several joined by ``,\\n``)."""
        if self._closed:
            raise ValueError("HAR writer already closed")
        if self.failed is not None:
            return
        if not self._started:
            self._start()
        sep = b",\n" if self.count else b""  # written apart: a big entry is never copied
        self.count += entries
        if self._tail_pos is None:
            self._write(sep)
            self._write(data)
            self.committed = self.count
            return
        self._pending += sep
        if len(data) >= self.commit_bytes:  # straight to the file, after the entries waiting
            self.commit(data)
            return
        self._pending += data
        if not self.commit_interval or len(self._pending) >= self.commit_bytes:
            self.commit()
        else:
            self.commit_if_due()

    def commit_if_due(self) -> None:
        """Commit when entries wait for longer than ``commit_interval`` (call it often)."""
        if self._pending and time.monotonic() - self._last_commit >= self.commit_interval:
            self.commit()

    def commit(self, last: bytes = b"") -> None:
        """Make the file a valid HAR holding every entry written so far (seekable outputs);
        ``last`` is written after the pending entries."""
        if not self._started:
            self._start()
        if self.failed is not None or self._tail_pos is None:
            return
        self._last_commit = time.monotonic()
        if not self._pending and not last:
            return
        pending, self._pending = self._pending, bytearray()
        size = len(pending) + len(last)
        try:
            self._out.seek(self._tail_pos)
            self._guarded(pending, last, _TAIL)
            self.committed = self.count
        except OSError as exc:
            try:  # back to the last commit: its entries and the closing ]}}
                self._out.truncate(self._tail_pos)
                self._out.seek(self._tail_pos)
                self._guarded(_TAIL)
            except (OSError, ValueError):
                pass
            self._fail(exc)
        self._tail_pos += size

    def _guarded(self, *parts: bytes | bytearray) -> None:
        for part in parts:
            if part:
                self._out.write(part)
        self._out.flush()

    def _fail(self, exc: OSError) -> None:
        self.failed = exc
        self._pending.clear()
        raise exc

    def close(self) -> None:
        """Finish the JSON document (idempotent) and flush ``out``."""
        if self._closed:
            return
        self._closed = True
        if not self._started:
            self._start()
        if self.failed is not None:
            return
        if self._tail_pos is not None:
            self.commit()
            return
        self._write(_TAIL)
        flush = getattr(self._out, "flush", None)
        if flush is not None:
            flush()


def encode_entry(entry: dict) -> bytes:
    """One HAR entry as JSON bytes, as :meth:`HarWriter.write` writes it."""
    try:
        return _encode(entry)
    except UnicodeEncodeError:  # lone surrogates (surrogateescape'd bytes from a decoder)
        return _encode(_sanitize(entry))


def _sanitize(value):
    """Copy of ``value`` whose strings are valid UTF-8: undecodable bytes show as ``\\xNN``."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
            return value
        except UnicodeEncodeError:
            try:
                raw = value.encode("utf-8", "surrogateescape")
            except UnicodeEncodeError:
                raw = value.encode("utf-8", "surrogatepass")
            return raw.decode("utf-8", "backslashreplace")
    if isinstance(value, dict):
        return {_sanitize(k): _sanitize(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_sanitize(v) for v in value]
    return value
