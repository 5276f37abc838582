"""WebSocket messages in bounded memory: a message's bytes are held once, however many frames carry it."""

from __future__ import annotations

import tracemalloc

from ecq2pcap.model import Direction
from ecq2pcap.payloads.websocket import WebSocketParser

from .test_websocket import frame


def test_a_message_of_one_byte_continuation_frames_is_held_once():
    """RFC 6455 lets a message be sent as many one-byte continuation frames. Each was kept as its own bytes
    object until the last: ~85 bytes of memory a byte of message (a 40 MB message took 3.4 GB, within the
    default --max-ws-message-size)."""
    n = 200_000
    mask = b"\x01\x02\x03\x04"  # (a client's frames: each unmasked into its own bytes object)
    capture = frame(0, b"b", fin=False, mask=mask) * 5000
    p = WebSocketParser(None)
    out = p.feed(Direction.C2S, frame(1, b"a", fin=False, mask=mask), 1)
    tracemalloc.start()
    for i in range(n // 5000):
        out += p.feed(Direction.C2S, capture, 2 + i)
    held = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    out += p.feed(Direction.C2S, frame(0, b"z", mask=mask), 100)
    assert held < 4 * n  # (the bytes themselves, a buffer's spare room, a capture in hand; the pieces held ~40 n)
    (m,) = out
    assert m.text == "a" + "b" * n + "z" and m.errors == []
