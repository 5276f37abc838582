"""HTTP/2 frames as :class:`~ecq2pcap.payloads.alignment.FrameAlignment` follows them across captures: a
9-byte header (length, type, flags, stream), after the client's connection preface."""

from __future__ import annotations

from ..alignment import Framing
from .sniff import FRAME_HEADER, PREFACE, plausible_frames

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
        hi, lo, ftype, _, stream = FRAME_HEADER.unpack_from(data, pos)
        return 9 + ((hi << 8) | lo), (ftype, stream & 0x7FFFFFFF)

    def plausible(self, direction: int, data: bytes) -> bool:
        return plausible_frames(data)

    def describe(self, info: tuple) -> str:
        if not info:  # (nothing read yet that way: the bytes awaited are the rest of the connection preface)
            return "the HTTP/2 connection preface"
        ftype, stream = info
        return f"stream {stream}: an HTTP/2 {_NAMES[ftype] if ftype < len(_NAMES) else f'type {ftype}'} frame"


H2_FRAMING = H2Framing()
