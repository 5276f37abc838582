"""sources/direct.py: messages taken from websockets' frames as they are parsed. Each test runs against a
hand-written server on 127.0.0.1, through the short path (``DIRECT``) and, where the two must agree, through
websockets' own ``recv`` as well."""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from types import SimpleNamespace

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.frames import Opcode
from websockets.protocol import State
from websockets.typing import Origin

from ecq2pcap.sources import websocket
from ecq2pcap.sources.direct import DirectConnection, frames_readable
from ecq2pcap.sources.websocket import DEFAULT_ORIGIN, WebSocketSource
from tests.support.fake_ecapture import FakeECapture, event_frame
from tests.support.raw_websocket import RawServer, end_sending, frame, handshake
from tests.support.recordings import message_of
from tests.support.sources import opcodes_websockets_parsed, receive_until_the_end

pytestmark = pytest.mark.live

TEXT, BINARY, CONT, PING = 1, 2, 0, 9
_TEXT_OR_BINARY = {Opcode.TEXT, Opcode.BINARY}


def _receive(url: str, n: int) -> tuple[WebSocketSource, list]:
    async def run():
        src = WebSocketSource(url, retry_for=0)
        async with src:
            got = []
            async with asyncio.timeout(10):
                while len(got) < n and src.error is None:
                    got += await src.get_batch(0.5, limit=n - len(got))
            return src, got

    return asyncio.run(run())


def _serve(frames: bytes, *, with_handshake: bool = False):
    def behave(conn):
        if with_handshake:
            handshake(conn, then=frames)
        else:
            handshake(conn)
            conn.sendall(frames)
        time.sleep(0.5)
    return RawServer(behave)


def test_the_short_path_is_the_one_taken_with_this_websockets(monkeypatch):
    """With DIRECT, no message goes through websockets' recv (``_deliver``): if a websockets release stopped
    calling ``process_event``, this fails, while the messages would still arrive by the fallback."""
    frames = [event_frame(i, binary=i % 2 == 0) for i in range(50)]  # (text ones: str)
    raw = [f.encode() if isinstance(f, str) else f for f in frames]
    recv_path = []
    deliver = WebSocketSource._deliver
    monkeypatch.setattr(WebSocketSource, "_deliver", lambda self, data: recv_path.append(data) or deliver(self, data))
    for direct in (True, False):
        recv_path.clear()
        monkeypatch.setattr(websocket, "DIRECT", direct)
        with FakeECapture(script=frames) as fake:
            _, got = _receive(fake.url, len(frames))
        assert [message_of(d).data for d in got] == raw
        assert [binary for _, binary, *_ in got] == [i % 2 == 0 for i in range(50)]
        assert len(recv_path) == (0 if direct else len(frames))


@pytest.mark.usefixtures("both_reader_paths")
def test_fragmented_messages_arrive_whole_and_in_order():
    """RFC 6455 lets a message come in fragments, with control frames (a ping) between them."""
    stream = (frame(TEXT, b'{"a":', fin=False) + frame(PING, b"p") + frame(CONT, b'"b"', fin=False)
              + frame(CONT, b"}") + frame(BINARY, b"\x01\x02", fin=False) + frame(CONT, b"\x03")
              + frame(TEXT, b"whole"))
    with _serve(stream) as server:
        _, got = _receive(server.url, 3)
    assert [(message_of(d).data, binary) for d in got for binary in [d[1]]] == [
        (b'{"a":"b"}', False), (b"\x01\x02\x03", True), (b"whole", False)]


@pytest.mark.usefixtures("both_reader_paths")
def test_messages_that_come_with_the_handshake_response_are_the_first_of_their_connection():
    """Frames in the same write as the 101 response are parsed before ``connect`` hands the connection over:
    they wait for the source, then come first, numbered from 1 on this connection."""
    frames = [event_frame(i) for i in range(5)]
    with _serve(b"".join(frame(BINARY, f) for f in frames), with_handshake=True) as server:
        src, got = _receive(server.url, 5)
    assert [message_of(d).data for d in got] == frames
    assert [message_of(d).origin for d in got] == [f"{server.url}#{i}" for i in range(1, 6)]
    assert src.connections == 1 and not any(replayed for *_, replayed in got)


def test_text_that_is_not_utf8_is_kept_as_received(monkeypatch):
    """The short path hands text on as its bytes: a frame with invalid UTF-8 arrives as sent, and so does
    what follows (websockets' recv would close the connection with code 1007 and lose the rest)."""
    bad = b'{"log_type":2,"payload":"\xff\xfe"}'
    with _serve(frame(TEXT, bad) + frame(TEXT, b"next")) as server:
        _, got = _receive(server.url, 2)
    assert [(message_of(d).data, d[1]) for d in got] == [(bad, False), (b"next", False)]


