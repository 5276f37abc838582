"""HTTP/2 and WebSocket frames as a peer writes them, for tests that build raw streams."""

from __future__ import annotations

import os

from hyperframe.frame import DataFrame, HeadersFrame


def h2_data(stream: int, payload: bytes, end: bool = False) -> bytes:
    """A DATA frame (END_STREAM with ``end``)."""
    f = DataFrame(stream)
    f.data = payload
    if end:
        f.flags.add("END_STREAM")
    return f.serialize()


def h2_headers(stream: int, block: bytes, end: bool = False) -> bytes:
    """A HEADERS frame holding a whole header block (END_HEADERS; END_STREAM with ``end``)."""
    f = HeadersFrame(stream)
    f.data = block
    f.flags.add("END_HEADERS")
    if end:
        f.flags.add("END_STREAM")
    return f.serialize()


def ws_frame(payload: bytes, opcode: int = 1, *, masked: bool, rsv1: bool = False, fin: bool = True,
             key: bytes | None = None) -> bytes:
    """A WebSocket frame, the length in its shortest form; ``masked`` (a client's) with ``key`` (random when
    None)."""
    n = len(payload)
    mask_bit = 0x80 if masked else 0
    head = bytes([(0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode])
    if n < 126:
        head += bytes([mask_bit | n])
    elif n < 65536:
        head += bytes([mask_bit | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([mask_bit | 127]) + n.to_bytes(8, "big")
    if not masked:
        return head + payload
    key = key if key is not None else os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))
