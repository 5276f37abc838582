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

Frames read here (``data_received``). websockets' frame parser (a generator fed each read's bytes) was ~45 % of
what reading a message costs, and eCapture drops a reader that falls 256 messages behind. Once the opening
handshake is done, the bytes after the 101 response are read here frame by frame, from a frame's start:
what eCapture sends, each message one unfragmented, unmasked text or binary frame within the size limit, is
cut out and handed on directly. Anything else takes websockets' own path, fed the frame's own bytes: a control
frame (a ping, a pong: keepalive as before), and then frames go on being read here; or a close frame, a
fragment, a masked frame, reserved bits or opcodes, a frame over the size limit, any frame once the connection
is no longer open: then that frame and everything after it go to websockets, which parses them as it always did
(close codes, 1009, protocol errors: its own). A frame not whole yet waits here (its bytes kept until it is),
and goes to websockets if the stream ends first, so an abrupt end reads as it did. This too is an acceleration:
it takes the bytes from asyncio's ``data_received`` (the protocol callback websockets implements) and reads
websockets' protocol state and size limit where :func:`frames_readable` looks; were they elsewhere, websockets
would read every frame.
"""

from __future__ import annotations

from collections.abc import Callable

from websockets.asyncio.client import ClientConnection
from websockets.frames import Opcode
from websockets.protocol import State

_TEXT, _BINARY, _CONT = Opcode.TEXT, Opcode.BINARY, Opcode.CONT
_OPEN = State.OPEN
_WHOLE_TEXT, _WHOLE_BINARY = 0x81, 0x82  # a frame's first byte: FIN, no reserved bits, text / binary
_CLOSE, _CONTROL = 0x88, (0x88, 0x89, 0x8A)  # ... FIN, close; close / ping / pong
HEAD_LIMIT = 64 << 10  # a handshake response longer than this: frames are left to websockets

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

    _frames_here: bool | None = None  # frames read here (True), by websockets (False), not decided yet (None)
    _head = b""  # what came before the handshake response's end was seen
    _pending: bytearray | None = None  # a frame's bytes so far, while it is not whole
    _need = 0  # ... how many it needs before it is looked at again
    _limit: int | None = None  # the size limit of a message (websockets' max_size)

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

    # -- frames read here

    def data_received(self, data: bytes) -> None:  # (asyncio's protocol callback: each read's bytes)
        if self._frames_here:
            self._frames(data)
        elif self._frames_here is None:
            self._handshake_data(data)
        else:
            super().data_received(data)

    def eof_received(self):
        if self._pending is not None:  # (a frame cut short: websockets sees it, as before)
            self._give_back(bytes(self._pending))
        return super().eof_received()

    def _handshake_data(self, data: bytes) -> None:
        """Bytes before the first frame: the handshake response goes to websockets; what follows its end (in
        the same read) is the first frames."""
        seen = self._head + data
        end = seen.find(b"\r\n\r\n")
        if end < 0:
            self._head = seen
            if len(seen) > HEAD_LIMIT:
                self._frames_here, self._head = False, b""
            super().data_received(data)
            return
        cut = end + 4 - len(self._head)  # (in data: the head before it has no blank line)
        self._head = b""
        super().data_received(data[:cut])
        self._frames_here, self._limit = frames_readable(self.protocol)
        if cut < len(data):
            self.data_received(data[cut:])

    def _frames(self, data: bytes) -> None:
        """Whole text and binary frames handed on, from the start of ``data`` (a frame's start, or the rest of
        the pending one's)."""
        pending = self._pending
        if pending is not None:
            pending += data
            if len(pending) < self._need:
                return
            data, self._pending = bytes(pending), None
        if self.protocol.state is not _OPEN:
            self._give_back(data)
            return
        limit = self._limit
        n, i = len(data), 0
        while i < n:
            if n - i < 2:
                return self._keep(data, i, 2)
            first, size = data[i], data[i + 1]
            if size < 126:
                start = i + 2
            elif size == 126:
                if n - i < 4:
                    return self._keep(data, i, 4)
                size, start = data[i + 2] << 8 | data[i + 3], i + 4
            elif size == 127:
                if n - i < 10:
                    return self._keep(data, i, 10)
                size, start = int.from_bytes(data[i + 2 : i + 10], "big"), i + 10
            else:  # (a masked frame: the second byte's high bit)
                return self._give_back(data[i:])
            end = start + size
            if first == _WHOLE_BINARY or first == _WHOLE_TEXT:
                if limit is not None and size > limit:
                    return self._give_back(data[i:])  # (websockets refuses it: 1009)
                if end > n:
                    return self._keep(data, i, end - i)
                self._message(data[start:end], first == _WHOLE_BINARY)
            elif first in _CONTROL and size <= 125:
                if end > n:
                    return self._keep(data, i, end - i)
                super().data_received(data[i:end])
                if first == _CLOSE or self.protocol.state is not _OPEN:
                    return self._give_back(data[end:])
            else:  # fragments, reserved bits or opcodes: websockets' to judge
                return self._give_back(data[i:])
            i = end

    def _keep(self, data: bytes, start: int, need: int) -> None:
        """The frame at ``start`` is not whole: its bytes wait until at least ``need`` of them came."""
        self._pending, self._need = bytearray(memoryview(data)[start:]), need

    def _give_back(self, rest: bytes) -> None:
        """From here on websockets reads the frames, starting with ``rest``."""
        self._frames_here, self._pending = False, None
        if rest:
            super().data_received(rest)

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


def frames_readable(protocol) -> tuple[bool, int | None]:
    """Whether frames can be read here once websockets' ``protocol`` is done with the handshake, and the message
    size limit they are read with: only when the connection is open, without extensions or a fragment limit,
    and websockets still keeps its limit where this reads it (else websockets reads every frame, as before)."""
    limit = getattr(protocol, "max_message_size", False)
    readable = (limit is not False and getattr(protocol, "state", None) is _OPEN
                and getattr(protocol, "extensions", None) == [] and getattr(protocol, "max_fragment_size", 0) is None)
    return readable, limit if readable else None


def _bytes(data) -> bytes:
    return data if data.__class__ is bytes else bytes(data)


__all__ = ["DirectConnection", "OnMessage", "frames_readable"]