@pytest.mark.usefixtures("both_reader_paths")
def test_a_failure_while_taking_a_message_stops_the_source_loudly(monkeypatch):
    """A bug met while queueing a message (here: on the 3rd) is not swallowed with the connection: the
    consumer gets the messages before it, then the source's error naming it, on both paths. (The frames come
    after the handshake, so that the short path meets the bug in websockets' data_received.)"""
    frames = [event_frame(i) for i in range(5)]

    def behave(conn):
        handshake(conn)
        time.sleep(0.3)
        conn.sendall(b"".join(frame(BINARY, f) for f in frames))
        time.sleep(1)

    received = WebSocketSource._received

    def failing(self, raw, binary):
        if self.messages == 2:
            raise ZeroDivisionError("a bug")
        received(self, raw, binary)

    monkeypatch.setattr(WebSocketSource, "_received", failing)

    with RawServer(behave) as server:
        _, got, exc = receive_until_the_end(server.url, retry_for=None)
    assert [message_of(d).data for d in got] == frames[:2]
    assert "the WebSocket reader failed" in str(exc) and "ZeroDivisionError('a bug')" in str(exc)


@pytest.mark.usefixtures("both_reader_paths")
def test_a_fragmented_message_over_the_limit_is_refused_as_a_whole_one_is():
    """The size limit counts a fragmented message whole (websockets' parser checks it across fragments):
    refused with code 1009, counted, never handed on; the message before it arrives."""
    stream = frame(TEXT, b"small") + frame(TEXT, b"a" * 3000, fin=False) + frame(CONT, b"b" * 3000)

    with _serve(stream) as server:  # (retry_for=0: the source ends with the connection)
        src, got, exc = receive_until_the_end(server.url, retry_for=0, max_message_size=4096)
    assert [message_of(d).data for d in got] == [b"small"]
    assert src.oversized == 1 and "over 4096 bytes" in str(exc) and "1009" in str(exc)


def test_pongs_still_reach_websockets_so_keepalive_holds():
    """Control frames take websockets' own path: its keepalive pings get their pongs acknowledged and the
    connection stays open (were a pong swallowed, it would close with 1011 once the ping timed out)."""
    got = []

    async def run(url):
        async with connect(url, origin=Origin(DEFAULT_ORIGIN), ping_interval=0.05, ping_timeout=0.3,
                           create_connection=DirectConnection) as ws:
            ws.attach(lambda data, binary: got.append(data))
            await asyncio.sleep(1.2)  # (four ping timeouts)
            return ws.state.name, ws.latency

    with FakeECapture(script=[event_frame(0)], heartbeat_s=0.1) as fake:
        state, latency = asyncio.run(run(fake.url))
    assert state == "OPEN" and latency > 0  # (latency: measured from an acknowledged pong)
    assert got and got[0] == event_frame(0)


# -- frames read by DirectConnection itself (data_received), websockets' own path as the reference

def _pieces(data: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *sorted(set(c for c in cuts if 0 < c < len(data))), len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:])]


def _sent_in_pieces(pieces: list[bytes], then=None):
    """A server that sends each piece in a write of its own, a little apart (the client reads them one by one),
    runs ``then(conn)``, and ends (:func:`~tests.support.raw_websocket.end_sending`)."""
    def behave(conn):
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        handshake(conn)
        for piece in pieces:
            conn.sendall(piece)
            time.sleep(0.002)
        if then is not None:
            then(conn)
        end_sending(conn)
    return RawServer(behave)


def _client_frame(data: bytes) -> tuple[int, bytes]:
    """(first byte, unmasked payload) of the first client→server frame (masked, payload < 126 bytes) in ``data``."""
    size, key = data[1] & 0x7F, data[2:6]
    return data[0], bytes(b ^ key[i % 4] for i, b in enumerate(data[6 : 6 + size]))


