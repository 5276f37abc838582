"""Dump files and stdin as a stream of messages (the only module here that opens files); gzip, zstd, xz and bzip2
read through, files that are no dump refused (:mod:`.formats`)."""

from __future__ import annotations

import io
import os
import stat
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import msgspec

from ..limits import DEFAULT_LIMITS, limit_note
from ..model import DecodeError, Message, Opcode, Tick
from ..report import Report
from .console import iter_records, looks_like_console
from .delimited import CutShort, iter_delimited, looks_delimited
from .eventlog import iter_renderings, looks_like_event_log
from .formats import READ_ERRORS, SNIFF_BYTES, compression, decompressing, foreign
from .lines import READ_BUFFER, lines_of
from .recording import LineDecoder

BOM = b"\xef\xbb\xbf"  # a UTF-8 byte order mark some editors put before JSON lines
# what reading a damaged input raises (gzip.BadGzipFile is an OSError; lzma's and zstd's own: .formats)
_READ_ERRORS = (OSError, EOFError, zlib.error, *READ_ERRORS)


class InputError(Exception):
    """An input that cannot be read at all (missing file, permission, corrupt gzip)."""


@dataclass
class FileSource:
    """One input (path or ``-`` for stdin); iterate for messages.

    ``position`` and ``size`` (bytes of the file on disk; compressed for a compressed one)
    drive the progress bar.
    """

    path: str
    report: Report
    max_message_size: int = DEFAULT_LIMITS.message_size  # a longer line or entry is skipped unread

    def __post_init__(self) -> None:
        self.position = 0
        self.size: int | None = None
        self.name = "<stdin>" if self.path == "-" else self.path
        self._raw: BinaryIO | None = None

    def disk_size(self) -> int | None:
        """The input's bytes on disk before it is opened (None: stdin, or not a file)."""
        try:
            st = os.stat(self.path) if self.path != "-" else None
        except OSError:
            return None
        return st.st_size if st is not None and stat.S_ISREG(st.st_mode) else None

    def open(self) -> BinaryIO:
        try:
            if self.path == "-":
                raw: BinaryIO = sys.stdin.buffer
            else:
                raw = open(self.path, "rb", buffering=READ_BUFFER)
                self.size = os.fstat(raw.fileno()).st_size
        except OSError as exc:
            raise InputError(f"{self.name}: cannot read: {exc.strerror or exc}") from None
        self._raw = raw
        buffered = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw)  # type: ignore[arg-type]
        try:
            return _decompressed(buffered)
        except _READ_ERRORS as exc:
            raise InputError(f"{self.name}: cannot read: {exc}") from None

    def __iter__(self) -> Iterator[Message]:
        stream = self.open()
        try:  # (a gzip cut or damaged in its first block fails here, at the first bytes)
            first = stream.peek(3)[:3] if hasattr(stream, "peek") else b"{"
            if first[:1] == b"\0":  # (what a crash leaves where a file's first blocks were never written)
                first = self._read_past_nuls(stream)
        except _READ_ERRORS as exc:
            self._close(stream)
            raise InputError(f"{self.name}:1: cannot read further: {exc}") from None
        head = _head(stream) if hasattr(stream, "peek") else b""
        what = foreign(head)
        if what is not None:  # (stdin's; a file's was refused before anything was written: not_a_dump)
            self._close(stream)
            raise InputError(f"{self.name}: cannot read: {what}")
        if first.startswith(BOM):  # (text: JSON lines)
            stream.read(3)
        elif looks_like_event_log(head):
            return self._renderings(stream)
        elif looks_like_console(head):
            return self._console(stream)
        elif first[:1] and self._delimited_after_all(stream):
            return self._delimited(stream)
        return self._lines(stream)

    def _delimited_after_all(self, stream: BinaryIO) -> bool:
        """Length-delimited protobuf, not JSON lines: when the first line is no JSON and the first entries read as
        LogEntry messages, a damaged one or garbage after the first allowed (:func:`looks_delimited`). Asked of every
        file: one that starts with a byte JSON lines may start with can be protobuf (a first entry of 123 bytes is
        "{"), and one whose first line is text (what a terminal or a script put before the dump) was read as
        protobuf and every event lost."""
        head = stream.peek(1 << 16)[: 1 << 16] if hasattr(stream, "peek") else b""
        line = head.lstrip(b" \t\r\n").split(b"\n", 1)[0]
        try:
            msgspec.json.decode(line)
            return False
        except (msgspec.DecodeError, RecursionError):
            return looks_delimited(head)

    def _read_past_nuls(self, stream: BinaryIO) -> bytes:
        """Read past the NUL bytes a file starts with, say how many, and peek at what follows: a file whose
        first blocks a crash left unwritten would otherwise be read as protobuf (a NUL is an empty entry there,
        which eCapture never sends) and every JSON line after them lost."""
        n = 0
        while chunk := stream.peek(1 << 16):
            run = len(chunk) - len(chunk.lstrip(b"\0"))
            n += len(stream.read(run))
            if run < len(chunk):
                break
        first = stream.peek(3)[:3]
        self.report.warn("NUL bytes read past at the start of a file (a crash leaves them where blocks were never "
                         "written)", f"{self.name}@0", f"{n} bytes")
        return first

    def _delimited(self, stream: BinaryIO) -> Iterator[Message]:
        """A length-delimited protobuf file: every entry is one binary message."""
        entries = iter_delimited(stream, self.max_message_size)
        return self._framed(stream, ((f"{self.name}@{at}", entry, size) for at, entry, size in entries), Opcode.BINARY)

    def _renderings(self, stream: BinaryIO) -> Iterator[Message]:
        """An eCapture v2.1+ event log (``--eventaddr``): each event's rendering a message (:mod:`.eventlog`)."""
        renderings = iter_renderings(stream, self.max_message_size, self._cut)
        return self._framed(stream, ((f"{self.name}:{line}", text, size) for line, text, size in renderings),
                            Opcode.EVENT_TEXT)

    def _cut(self, line: int, announced: int, there: int) -> None:
        """A data event whose header announced more than the limit: ended where the next rendering starts."""
        self.report.warn("a data event's header announces more bytes than --max-message-size: not trusted, the event "
                         "ends where the next rendering starts", f"{self.name}:{line}",
                         f"{announced} bytes announced, {there} there")

    def _console(self, stream: BinaryIO) -> Iterator[Message]:
        """eCapture v2's console output (``ecapture tls > capture.log``): each record a message (:mod:`.console`)."""
        records = iter_records(stream, self.max_message_size)
        return self._framed(stream, ((f"{self.name}:{line}", text, size) for line, text, size in records),
                            Opcode.CONSOLE)

    def _framed(self, stream: BinaryIO, frames: Iterator[tuple[str, bytes | None, int]], opcode: Opcode
                ) -> Iterator[Message]:
        """Messages of ``frames`` (origin, bytes or None when over the size limit, size), read from ``stream``."""
        try:
            for n, (origin, data, size) in enumerate(frames):
                if self.size is not None and n & 63 == 0:  # (the progress bar's, as for lines: a tell is a syscall)
                    self.position = self._raw.tell()  # type: ignore[union-attr]
                if data is None:
                    self.report.skip(origin, self._too_big(size))
                    continue
                yield Message(data, opcode, origin)
        except CutShort as exc:  # (a length past the end of the file: a last entry cut, or garbage after the last)
            raise InputError(f"{self.name}@{exc.offset}: length-delimited protobuf cut short or ending in garbage: "
                             f"{exc}") from None
        except _READ_ERRORS as exc:
            raise InputError(f"{self.name}: cannot read further: {exc}") from None
        finally:
            if self.size is not None:
                self.position = self.size
            self._close(stream)

    def _close(self, stream: BinaryIO) -> None:
        """Close a file's stream and the file under it (a decompressing reader leaves it open: every compressed
        input of a run stayed open to its end, past the 1,024 files a process may have open on many systems)."""
        if self.path == "-":
            return
        stream.close()
        if self._raw is not None and self._raw is not stream:
            self._raw.close()

    def _too_big(self, size: int) -> str:
        return limit_note("message_size", f"message of {size} bytes over the {self.max_message_size}-byte limit skipped")

    def _lines(self, stream: BinaryIO) -> Iterator[Message | Tick]:
        decoder = LineDecoder()
        lineno = 0
        try:
            # (a recording's line holds its message as base64 in a JSON envelope: a third more, so the limit is the
            # message's, once decoded, as live and record apply it; a line is read up to the room that needs)
            limit = self.max_message_size
            room = limit + limit // 3 + 4096
            for line in lines_of(stream, room):
                lineno += 1
                if type(line) is int:  # (a line over room: its length)
                    self.report.skip(f"{self.name}:{lineno}", self._too_big(line))
                    continue
                if self.size is not None and lineno & 63 == 0:
                    self.position = self._raw.tell()  # type: ignore[union-attr]
                origin = f"{self.name}:{lineno}"
                try:
                    msg = decoder.message(line, origin)
                except DecodeError as exc:
                    self.report.skip(origin, str(exc))
                    continue
                if msg is not None:
                    if type(msg) is not Message:  # (a recording's tick)
                        yield msg
                        continue
                    if len(msg.data) > limit:
                        self.report.skip(origin, self._too_big(len(msg.data)))
                        continue
                    yield msg
        except _READ_ERRORS as exc:
            raise InputError(f"{self.name}:{lineno + 1}: cannot read further: {exc}") from None
        finally:
            if self.size is not None:
                self.position = self.size
            self._close(stream)


def not_a_dump(path: str) -> str | None:
    """What the input ``path`` is when its first bytes (decompressed) show it is no eCapture dump (a capture file, a
    HAR, an archive: :func:`~.formats.foreign`), else None: asked of a file before anything is written (stdin is
    asked when it is read, :class:`FileSource`). One that cannot be read says so when it is (None here)."""
    if path == "-":
        return None
    try:
        with open(path, "rb") as raw:
            return foreign(_head(_decompressed(io.BufferedReader(raw))))
    except _READ_ERRORS:
        return None


def _decompressed(buffered: io.BufferedReader) -> BinaryIO:
    """``buffered``'s bytes, read through the compression its first bytes show, if any."""
    kind = compression(_head(buffered))
    return buffered if kind is None else decompressing(kind, buffered, READ_BUFFER)


def _head(stream) -> bytes:
    """The first :data:`~.formats.SNIFF_BYTES` bytes of ``stream`` (peeked: still to be read)."""
    return stream.peek(SNIFF_BYTES)[:SNIFF_BYTES]
