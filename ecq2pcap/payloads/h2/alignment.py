"""HTTP/2 frames as :class:`~ecq2pcap.payloads.alignment.FrameAlignment` follows them across captures: a
9-byte header (length, type, flags, stream), after the client's connection preface."""

from __future__ import annotations

import struct

from ..alignment import Framing
from .sniff import DEFAULT_MAX_FRAME, FRAME_HEADER, PREFACE, credible_frame, plausible_frames

__all__ = ["H2Framing"]

_NAMES = ("DATA", "HEADERS", "PRIORITY", "RST_STREAM", "SETTINGS", "PUSH_PROMISE", "PING", "GOAWAY",
          "WINDOW_UPDATE", "CONTINUATION")


_SETTING = struct.Struct(">HL")  # a setting's identifier and value
_MAX_FRAME_SIZE = 0x5  # SETTINGS_MAX_FRAME_SIZE (RFC 9113 §6.5.2)
_LARGEST_FRAME = (1 << 24) - 1  # the largest value it may take


class H2Framing(Framing):
    """One connection's HTTP/2 framing: the largest frame each way, raised by the SETTINGS_MAX_FRAME_SIZE the other
    side sent (nginx announces 16 MiB − 1, Go's servers 1 MiB, and clients such as httpx then send larger frames)."""

    __slots__ = ("max_frame",)

    def __init__(self) -> None:
        self.max_frame = [DEFAULT_MAX_FRAME, DEFAULT_MAX_FRAME]  # by the direction the frames travel

    def first(self, direction: int, data: bytes) -> int:
        """The client's connection preface (all of it, or its start: the rest comes next) is not a frame."""
        n = min(len(data), len(PREFACE))
        return len(PREFACE) if not direction and n and data[:n] == PREFACE[:n] else 0

    def header(self, direction: int, data: bytes, pos: int) -> tuple[int, tuple] | None:
        if pos + 9 > len(data):
            return None
        hi, lo, ftype, flags, stream = FRAME_HEADER.unpack_from(data, pos)
        length = (hi << 8) | lo
        if ftype == 4 and not flags & 1 and not stream and length and not length % 6:
            self._settings(direction, data, pos + 9, length)
        return 9 + length, (ftype, stream & 0x7FFFFFFF, flags, length)

    def _settings(self, direction: int, data: bytes, start: int, length: int) -> None:
        """SETTINGS sent ``direction``'s way (those of them the capture holds): a SETTINGS_MAX_FRAME_SIZE lets
        frames the other way be that large (a value outside 16,384 .. 2^24 − 1 is an error, and ignored)."""
        other = 1 - direction
        for pos in range(start, min(start + length, len(data)) - 5, 6):
            ident, value = _SETTING.unpack_from(data, pos)
            if ident == _MAX_FRAME_SIZE and self.max_frame[other] < value <= _LARGEST_FRAME:
                self.max_frame[other] = value

    def fills(self, direction: int, info: tuple) -> bool:
        """A frame of a known type, flags and layout, within the largest size the receiver allowed (16,384 bytes
        unless its SETTINGS said more): bytes that are not HTTP/2 read as a frame header say up to 16 MiB, and
        making those up wrote gigabytes of zeros from megabytes of captures."""
        return not info or credible_frame(info[3], info[0], info[2], info[1], self.max_frame[direction])

    def plausible(self, direction: int, data: bytes) -> bool:
        return plausible_frames(data, self.max_frame[direction])

    def describe(self, info: tuple) -> str:
        if not info:  # (nothing read yet that way: the bytes awaited are the rest of the connection preface)
            return "the HTTP/2 connection preface"
        ftype, stream = info[0], info[1]
        return f"stream {stream}: an HTTP/2 {_NAMES[ftype] if ftype < len(_NAMES) else f'type {ftype}'} frame"

    header_rest_made = "as a frame no receiver acts on"

    def header_rest(self, direction: int, head: bytes) -> bytes | None:
        """The first bytes of a frame header completed: a type no one defined when the type byte was lost, else a
        stream a frame of its type may not be on (stream 0, or 1 for the connection's own frames: a receiver rejects
        it, and the HAR's decoder goes on at the next capture); flags 0; its payload zeros. None when the length
        the bytes say is over the largest frame allowed that way."""
        hdr = bytearray(head) + bytes(9 - len(head))
        if len(head) < 4:
            hdr[3] = UNDEFINED_TYPE
        elif hdr[3] in _CONNECTION_TYPES:
            hdr[8] = 1
        length = int.from_bytes(hdr[:3], "big")
        if length > self.max_frame[direction]:
            return None
        return bytes(hdr[len(head):]) + bytes(length)

    def rest_as_frame(self, direction: int, info: tuple, need: int) -> bytes:
        """The rest of a DATA frame as a DATA frame of its stream (END_STREAM kept, padding not: its length was in
        the first part); of any other (a header block's rest cannot be decoded alone) as a frame of a type no one
        defined, which a receiver ignores (RFC 9113 §4.1)."""
        if not info:
            return b""
        ftype, stream, flags, _ = info
        ftype, flags = (0, flags & 0x1) if ftype == 0 else (UNDEFINED_TYPE, 0)
        return FRAME_HEADER.pack(need >> 8, need & 0xFF, ftype, flags, stream)


UNDEFINED_TYPE = 0xF7  # (in 0xf0-0xff, the types kept for experimental use: RFC 9113 §11.2)
_CONNECTION_TYPES = frozenset({0x4, 0x6, 0x7})  # SETTINGS, PING, GOAWAY: on stream 0 only
