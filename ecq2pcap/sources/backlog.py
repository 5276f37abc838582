"""The live source's queue of messages received and not yet converted, in bounded memory.

eCapture drops a client that falls 256 messages behind (protocol doc §1.7), so the socket is
read at once whatever the converter's speed, and what it has not taken yet waits here. When
eCapture sends faster than the converter works for long (a busy host: tens of thousands of
messages per second against ~13k converted), that wait grows without end. A :class:`Backlog`
keeps up to ``memory_limit`` bytes of it in memory; beyond that, messages wait in a temporary
file (``TMPDIR``) in arrival order and are read back when their turn comes, so memory stays
bounded and nothing is dropped. Once the file is read out it is emptied, and messages are kept
in memory again.

The file is a chain of segments of ``SEGMENT_BYTES``: new messages go to the last, and the first
is freed as soon as it has been read out. While a backlog is worked down slowly (eCapture sending a
little less than is converted), a single file emptied only when read out whole grew with all the
traffic, 482 MB for a backlog of 36 MB; the chain holds the backlog and at most one segment more.

A write to the file that fails (disk full) keeps the message in memory instead, in order, and
says so: memory is then no longer bounded, but nothing is lost. The write is tried again once
another ``memory_limit`` (1 MiB at least) waits in memory, and when the backlog has drained: a
moment of full disk does not keep every later backlog in memory.

Only the event loop's thread touches a backlog (the reader appends, ``get_batch`` takes).
"""

from __future__ import annotations

import os
import struct
import tempfile
from collections import deque
from collections.abc import Callable
from typing import BinaryIO

from ..limits import format_size

DEFAULT_MEMORY = 64 << 20
MESSAGE_OVERHEAD = 300  # bytes a queued message costs beyond its data (the Delivery tuple, its origin, ...)
WRITE_CHUNK = 1 << 20  # spilled bytes gathered before one write
READ_CHUNK = 1 << 20
SEGMENT_BYTES = 64 << 20  # the file's segments: one read out is freed (so disk use ≈ the backlog + one segment)
MIN_BATCH_BYTES = 1 << 20  # a batch of the file's messages may hold this much under a smaller memory limit

_HEAD = struct.Struct("<qIIB")  # receive time (-1: none), data length, origin length, flags
_BINARY, _REPLAYED = 1, 2


Delivery = tuple[bytes, bool, str, "int | None", bool]
"""One message as the live source received it: ``(data, binary, origin, recv_time_ns, replayed)``.

``binary``: a binary frame (else text); ``origin``: ``ws://host/#n``, for diagnostics; ``replayed``: a
startup log this stream already delivered (record it, do not feed it). A plain tuple, because the reader
makes one per message and must keep up with eCapture: a tuple costs ~0.06 µs, a NamedTuple ~0.3 µs to
make and ten times as much to pickle on to the converting process. The consumer makes the
:class:`~ecq2pcap.model.Message` (:meth:`ecq2pcap.live.Session.process`)."""


def _size(d: Delivery) -> int:
    return len(d[0]) + MESSAGE_OVERHEAD


class _Segment:
    """One temporary file of the chain, with the bytes written to it and read back from it."""

    __slots__ = ("file", "written", "read")

    def __init__(self, file: BinaryIO) -> None:
        self.file, self.written, self.read = file, 0, 0


