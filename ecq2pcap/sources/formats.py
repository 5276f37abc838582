"""What an input file is, from its first bytes: the compressions ``convert`` reads through (gzip, zstd, xz,
bzip2), and the files people take for an eCapture dump that are not one (a capture file, a HAR, a zip or tar archive),
refused at once with what they are instead of a skipped line for each of their "lines" (a 90 MB pcapng gave
8 million skipped lines, an empty output and exit 0). The sniffing and :class:`ZstdFrames` are pure; the readers
wrap a stream they are given (:mod:`.files` opens the files).

A dump is JSON lines (``{``, blank space or a byte order mark first), an ecq2pcap recording (JSON lines) or
length-delimited protobuf (a varint length first, then a ``LogEntry`` whose first field is field 1): none starts
with the magic numbers below, which is why they can be told from the first bytes alone.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import re
from typing import BinaryIO

import zstandard  # (imported by the run anyway: HAR's content codings; lzma and bz2 by the standard library's own)

__all__ = ["COMPRESSED_SUFFIXES", "SNIFF_BYTES", "compression", "foreign", "decompressing", "ZstdFrames", "READ_ERRORS"]

COMPRESSED_SUFFIXES = (".gz", ".zst", ".xz", ".bz2")  # (what an output named after an input leaves out of its name)
SNIFF_BYTES = 1024  # what the sniffing looks at (a HAR's {"log": after blank space; a pcapng's section header)

_MAGICS = ((b"\x1f\x8b", "gzip"), (b"\x28\xb5\x2f\xfd", "zstd"), (b"\xfd7zXZ\x00", "xz"))
_BZIP2 = re.compile(rb"BZh[1-9](?:1AY&SY|\x17rE8P\x90)")  # (a block's magic, or the end of an empty stream)
_NOT_A_DUMP = ", not an eCapture dump"
_CAPTURE = " (open it in Wireshark)"
_FOREIGN = (
    (b"\x0a\x0d\x0d\x0a", "a pcapng capture file" + _NOT_A_DUMP + _CAPTURE),
    (b"\xd4\xc3\xb2\xa1", "a pcap capture file" + _NOT_A_DUMP + _CAPTURE),
    (b"\xa1\xb2\xc3\xd4", "a pcap capture file" + _NOT_A_DUMP + _CAPTURE),
    (b"\x4d\x3c\xb2\xa1", "a pcap capture file" + _NOT_A_DUMP + _CAPTURE),
    (b"\xa1\xb2\x3c\x4d", "a pcap capture file" + _NOT_A_DUMP + _CAPTURE),
    (b"PK\x03\x04", "a zip archive" + _NOT_A_DUMP + " (unzip it, then convert what it holds)"),
)
# eCapture's own pcapng (its -m pcap mode): its section header names it ("eCapture (旁观者) Hardware", "ecapture.lua")
_ECAPTURE_PCAPNG = ("an eCapture pcapng file (its pcap mode: the TLS ciphertext, its keys beside it)" + _NOT_A_DUMP
                    + " (open it in Wireshark, which decrypts it with those keys; ecq2pcap reads what eCapture's "
                    "text or eCaptureQ modes send)")
_ECAPTURE_SHB = ("eCapture (旁观者) Hardware".encode(), b"ecapture.lua")
_HAR = re.compile(rb'(?:\xef\xbb\xbf)?\s*\{\s*"log"\s*:')  # (eCaptureQ's messages start {"log_type":)
_HAR_SAID = "a HAR file" + _NOT_A_DUMP + " (ecq2pcap writes HAR: open it in a HAR viewer)"
_TAR_SAID = "a tar archive" + _NOT_A_DUMP + " (extract it, then convert what it holds)"


def compression(head: bytes) -> str | None:
    """The compression ``head`` (a file's first bytes) starts with: ``gzip``, ``zstd``, ``xz``, ``bzip2``, or None."""
    for magic, name in _MAGICS:
        if head.startswith(magic):
            return name
    return "bzip2" if _BZIP2.match(head) else None


def foreign(head: bytes) -> str | None:
    """What ``head`` (the first bytes, decompressed) shows the file to be when it is not an eCapture dump, said for
    a message (``x.pcapng: cannot read: a pcapng capture file …``); None when it may be one."""
    for magic, what in _FOREIGN:
        if head.startswith(magic):
            return _ECAPTURE_PCAPNG if magic == _FOREIGN[0][0] and any(m in head for m in _ECAPTURE_SHB) else what
    if head[257:262] == b"ustar":  # (POSIX and GNU tar: the magic in the first header block)
        return _TAR_SAID
    return _HAR_SAID if _HAR.match(head) else None


class ZstdFrames:
    """Walks the frames of a zstd stream as its compressed bytes go by (RFC 8878: frame headers, block headers, sizes,
    checksums; nothing decompressed), to tell a stream cut short from one that ended: ``zstandard``'s stream reader
    ends a truncated one as if it were whole (gzip, xz and bzip2 raise EOFError). :attr:`whole`: the bytes fed so
    far end where a frame ends. Bytes that are no zstd frame stop the walk (the decompressor says what is wrong)."""

    __slots__ = ("_need", "_state", "_pending", "_checksum", "_after_skip", "_after_need", "lost")

    def __init__(self) -> None:
        self._need = 4  # bytes the current state needs
        self._state = "magic"
        self._pending = b""  # the start of a header cut by the end of what was fed
        self._checksum = 0
        self._after_skip, self._after_need = "magic", 4  # (the state after a skip, and what it needs)
        self.lost = False  # the walk stopped (not a frame this walker knows)

    @property
    def whole(self) -> bool:
        return self.lost or (self._state == "magic" and not self._pending)

    def feed(self, data: bytes) -> None:
        pos, n = 0, len(data)
        while pos < n and not self.lost:
            if self._state == "skip":  # (a block's or a skippable frame's content, a checksum: only counted)
                step = min(self._need, n - pos)
                pos += step
                self._need -= step
                if not self._need:
                    self._state, self._need = self._after_skip, self._after_need
                continue
            take = self._need - len(self._pending)
            self._pending += data[pos:pos + take]
            pos += take
            if len(self._pending) < self._need:
                return
            header, self._pending = self._pending, b""
            self._read(header)

    def _skip(self, size: int, then: str, need: int) -> None:
        self._after_skip, self._after_need = then, need
        if size:
            self._state, self._need = "skip", size
        else:
            self._state, self._need = then, need

    def _read(self, header: bytes) -> None:
        state = self._state
        if state == "magic":
            magic = int.from_bytes(header, "little")
            if magic == 0xFD2FB528:
                self._state, self._need = "descriptor", 1
            elif magic & 0xFFFFFFF0 == 0x184D2A50:  # a skippable frame: its size, then that many bytes
                self._state, self._need = "skippable", 4
            else:
                self.lost = True
        elif state == "skippable":
            self._skip(int.from_bytes(header, "little"), "magic", 4)
        elif state == "descriptor":
            d = header[0]
            fcs_flag, single, dict_flag = d >> 6, d >> 5 & 1, d & 3
            self._checksum = 4 if d & 4 else 0
            fcs = (1 if single else 0, 2, 4, 8)[fcs_flag]
            rest = (0 if single else 1) + (0, 1, 2, 4)[dict_flag] + fcs
            self._skip(rest, "block", 3)
        elif state == "block":
            h = int.from_bytes(header, "little")
            last, kind, size = h & 1, h >> 1 & 3, h >> 3
            if kind == 3:
                self.lost = True
                return
            content = 1 if kind == 1 else size
            if last:
                self._skip(content + self._checksum, "magic", 4)
            else:
                self._skip(content, "block", 3)


class _ZstdReader(io.RawIOBase):
    """A zstd stream's decompressed bytes (every frame), bounded in memory as ``zstandard``'s stream reader is, and
    EOFError at the end of a stream cut short (as gzip's reader says it)."""

    def __init__(self, source: BinaryIO) -> None:
        self._frames = ZstdFrames()
        self._reader = zstandard.ZstdDecompressor().stream_reader(_Tracked(source, self._frames),
                                                                   read_across_frames=True, closefd=False)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = self._reader.readinto(buffer)
        if not n and not self._frames.whole:
            raise EOFError("Compressed file ended before the end-of-stream marker was reached")
        return n

    def close(self) -> None:
        self._reader.close()
        super().close()


class _Tracked:
    """``source`` read through (``zstandard`` asks only ``read``), its bytes shown to ``frames`` on the way."""

    def __init__(self, source: BinaryIO, frames: ZstdFrames) -> None:
        self._source, self._frames = source, frames

    def read(self, size: int = -1) -> bytes:
        data = self._source.read(size)
        self._frames.feed(data)
        return data


def decompressing(kind: str, stream: BinaryIO, buffer_size: int) -> BinaryIO:
    """``stream``'s bytes decompressed (``kind``: what :func:`compression` said), as a buffered stream with
    ``peek`` and ``read1``."""
    if kind == "gzip":
        return gzip.GzipFile(fileobj=stream, mode="rb")  # type: ignore[return-value]
    if kind == "xz":
        return lzma.LZMAFile(stream)  # type: ignore[return-value]
    if kind == "bzip2":
        return bz2.BZ2File(stream)  # type: ignore[return-value]
    return io.BufferedReader(_ZstdReader(stream), buffer_size)  # type: ignore[return-value]


# what reading a damaged compressed input raises besides OSError, EOFError and zlib.error
READ_ERRORS: tuple[type[Exception], ...] = (lzma.LZMAError, zstandard.ZstdError)
