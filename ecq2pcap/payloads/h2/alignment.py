"""HTTP/2 frames as :class:`~ecq2pcap.payloads.alignment.FrameAlignment` follows them across captures: a
9-byte header (length, type, flags, stream), after the client's connection preface."""

from __future__ import annotations

from ..alignment import Framing
from .sniff import DEFAULT_MAX_FRAME, FRAME_HEADER, PREFACE, credible_frame, plausible_frames

__all__ = ["H2_FRAMING"]

_NAMES = ("DATA", "HEADERS", "PRIORITY", "RST_STREAM", "SETTINGS", "PUSH_PROMISE", "PING", "GOAWAY",
          "WINDOW_UPDATE", "CONTINUATION")


class H2Framing(Framing):
    def first(self, direction: int, data: bytes) -> int:
        """The client's connection preface (all of it, or its start: the rest comes next) is not a frame."""
        n = min(len(data), len(PREFACE))
        return len(PREFACE) if not direction and n and data[:n] == PREFACE[:n] else 0

    def header(self, direction: int, data: bytes, pos: int) -> tuple[int, tuple] | None:
        if pos + 9 > len(data):
            return None
        hi, lo, ftype, flags, stream = FRAME_HEADER.unpack_from(data, pos)
        length = (hi << 8) | lo
        return 9 + length, (ftype, stream & 0x7FFFFFFF, flags, length)

    def fills(self, info: tuple) -> bool:
        """A frame of a known type, flags and layout within the default maximum size (16,384 bytes: a larger frame
        needs a SETTINGS_MAX_FRAME_SIZE, rare, and is not looked for): bytes that are not HTTP/2 read as a frame
        header say up to 16 MiB, and making those up wrote gigabytes of zeros from megabytes of captures."""
        return not info or credible_frame(info[3], info[0], info[2], info[1], DEFAULT_MAX_FRAME)

    def plausible(self, direction: int, data: bytes) -> bool:
        return plausible_frames(data)

    def describe(self, info: tuple) -> str:
        if not info:  # (nothing read yet that way: the bytes awaited are the rest of the connection preface)
            return "the HTTP/2 connection preface"
        ftype, stream = info[0], info[1]
        return f"stream {stream}: an HTTP/2 {_NAMES[ftype] if ftype < len(_NAMES) else f'type {ftype}'} frame"

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


H2_FRAMING = H2Framing()