class Backlog:
    """A FIFO of :class:`Delivery`: ``append`` one, ``take`` up to n in arrival order.

    ``note(text)`` is told when messages start waiting in the file (once per run) and when the
    file cannot be written. Counters: ``spilled`` (messages that waited in the file), ``peak``
    (the most messages waiting at once).
    """

    def __init__(self, memory_limit: int = DEFAULT_MEMORY, *, note: Callable[[str], None] | None = None,
                 spool: Callable[[], BinaryIO] = tempfile.TemporaryFile, consumer: str = "converting") -> None:
        self.memory_limit = memory_limit
        self.note = note or (lambda text: None)
        self.consumer = consumer  # what fell behind when the file is used (its note says)
        self.spilled = 0
        self.peak = 0
        self.spill_error: OSError | None = None
        self.lost = 0  # messages the file did not give back (only if something else cut it)
        self._memory: deque[Delivery] = deque()
        self._memory_bytes = 0
        self._make_spool = spool
        self._segments: deque[_Segment] = deque()  # the file, oldest first: writes go to the last
        self._retry_at = 0  # after a failed write, the pending bytes at which to try again
        self._pending = bytearray()  # spilled records not yet written (or not writable)
        self._unparsed = b""  # read back, not yet a whole record
        self._ready: deque[Delivery] = deque()  # read back and parsed
        self._in_spool = 0  # messages in the file, _pending, _unparsed or _ready

    def __len__(self) -> int:
        return len(self._memory) + self._in_spool

    @property
    def memory_bytes(self) -> int:
        """What the messages held in memory cost (estimated), the spill's buffers aside."""
        return self._memory_bytes

    def append(self, d: Delivery) -> None:
        size = _size(d)
        if not self._in_spool and self._memory_bytes + size <= self.memory_limit:
            self._memory.append(d)
            self._memory_bytes += size
        else:  # behind messages already waiting in the file, or over the limit
            self._spill(d)
        n = len(self._memory) + self._in_spool
        if n > self.peak:
            self.peak = n

    def take(self, limit: int) -> list[Delivery]:
        """Up to ``limit`` messages, oldest first; of the file's, no more once the batch holds the memory limit's
        bytes (one at least). They were read back ``limit`` at a time: 2,000 messages of 1 MB held 1.1 GB with
        64 MiB allowed. (Those held in memory are within the limit already.)"""
        memory = self._memory
        out = [memory.popleft() for _ in range(min(limit, len(memory)))]
        taken = sum([_size(d) for d in out])
        self._memory_bytes -= taken
        ready, budget = self._ready, max(self.memory_limit, MIN_BATCH_BYTES)
        while self._in_spool and len(out) < limit and (taken < budget or not out):
            if not ready:
                self._read_back()
            if not self._in_spool:
                break
            d = ready.popleft()
            out.append(d)
            taken += _size(d)
            self._in_spool -= 1
        if not self._in_spool and self._segments:
            self._reset()
        return out

    def close(self) -> None:
        while self._segments:
            self._segments.popleft().file.close()

    # -- the file

    def _spill(self, d: Delivery) -> None:
        if not self.spilled:
            self.note(f"{self.consumer} fell behind eCapture: messages beyond {format_size(self.memory_limit)} of "
                      "backlog wait in a temporary file (TMPDIR), in arrival order")
        self.spilled += 1
        self._in_spool += 1
        data, binary, origin_text, recv_time_ns, replayed = d
        origin = origin_text.encode("utf-8", "surrogatepass")
        flags = (_BINARY if binary else 0) | (_REPLAYED if replayed else 0)
        time_ns = recv_time_ns if recv_time_ns is not None else -1
        self._pending += _HEAD.pack(time_ns, len(data), len(origin), flags)
        self._pending += origin
        self._pending += data
        if len(self._pending) >= WRITE_CHUNK and len(self._pending) >= self._retry_at:
            self._write()

    def _write(self) -> None:
        segments = self._segments
        try:
            if not segments or segments[-1].written >= SEGMENT_BYTES:
                segments.append(_Segment(self._make_spool()))
            seg = segments[-1]
            written = os.pwrite(seg.file.fileno(), self._pending, seg.written)
        except OSError as exc:  # (disk full): the records stay in memory, in order; tried again later
            if self.spill_error is None:
                self.note(f"the backlog cannot be written to a temporary file ({exc.strerror or exc}): "
                          "it is kept in memory")
            self.spill_error = exc
            self._retry_at = len(self._pending) + max(WRITE_CHUNK, self.memory_limit)
            return
        if self.spill_error is not None:
            self.spill_error, self._retry_at = None, 0
            self.note("the backlog's temporary file is written again")
        seg.written += written
        del self._pending[:written]

    def _read_back(self) -> None:
        """Parse the next records into ``_ready`` (from the file, then from what is pending)."""
        segments = self._segments
        while not self._ready:
            while len(segments) > 1 and segments[0].read >= segments[0].written:
                segments.popleft().file.close()  # read out: its disk space is freed
            seg = segments[0] if segments else None
            if seg is not None and seg.read < seg.written:
                # (a record longer than READ_CHUNK, §11.11's megabytes, is read whole, not grown piece by piece)
                size = min(max(READ_CHUNK, self._missing()), seg.written - seg.read)
                data = os.pread(seg.file.fileno(), size, seg.read)
                seg.read += len(data)
            else:
                data = bytes(self._pending)
                self._pending.clear()
                self._retry_at = 0  # (a failed write's threshold was over the bytes that were pending then)
            if not data:  # (the file was cut or changed behind our back): say so, do not spin
                self.note(f"{self._in_spool} message(s) lost: the backlog's temporary file ended early")
                self.lost += self._in_spool
                self._in_spool, self._unparsed = 0, b""
                return
            buf = self._unparsed + data if self._unparsed else data
            self._unparsed = self._parse(buf)

    def _missing(self) -> int:
        """Bytes the record begun in ``_unparsed`` still lacks (0 when its head is incomplete)."""
        if len(self._unparsed) < _HEAD.size:
            return 0
        _, n, o, _ = _HEAD.unpack_from(self._unparsed)
        return _HEAD.size + o + n - len(self._unparsed)

    def _parse(self, buf: bytes) -> bytes:
        """Whole records of ``buf`` into ``_ready``; returns the rest."""
        view, pos, end, head = memoryview(buf), 0, len(buf), _HEAD.size
        while end - pos >= head:
            time_ns, n, o, flags = _HEAD.unpack_from(buf, pos)
            start = pos + head + o
            if end < start + n:
                break
            origin = str(view[pos + head : start], "utf-8", "surrogatepass")
            self._ready.append((bytes(view[start : start + n]), bool(flags & _BINARY), origin,
                                None if time_ns < 0 else time_ns, bool(flags & _REPLAYED)))
            pos = start + n
        return buf[pos:]

    def _reset(self) -> None:
        """The file is read out: empty it, and keep messages in memory again (a failed write is tried again)."""
        segments = self._segments
        while len(segments) > 1:
            segments.popleft().file.close()
        seg = segments[0]
        if seg.written:
            try:
                os.ftruncate(seg.file.fileno(), 0)
            except OSError:
                pass
        seg.written = seg.read = 0
        self._retry_at = 0
