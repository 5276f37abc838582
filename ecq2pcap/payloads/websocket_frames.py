"""WebSocket frames (RFC 6455 §5.2) as :class:`~ecq2pcap.payloads.alignment.FrameAlignment` follows them
across captures, and the response that switches a connection to them."""

from __future__ import annotations

import re

from .alignment import MAX_FILL, Framing
from .websocket import header_size

__all__ = ["SWITCHING", "WsFraming", "websocket_start"]

SWITCHING = (b"HTTP/1.1 101 ", b"HTTP/1.0 101 ")  # how a response switching protocols starts

_NAMES = {0: "continuation", 1: "text", 2: "binary", 8: "close", 9: "ping", 10: "pong"}
_UPGRADE = re.compile(rb"\r\nupgrade:[ \t]*websocket[ \t]*\r\n", re.IGNORECASE)
_DEFLATE = re.compile(rb"\r\nsec-websocket-extensions:[^\r\n]*permessage-deflate", re.IGNORECASE)
MAX_LENGTH = 1 << 31  # a frame this long is taken for bytes that are not a frame header


def websocket_start(payload: bytes) -> tuple[int, bool] | None:
    """When ``payload`` (a server's bytes) starts with a ``101`` response switching to WebSocket: where its frames
    start (past the head: the end of ``payload`` when nothing follows it) and whether permessage-deflate was
    agreed; else None."""
    if not payload.startswith(SWITCHING):
        return None
    end = payload.find(b"\r\n\r\n")
    if end < 0 or not _UPGRADE.search(payload, 0, end + 2):
        return None
    return end + 4, _DEFLATE.search(payload, 0, end + 2) is not None


class WsFraming(Framing):
    def __init__(self, deflate: bool) -> None:
        self.reserved = 0x30 if deflate else 0x70  # RSV1 is permessage-deflate's: set on no other connection

    def header(self, direction: int, data: bytes, pos: int) -> tuple[int, tuple] | None:
        if pos + 2 > len(data):
            return None
        b0, b1 = data[pos], data[pos + 1]
        size = header_size(b0, b1)
        if pos + size > len(data):
            return None
        length = b1 & 0x7F
        if length >= 126:  # (the extended length after the first two bytes: 2 or 8 bytes)
            length = int.from_bytes(data[pos + 2 : pos + (4 if length == 126 else 10)], "big")
        mask = bytes(data[pos + size - 4 : pos + size]) if b1 & 0x80 else b""
        return size + length, (b0 & 0x0F, size + length, size, mask, self._credible(direction, b0, b1, size + length))

    def _credible(self, direction: int, b0: int, b1: int, whole: int | None) -> bool:
        """A frame header as a sender writes one: a known opcode, the reserved bits clear (but RSV1 with
        permessage-deflate), masked exactly when the client sent it, a control frame whole and short, and (with
        ``whole``, the frame's size) the length in its shortest form."""
        opcode, length, masked = b0 & 0x0F, b1 & 0x7F, (0x80 if direction == 0 else 0)
        if opcode not in _NAMES or b0 & self.reserved or b1 & 0x80 != masked:
            return False
        if opcode >= 8 and (not b0 & 0x80 or length > 125):
            return False
        return whole is None or not (length == 126 and whole - (8 if masked else 4) < 126 or length == 127 and (
            whole - (14 if masked else 10) <= 0xFFFF or whole > MAX_LENGTH))

    def plausible(self, direction: int, data: bytes) -> bool:
        """Each frame's header a credible one (:meth:`_credible`); and ``data`` ends where a frame does, or holds
        two frames at least (bytes inside a frame, a message's body, pass for one frame header more often than
        HTTP/2's)."""
        pos, n, seen = 0, len(data), 0
        while pos + 2 <= n:
            got = self.header(direction, data, pos)
            if got is None:  # (cut by the end: its first two bytes are still read)
                if not self._credible(direction, data[pos], data[pos + 1], None):
                    return False
                break
            if not got[1][4]:
                return False
            seen += 1
            pos += got[0]
        return seen > 1 or seen == 1 and pos == n

    def fills(self, direction: int, info: tuple) -> bool:
        """A credible frame header's (:meth:`_credible`): bytes of another kind read as one say up to 2 GiB."""
        return not info or info[4]

    def made_up(self, info: tuple, missing: int) -> bytes:
        """Bytes the receiver unmasks to zeros: a client's frame's mask key from where they start (a server's
        frames are not masked: zeros)."""
        whole, size, mask = info[1], info[2], info[3]
        if not mask:
            return b"\0" * missing
        start = whole - missing - size  # (the payload offset of the first byte lost)
        return (_turned(mask, start) * (missing // 4 + 1))[:missing]

    header_rest_made = "as the frame its bytes say, its payload zeros"

    def header_rest(self, direction: int, head: bytes) -> bytes | None:
        """The first bytes of a frame header completed, and its frame: the bytes lost of its length zeros (a length
        byte lost: no payload), of its mask key zeros (a client's frames are masked), its payload bytes that unmask to
        zeros, as a lost rest is made up. None for a header of an opcode no one sends, or of a frame too long to
        make up (:data:`~ecq2pcap.payloads.alignment.MAX_FILL`)."""
        if head[0] & 0x0F not in _NAMES:
            return None
        hdr = bytearray(head)
        if len(hdr) == 1:
            hdr.append(0x80 if direction == 0 else 0)  # (C2S: a client's, masked)
        b1 = hdr[1]
        size = header_size(hdr[0], b1)
        hdr += bytes(size - len(hdr))
        length = b1 & 0x7F
        if length >= 126:
            length = int.from_bytes(hdr[2:4] if length == 126 else hdr[2:10], "big")
        if length > MAX_FILL:
            return None
        payload = bytes(length) if not b1 & 0x80 else (bytes(hdr[size - 4:size]) * (length // 4 + 1))[:length]
        return bytes(hdr[len(head):]) + payload

    def rest_as_frame(self, direction: int, info: tuple, need: int) -> bytes:
        """The rest of a frame as a frame of its own, whole: a control frame's with its opcode, a data frame's as
        binary (a text frame's rest may start inside a character); a client's masked with the key that unmasks
        those bytes as the first part's did, the key turned to where they start."""
        if not info:
            return b""
        opcode, whole, size, mask = info[:4]
        b0 = 0x80 | (opcode if opcode >= 8 else 2)
        if need < 126:
            head = bytes((b0, need))
        elif need <= 0xFFFF:
            head = bytes((b0, 126)) + need.to_bytes(2, "big")
        else:
            head = bytes((b0, 127)) + need.to_bytes(8, "big")
        if not mask:
            return head
        start = whole - need - size  # (the payload offset of the rest's first byte)
        return bytes((head[0], head[1] | 0x80)) + head[2:] + _turned(mask, start)

    def describe(self, info: tuple) -> str:
        opcode = info[0]
        return f"a WebSocket {_NAMES.get(opcode, f'opcode {opcode}')} frame"


def _turned(mask: bytes, start: int) -> bytes:
    """A client frame's mask key as it applies from payload offset ``start`` on."""
    return bytes(mask[(start + i) % 4] for i in range(4))
