"""wss:// end to end: a websockets server with TLS on 127.0.0.1 (a self-signed certificate for 127.0.0.1 made for
these tests, tests/data/loopback_tls.pem), read by WebSocketSource as ``live`` reads it."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest
from websockets.asyncio.server import serve
from websockets.frames import Opcode

from ecq2pcap.sources.websocket import WebSocketSource
from tests.support.fake_ecapture import event_frame
from tests.support.recordings import message_of
from tests.support.sources import drain_until_the_end, opcodes_websockets_parsed

pytestmark = pytest.mark.live

PEM = Path(__file__).resolve().parent.parent / "data" / "loopback_tls.pem"
SIZES = [0, 100, 125, 126, 1000, 65535, 65536, 200_000]  # every length form, messages over many TLS records


async def _read(insecure: bool) -> tuple[list, Exception]:
    """(messages received, the source's error) from a wss:// server that sends one message of each SIZES and
    closes (1000)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(PEM)

    async def handler(ws):
        for i, size in enumerate(SIZES):
            await ws.send(event_frame(i, size))
        await ws.close()

    async with serve(handler, "127.0.0.1", 0, ssl=context) as server:
        port = server.sockets[0].getsockname()[1]
        async with WebSocketSource(f"wss://127.0.0.1:{port}/", insecure=insecure, retry_for=0) as src:
            return await drain_until_the_end(src)


def test_wss_messages_are_read_through_tls_by_the_readers_own_frame_reading(monkeypatch):
    """Every message arrives whole and in order over TLS, its frames read by DirectConnection itself (websockets'
    ``process_event`` sees no data frame), and the server's close ends the source."""
    parsed = opcodes_websockets_parsed(monkeypatch)
    got, error = asyncio.run(_read(insecure=True))
    assert [message_of(d).data for d in got] == [event_frame(i, size) for i, size in enumerate(SIZES)]
    assert Opcode.TEXT not in parsed and Opcode.BINARY not in parsed and Opcode.CLOSE in parsed
    assert error is not None and "1000" in str(error)


def test_wss_with_an_unverifiable_certificate_says_how_to_go_on():
    got, error = asyncio.run(_read(insecure=False))
    assert got == []
    assert "certificate verification failed" in str(error) and "--insecure" in str(error)
