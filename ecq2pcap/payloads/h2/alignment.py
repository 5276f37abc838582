"""Where each direction of a raw HTTP/2 connection is in its frames, from one capture to the next.

eCapture keeps at most 16 KiB of one SSL call (protocol doc §10.16) and its perf buffers drop
events: the rest of a frame can be lost. A TCP stream has no gaps here (sequence numbers advance
by the bytes seen), so every frame after such a loss is read from the wrong bytes, by Wireshark and
by the HAR's decoder alike: a 16,393-byte DATA frame written in one call (16,384 of payload, the
default largest frame, and its header) lost its last 9 bytes, and the rest of the connection that
way was "not HTTP/2".

:class:`FrameAlignment` follows the frame headers of the raw bytes each way (sans-IO). When a
capture comes while a frame still lacks bytes, and its bytes at the point where that frame would
end do not start plausible frames while its own first bytes do, the rest of that frame was lost:
it is completed with zero bytes, and said so. Bytes that go on the wire other than as raw frames
(eCapture's HTTP/2 dumps, re-encoded) cannot continue a raw frame: a frame they follow is completed
first (:meth:`FrameAlignment.complete`).
"""

from __future__ import annotations

from ...limits import LOST_BY_ECAPTURE
from .sniff import FRAME_HEADER, PREFACE, plausible_frames

__all__ = ["FrameAlignment"]

_PREFACE = 255  # the "type" of the connection preface while its bytes are awaited (not a frame type)
_NAMES = ("DATA", "HEADERS", "PRIORITY", "RST_STREAM", "SETTINGS", "PUSH_PROMISE", "PING", "GOAWAY",
          "WINDOW_UPDATE", "CONTINUATION")


class FrameAlignment:
    """Each direction's place in its frames: the bytes the frame being read still lacks, that frame's
    type and stream, and a frame header cut by the end of the last capture (up to 8 bytes)."""

    __slots__ = ("_need", "_frame", "_head", "_started")

    def __init__(self) -> None:
        self._started = False  # client→server bytes were fed (the first may start with the connection preface)
        self._need = [0, 0]  # by direction (C2S 0, S2C 1)
        self._frame: list[tuple[int, int]] = [(0, 0), (0, 0)]  # (type, stream id) of the frame being read
        self._head = [b"", b""]

    def feed(self, direction: int, data: bytes) -> tuple[bytes, str | None]:
        """``data``, the next raw bytes ``direction``'s way: ``(fill, note)``, the zero bytes that must go on the
        wire before it (the rest of a frame eCapture lost) and the note saying so, or ``(b"", None)``."""
        need, fill, note = self._need[direction], b"", None
        if not direction and not self._started:
            self._started = True
            n = min(len(data), len(PREFACE))
            if n and data[:n] == PREFACE[:n]:  # (the connection preface: not a frame; all of it, or its start)
                if n < len(PREFACE):
                    self._need[0], self._frame[0] = len(PREFACE) - n, (_PREFACE, 0)
                else:
                    self._walk(0, data, n)
                return b"", None
        if need:
            rest = len(data) - need  # bytes past the frame's end
            if rest == 0:
                continues: bool | None = True
            elif rest < 9:  # (all of data inside the frame, or too little after it to tell)
                continues = None
            else:
                continues = plausible_frames(memoryview(data)[need:])
            if continues is not True and plausible_frames(data):
                fill, note = self.complete(direction)
                need = 0
            elif rest < 0:
                self._need[direction] = -rest
                return b"", None
        self._walk(direction, data, need)
        return fill, note

    def complete(self, direction: int) -> tuple[bytes, str | None]:
        """The zero bytes that complete the frame ``direction``'s way still lacks (its rest lost), and the note
        saying so; ``(b"", None)`` when none lacks bytes."""
        need = self._need[direction]
        if not need:
            return b"", None
        self._need[direction] = 0
        ftype, stream = self._frame[direction]
        what = ("the HTTP/2 connection preface" if ftype == _PREFACE else
                f"an HTTP/2 {_NAMES[ftype] if ftype < len(_NAMES) else f'type {ftype}'} frame")
        return b"\0" * need, (f"stream {stream}: the last {need:,} bytes of {what} {LOST_BY_ECAPTURE} "
                              "(its 16 KiB cap on a call, or a dropped event): zero bytes put in their place to keep "
                              "the frames that follow readable")

    def _walk(self, direction: int, data: bytes, pos: int) -> None:
        """Follow the frame headers of ``data`` from ``pos``, a frame's start (or the rest of a header the last
        capture cut)."""
        head = self._head[direction]
        if head:  # (a frame header cut by the last capture's end: rare)
            k = 9 - len(head)
            if len(data) < k:
                self._head[direction] = head + bytes(data)
                return
            self._head[direction] = b""
            hi, lo, ftype, _, stream = FRAME_HEADER.unpack(head + bytes(data[:k]))
            self._frame[direction] = (ftype, stream & 0x7FFFFFFF)
            pos = k + ((hi << 8) | lo)
        n = len(data)
        while pos + 9 <= n:
            hi, lo, ftype, _, stream = FRAME_HEADER.unpack_from(data, pos)
            pos += 9 + ((hi << 8) | lo)
            self._frame[direction] = (ftype, stream & 0x7FFFFFFF)
        if pos >= n:
            self._need[direction] = pos - n
        else:
            self._need[direction] = 0
            self._head[direction] = bytes(data[pos:])