def test_frames_cut_anywhere_are_read_here_whole_and_in_order(monkeypatch):
    """Once the handshake is done, DirectConnection reads eCapture's frames itself: every length form (7-bit,
    16-bit, 64-bit), empty and 70 KB messages, each cut in its header, in its extended length and in its payload,
    come out whole and in order; none goes through websockets' parser (``process_event`` sees no data frame);
    a ping in between still reaches websockets, which answers it."""
    sizes = [0, 1, 125, 126, 127, 1000, 65535, 65536, 70000]
    messages = [(bytes([65 + i % 26]) * size, i % 2 == 0) for i, size in enumerate(sizes)]
    stream, cuts = b"", []
    for i, (data, binary) in enumerate(messages):
        f = frame(BINARY if binary else TEXT, data)
        head = 2 if len(data) < 126 else 4 if len(data) < 1 << 16 else 10
        cuts += [len(stream) + 1, len(stream) + head - 1, len(stream) + head + len(data) // 2]
        stream += f
        if i == 4:
            stream += frame(PING, b"are you there")
    parsed = opcodes_websockets_parsed(monkeypatch)
    answer = []
    with _sent_in_pieces(_pieces(stream, cuts), then=lambda conn: answer.append(conn.recv(4096))) as server:
        _, got = _receive(server.url, len(messages))
    assert [(message_of(d).data, d[1]) for d in got] == messages
    assert _TEXT_OR_BINARY.isdisjoint(parsed) and Opcode.PING in parsed  # (the ping: websockets answers it)
    assert _client_frame(answer[0]) == (0x8A, b"are you there")  # a pong with the ping's payload


BROKEN_STREAMS = {
    "a masked frame": frame(BINARY, b"x")[:1] + bytes([0x80 | 4]) + b"\x00\x00\x00\x00" + b"abcd",
    "reserved bits set": bytes([0x80 | 0x40 | BINARY, 3]) + b"abc",
    "a reserved opcode": bytes([0x80 | 3, 3]) + b"abc",
    "a control frame over 125 bytes": frame(PING, b"p" * 200),
    "a fragmented control frame": bytes([PING, 1]) + b"p",
    "a continuation without a start": frame(CONT, b"abc"),
    "a frame over the size limit": frame(TEXT, b"a" * 5000),
    "the end in a frame's header": frame(BINARY, b"a" * 300)[:3],
    "the end in a frame's payload": frame(BINARY, b"a" * 300)[:100],
    "a close frame": frame(8, struct.pack("!H", 1001) + b"going away") + frame(TEXT, b"after close"),
}


@pytest.mark.parametrize("case", list(BROKEN_STREAMS))
def test_what_is_not_a_plain_frame_ends_as_websockets_ends_it(case, monkeypatch):
    """Frames DirectConnection does not read itself go to websockets from there on: the messages before them
    arrive, and the connection ends with websockets' own error (close code and reason), as it does when
    websockets reads every frame (``DIRECT`` off: the reference)."""
    stream = frame(TEXT, b"before") + BROKEN_STREAMS[case]
    outcomes = []
    for direct in (True, False):
        monkeypatch.setattr(websocket, "DIRECT", direct)
        with _sent_in_pieces([stream]) as server:
            src, got, exc = receive_until_the_end(server.url, retry_for=0, max_message_size=4096)
        outcomes.append(([message_of(d).data for d in got], src.oversized, str(exc).replace(server.url, "URL")))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0] == [b"before"]


@pytest.mark.parametrize("cut", [3, 100], ids=["in its header", "in its payload"])
def test_a_stream_that_ends_in_a_frame_reads_as_websockets_reads_it(cut):
    """A frame whose bytes wait here for the rest goes to websockets when the stream ends: its parser meets the
    same truncated frame (the same error behind the 1006 close) as when it reads every frame itself."""
    async def run(url, connection_class):
        async with connect(url, origin=Origin(DEFAULT_ORIGIN), create_connection=connection_class) as ws:
            if connection_class is DirectConnection:
                ws.attach(lambda data, binary: None)
            await asyncio.sleep(0.6)
            return repr(ws.protocol.parser_exc)

    errors = []
    for connection_class in (DirectConnection, ClientConnection):
        with _sent_in_pieces([frame(TEXT, b"before"), frame(BINARY, b"a" * 300)[:cut]]) as server:
            errors.append(asyncio.run(run(server.url, connection_class)))
    assert errors[0] == errors[1] and "EOFError" in errors[0]


def test_frames_are_read_here_only_where_websockets_keeps_what_this_reads():
    """Without websockets' size limit where this reads it (a later release might move it), with an extension
    negotiated, a fragment limit, or a connection not open, websockets reads every frame."""
    usual = dict(state=State.OPEN, extensions=[], max_fragment_size=None, max_message_size=4096)
    assert frames_readable(SimpleNamespace(**usual)) == (True, 4096)
    assert frames_readable(SimpleNamespace(**{**usual, "max_message_size": None})) == (True, None)
    for change in ({"state": State.CLOSING}, {"extensions": ["permessage-deflate"]}, {"max_fragment_size": 100}):
        assert frames_readable(SimpleNamespace(**{**usual, **change})) == (False, None)
    for missing in usual:
        assert frames_readable(SimpleNamespace(**{k: v for k, v in usual.items() if k != missing})) == (False, None)
