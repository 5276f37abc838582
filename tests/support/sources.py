"""Reading a WebSocketSource to its end, for the tests of the live reader."""

from __future__ import annotations

import asyncio

from ecq2pcap.sources.direct import DirectConnection
from ecq2pcap.sources.websocket import ConnectError, WebSocketSource


async def drain_until_the_end(src: WebSocketSource, timeout: float = 10) -> tuple[list, ConnectError]:
    """Every message a started source hands on until it ends with its error: (messages, error)."""
    got: list = []
    async with asyncio.timeout(timeout):
        while True:
            try:
                got += await src.get_batch(0.2)
            except ConnectError as exc:
                return got, exc


def receive_until_the_end(url: str, timeout: float = 10, **source_kw) -> tuple[WebSocketSource, list, ConnectError]:
    """A source on ``url`` read until it ends (within ``timeout`` seconds): (source, messages, error)."""
    async def run():
        src = WebSocketSource(url, **source_kw)
        async with src:
            got, exc = await drain_until_the_end(src, timeout)
        return src, got, exc

    return asyncio.run(run())


def opcodes_websockets_parsed(monkeypatch) -> list:
    """From now on (in this test), the opcode of every frame that reaches websockets' own path
    (``DirectConnection.process_event``), in order; None for an event that is no frame (the handshake's response)."""
    seen: list = []
    process_event = DirectConnection.process_event

    def recording(self, event):
        seen.append(getattr(event, "opcode", None))
        process_event(self, event)

    monkeypatch.setattr(DirectConnection, "process_event", recording)
    return seen
