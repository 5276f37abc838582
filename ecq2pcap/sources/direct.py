"""A websockets client connection that hands each message on as soon as its frames are parsed.

websockets' ``recv()`` (and ``async for message in connection``) queues every frame in an assembler,
wakes the reading task, and decodes text frames to ``str``: ~2.7 µs per message on top of parsing, about
a third of what reading eCapture costs per message. Measured on a 2-CPU VM with a 100k-message burst of
~600-byte messages: ``async for`` read 125–128k messages/s, this connection 190–195k (bench/README.md).

:class:`DirectConnection` is the client's documented extension point (``connect(create_connection=...)``)
with one method overridden: ``process_event``, which websockets calls for each parsed frame. Data frames
(fragmented messages reassembled) go to ``on_message(data, binary)``; everything else (the handshake's
response, pings, pongs, close frames) takes websockets' own path, so keepalive, close codes and the
message size limit (checked by the parser, across fragments) are websockets' as before.

``process_event`` is not in websockets' documentation, so this is an acceleration, never a dependency: the
reader still runs ``async for`` over the connection. Were a websockets release to stop calling
``process_event``, its messages would come out of that loop instead (``DirectConnection.direct`` counts
what took the short path; tests run the source both ways).

Text frames are handed on as their bytes, undecoded: the dialects read bytes, and a frame with invalid
UTF-8 is kept as received (websockets' ``recv`` would close the connection with code 1007, and whatever
eCapture sent until the reconnect would be lost).

Should ``on_message`` raise (a bug), the connection is aborted and the exception kept in ``failure``: the
source raises it where ``recv`` would have, and the consumer is told the reader failed, as on the other path.
"""

from __future__ import annotations

from collections.abc import Callable

from websockets.asyncio.client import ClientConnection
from websockets.frames import Opcode

_TEXT, _BINARY, _CONT = Opcode.TEXT, Opcode.BINARY, Opcode.CONT

OnMessage = Callable[[bytes, bool], None]
"""``on_message(data, binary)``: one whole message; ``binary``: a binary message (else text, as UTF-8 bytes)."""


class DirectConnection(ClientConnection):
    """A :class:`~websockets.asyncio.client.ClientConnection` whose data messages go to ``on_message``.

    Messages parsed before :meth:`attach` (frames may come with the handshake's response, before
    ``connect`` hands the connection over) wait, and are handed on first, in order.
    """

    direct = 0  # messages handed on by process_event
    failure: Exception | None = None  # what on_message raised (the connection was then aborted)
    _on_message: OnMessage | None = None
    _early: list[tuple[bytes, bool]] | None = None  # messages before attach
    _parts: list[bytes] | None = None  # a fragmented message so far
    _binary = False  # ... and whether it is binary

    def attach(self, on_message: OnMessage) -> None:
        """From now on (and for the messages that came before), hand messages to ``on_message``."""
        early, self._early = self._early or (), None
        self._on_message = on_message
        for data, binary in early:
            on_message(data, binary)

    def process_event(self, event) -> None:  # (websockets' hook, called for each parsed event)
        opcode = getattr(event, "opcode", None)  # (the handshake's Response has none)
        if opcode is _TEXT or opcode is _BINARY:
            if event.fin:
                self._message(_bytes(event.data), opcode is _BINARY)
            else:
                self._parts, self._binary = [_bytes(event.data)], opcode is _BINARY
        elif opcode is _CONT and self._parts is not None:
            self._parts.append(_bytes(event.data))
            if event.fin:
                data, self._parts = b"".join(self._parts), None
                self._message(data, self._binary)
        else:
            super().process_event(event)

    def _message(self, data: bytes, binary: bool) -> None:
        if self.failure is not None:
            return
        self.direct += 1
        if self._on_message is not None:
            try:
                self._on_message(data, binary)
            except Exception as exc:  # (raised in websockets' data_received it would only drop the connection)
                self.failure = exc
                self.transport.abort()
        elif self._early is None:
            self._early = [(data, binary)]
        else:
            self._early.append((data, binary))


def _bytes(data) -> bytes:
    return data if data.__class__ is bytes else bytes(data)


__all__ = ["DirectConnection", "OnMessage"]
