"""Property-based differential fuzzing of the live reader's own frame reading (``sources/direct.py``): any stream
of frames a server may send, cut into reads anywhere, gives the consumer exactly what it gives when websockets
parses every frame itself (the reference): the same messages in the same order, the same oversized count and the
same error at the end. Each example is a loopback connection per path (127.0.0.1)."""

from __future__ import annotations

import struct
from itertools import cycle

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from websockets.asyncio.client import ClientConnection

from ecq2pcap.sources import websocket
from ecq2pcap.sources.direct import DirectConnection
from tests.support.raw_websocket import RawServer, end_sending, frame, handshake
from tests.support.recordings import message_of
from tests.support.sources import receive_until_the_end

pytestmark = pytest.mark.live

LIMITS = (3000, 100_000)  # the source's message size limit: 64-bit lengths over it, or read here

_sizes = st.one_of(st.integers(0, 300), st.sampled_from([125, 126, 127, 2999, 3000, 3001, 65535, 65536]))
_data = st.one_of(  # (text in ASCII: websockets' recv, the reference, closes on invalid UTF-8, which is kept here)
    st.builds(lambda size, fill: frame(1, bytes([fill]) * size), _sizes, st.integers(0x20, 0x7E)),
    st.builds(lambda size, fill: frame(2, bytes([fill]) * size), _sizes, st.integers(0, 255)))
_ping = st.builds(lambda n: frame(9, b"p" * n), st.integers(0, 125))
_odd = st.sampled_from([
    frame(2, b"x")[:1] + bytes([0x80 | 4]) + b"\x01\x02\x03\x04abcd",  # masked
    bytes([0x80 | 0x40 | 2, 3]) + b"abc",  # a reserved bit
    bytes([0x80 | 3, 3]) + b"abc",  # a reserved opcode
    frame(9, b"p" * 126),  # a control frame over 125 bytes
    bytes([9, 1]) + b"p",  # a fragmented control frame
    frame(0, b"abc"),  # a continuation without a start
    frame(1, b'{"a":', fin=False) + frame(9, b"p") + frame(0, b"1}"),  # a fragmented message
    frame(1, b"a" * 2000, fin=False) + frame(0, b"b" * 2000),  # ... over the smaller limit as a whole
    frame(8, struct.pack("!H", 1000)),  # a close frame
    frame(8, struct.pack("!H", 1001) + b"bye") + frame(1, b"after the close"),
    frame(2, b"a" * 300)[:150],  # the stream ends in a frame
    b"\x82",  # ... in a header
    b"\x82\x7f\x00",  # ... in a 64-bit length
])
_streams = st.tuples(st.lists(st.one_of(_data, _data, _data, _ping), max_size=12),
                     st.lists(_odd, max_size=2)).map(lambda t: b"".join(t[0] + t[1]))
_reads = st.lists(st.integers(1, 400), min_size=1, max_size=8)


def _outcome(stream: bytes, direct: bool, reads: list[int], limit: int) -> tuple:
    """What the consumer of a WebSocketSource gets from a server that sends ``stream`` and closes: (messages,
    oversized, the error without the URL). Each read the connection gets is cut into pieces of ``reads`` bytes."""
    with pytest.MonkeyPatch.context() as monkeypatch:  # (undone after each example)
        return _patched_outcome(stream, direct, reads, limit, monkeypatch)


def _patched_outcome(stream: bytes, direct: bool, reads: list[int], limit: int, monkeypatch) -> tuple:
    monkeypatch.setattr(websocket, "DIRECT", direct)
    cls = DirectConnection if direct else ClientConnection
    received = cls.data_received

    def in_pieces(self, data):
        sizes, i = cycle(reads), 0
        while i < len(data):
            n = next(sizes)
            received(self, data[i : i + n])
            i += n

    monkeypatch.setattr(cls, "data_received", in_pieces)

    def behave(conn):
        handshake(conn)
        conn.sendall(stream)
        end_sending(conn)

    with RawServer(behave) as server:
        # (60 s: websockets' own parser fed 64 KiB a few bytes at a time takes seconds, more on a loaded machine)
        src, got, exc = receive_until_the_end(server.url, 60, retry_for=0, max_message_size=limit)
    return [(message_of(d).data, d[1]) for d in got], src.oversized, str(exc).replace(server.url, "URL")


@given(stream=_streams, reads=_reads, limit=st.sampled_from(LIMITS))
@example(stream=frame(2, b"a" * 70000) + frame(9, b"ping") + frame(1, b"b"), reads=[1, 2, 3, 400], limit=100_000)
@example(stream=frame(1, b"") * 5 + frame(8, struct.pack("!H", 1000)), reads=[1], limit=3000)
def test_frames_read_here_give_what_websockets_gives(stream, reads, limit):
    assert _outcome(stream, True, reads, limit) == _outcome(stream, False, reads, limit)
