"""A real WebSocket server on loopback that behaves like eCapture's eCaptureQ endpoint.

Runs its own event loop in a background thread (as eCapture is another process),
so a client under test may block its own thread without blocking the server.

Like eCapture (protocol doc §1): answers 403 to a handshake without an Origin
header; replays the cached startup logs first on every connection; sends heartbeats
(60 s like ≤ v1.4.3, or 15 s plus one at once like v1.5+; both configurable); gives
each client a bounded queue (256) filled with ``put_nowait`` and disconnects a
client whose queue overflows. For tests it can also drop connections abruptly,
restart on the same port, and send scripted streams or bursts.

A frame is ``str`` (sent as a text frame) or ``bytes`` (a binary frame).
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from http import HTTPStatus
from pathlib import Path

from websockets.asyncio.server import Server, ServerConnection, serve

Frame = str | bytes
Script = Sequence[Frame] | Callable[[int], Sequence[Frame]]
_CLOSE = object()
_PATTERN = bytes(range(256))


# -- building eCapture messages


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(num: int, wire: int, payload: bytes) -> bytes:
    key = _varint(num << 3 | wire)
    return key + (_varint(len(payload)) + payload if wire == 2 else payload)


def heartbeat_frame(count: int, binary: bool, timestamp: int | None = None) -> Frame:
    """A heartbeat as v1.4.0–1.4.2 (JSON text) or v1.4.3+ (protobuf binary) sends it."""
    ts = int(time.time()) if timestamp is None else timestamp
    text = f"heartbeat:{count}"
    if not binary:
        return json.dumps({"log_type": 0, "payload": {"timestamp": ts, "count": count, "message": text}},
                          separators=(",", ":"))
    hb = _field(1, 0, _varint(ts)) + (_field(2, 0, _varint(count)) if count else b"") + _field(3, 2, text.encode())
    return _field(3, 2, hb)


def log_frame(line: str, binary: bool) -> Frame:
    """A process log (a zerolog JSON line) as JSON text or protobuf ``run_log``."""
    if not binary:
        return json.dumps({"log_type": 1, "payload": json.loads(line)}, separators=(",", ":"))
    return _field(1, 0, b"\x01") + _field(4, 2, (line.rstrip("\n") + "\n").encode())


def event_frame(n: int, size: int = 100, binary: bool = True) -> Frame:
    """An opaque event-like frame of ``size`` bytes numbered ``n`` (not decodable: for transport tests)."""
    head = b"\x08\x02\x12" + f"event {n:08d} ".encode()
    rest = max(0, size - len(head))
    start = n & 0xFF
    body = head + (_PATTERN * (rest // 256 + 2))[start:start + rest]
    return body if binary else body.decode("latin-1")


def load_frames(path: str | Path) -> tuple[list[Frame], list[Frame]]:
    """A samples ``*.frames.jsonl.gz`` file as (startup-log replay, the rest of the stream)."""
    replay, timed = load_timed_frames(path)
    return replay, [frame for _, frame in timed]


def load_timed_frames(path: str | Path) -> tuple[list[Frame], list[tuple[float, Frame]]]:
    """Like :func:`load_frames`, with each stream frame's recorded send time (seconds)."""
    replay: list[Frame] = []
    stream: list[tuple[float, Frame]] = []
    with gzip.open(path, "rb") as f:
        for line in f:
            d = json.loads(line)
            data = base64.b64decode(d["data_b64"])
            frame: Frame = data.decode("utf-8") if d["opcode"] == "text" else data
            if d.get("k") == "replay":
                replay.append(frame)
            else:
                stream.append((float(d.get("t") or 0.0), frame))
    return replay, stream


# -- the server


class _Client:
    def __init__(self, ws: ServerConnection, index: int, size: int) -> None:
        self.ws = ws
        self.index = index
        self.queue: asyncio.Queue = asyncio.Queue(size)
        self.sent = 0


class FakeECapture:
    """eCapture's eCaptureQ server, on 127.0.0.1 (port 0 = a free one).

    ``replay``: startup logs sent first on every connection. ``script``: frames sent
    to each new connection after the replay (or a function of the connection index,
    0-based), at ``rate`` frames per second like eCapture's producer, dropping a
    client that falls ``queue_size`` behind (None: as fast as the client reads,
    never dropping it).
    ``heartbeat_s``: heartbeat period (None: none); ``immediate_heartbeat``: one at
    once on connect (v1.5+); ``binary``: heartbeat format; ``max_heartbeats``: per
    connection, then silence. ``drop_after``: abort the *first* connection after
    that many frames were sent on it (no close frame). ``queue_size``: per-client
    queue; a client that lets it overflow is disconnected (``slow_drops``).
    ``at``: send times of the script's frames (seconds after the replay), instead of
    ``rate``. ``close_after_script``: close each connection once its script was sent
    (eCapture exiting), so a client knows it has everything.
    """

    def __init__(
        self,
        *,
        replay: Iterable[Frame] = (),
        script: Script = (),
        rate: float | None = None,
        heartbeat_s: float | None = None,
        immediate_heartbeat: bool = False,
        binary: bool = True,
        max_heartbeats: int | None = None,
        drop_after: int | None = None,
        queue_size: int = 256,
        port: int = 0,
        at: Sequence[float] | None = None,
        close_after_script: bool = False,
    ) -> None:
        self.replay = list(replay)
        self.script = script
        self.rate = rate
        self.heartbeat_s = heartbeat_s
        self.immediate_heartbeat = immediate_heartbeat
        self.binary = binary
        self.max_heartbeats = max_heartbeats
        self.drop_after = drop_after
        self.queue_size = queue_size
        self.port = port
        self.at = list(at) if at is not None else None
        self.close_after_script = close_after_script
        # observations (read them from the test thread)
        self.connections = 0  # accepted WebSocket connections
        self.rejected = 0  # handshakes answered with 403
        self.slow_drops = 0  # clients disconnected for falling behind
        self.origins: list[str | None] = []
        self.scripts_done = 0  # connections whose script was fully queued
        self._clients: set[_Client] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: Server | None = None

    # -- thread and loop

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    def start(self) -> "FakeECapture":
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self._listen())
            ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

        self._thread = threading.Thread(target=run, name="fake-ecapture", daemon=True)
        self._thread.start()
        if not ready.wait(5):
            raise RuntimeError("fake eCapture did not start")
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._thread = None

    def __enter__(self) -> "FakeECapture":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _call(self, coro, timeout: float = 10):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    # -- test controls (thread-safe)

    def broadcast(self, frames: Iterable[Frame]) -> None:
        """Queue frames for every connected client (like eCapture's hub)."""
        self._call(self._broadcast(list(frames)))

    def drop_all(self) -> None:
        """Abort every connection without a close frame (like a crash or a network cut)."""
        self._call(self._drop_all())

    def restart(self, down_s: float = 0.2, replay: Iterable[Frame] | None = None) -> None:
        """Stop listening, drop clients, wait ``down_s``, listen again on the same port."""
        if replay is not None:
            self.replay = list(replay)
        self._call(self._restart(down_s))

    def shutdown(self) -> None:
        """Stop listening and drop clients (eCapture exits); :meth:`stop` still ends the thread."""
        self._call(self._shutdown())

    @property
    def clients(self) -> int:
        return len(self._clients)

    def wait_clients(self, n: int = 1, timeout: float = 5.0) -> bool:
        """Wait until at least ``n`` clients are connected."""
        deadline = time.monotonic() + timeout
        while len(self._clients) < n:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def wait_connections(self, n: int, timeout: float = 5.0) -> bool:
        """Wait until ``n`` connections in total have been accepted."""
        deadline = time.monotonic() + timeout
        while self.connections < n:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    # -- inside the loop

    async def _listen(self) -> None:
        self._server = await serve(
            self._handler, "127.0.0.1", self.port,
            process_request=self._check_origin, compression=None, max_size=None,
        )
        self.port = self._server.sockets[0].getsockname()[1]

    def _check_origin(self, connection: ServerConnection, request):
        origin = request.headers.get("Origin")
        self.origins.append(origin)
        if origin is None:  # x/net/websocket's checkOrigin: "null origin"
            self.rejected += 1
            return connection.respond(HTTPStatus.FORBIDDEN, "Forbidden\n")
        return None

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close(close_connections=False)
            await self._drop_all()
            await self._server.wait_closed()
            self._server = None

    async def _restart(self, down_s: float) -> None:
        await self._shutdown()
        await asyncio.sleep(down_s)
        await self._listen()

    async def _drop_all(self) -> None:
        for client in list(self._clients):
            await _abort(client.ws)

    async def _broadcast(self, frames: list[Frame]) -> None:
        for frame in frames:
            for client in list(self._clients):
                self._put(client, frame)

    def _put(self, client: _Client, frame: object) -> bool:
        try:
            client.queue.put_nowait(frame)
            return True
        except asyncio.QueueFull:  # eCapture's hub: close the slow client's channel
            if client in self._clients:
                self._clients.discard(client)
                self.slow_drops += 1
                client.ws.transport.abort()
            return False

    async def _handler(self, ws: ServerConnection) -> None:
        client = _Client(ws, self.connections, self.queue_size)
        self.connections += 1
        self._clients.add(client)
        for frame in self.replay:
            self._put(client, frame)
        reader, writer = asyncio.create_task(self._reader(ws)), asyncio.create_task(self._writer(client))
        tasks = [reader, writer, asyncio.create_task(self._play(client))]
        if self.heartbeat_s is not None:
            tasks.append(asyncio.create_task(self._heartbeats(client)))
        try:  # until the client goes away or the writer gives up on it
            await asyncio.wait([reader, writer], return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._clients.discard(client)
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _reader(self, ws: ServerConnection) -> None:
        try:
            async for _ in ws:  # eCapture reads and ignores what clients send
                pass
        except Exception:  # noqa: BLE001 - the connection broke
            pass

    async def _writer(self, client: _Client) -> None:
        ws = client.ws
        try:
            while True:
                frame = await client.queue.get()
                if frame is _CLOSE:
                    return
                await ws.send(frame)
                client.sent += 1
                if self.drop_after is not None and client.index == 0 and client.sent >= self.drop_after:
                    await _abort(ws)
                    return
        except Exception:  # noqa: BLE001 - the client went away
            return

    async def _play(self, client: _Client) -> None:
        frames = self.script(client.index) if callable(self.script) else self.script
        start = asyncio.get_running_loop().time()
        for i, frame in enumerate(frames):
            if client not in self._clients:
                return
            if self.at is not None:  # a recorded pace
                delay = start + self.at[i] - asyncio.get_running_loop().time()
                if delay > 0:
                    await asyncio.sleep(delay)
            if self.rate is None:  # reliable: wait for queue space (never drops the client)
                await client.queue.put(frame)
                continue
            if not self._put(client, frame):  # eCapture-like producer with a fixed rate
                return
            if i % 32 == 31:
                await asyncio.sleep(32 / self.rate)
        self.scripts_done += 1
        if self.close_after_script and client in self._clients:
            await client.queue.put(_CLOSE)

    async def _heartbeats(self, client: _Client) -> None:
        count = 0
        if not self.immediate_heartbeat:
            await asyncio.sleep(self.heartbeat_s)
        while self.max_heartbeats is None or count < self.max_heartbeats:
            if not self._put(client, heartbeat_frame(count, self.binary)):
                return
            count += 1
            await asyncio.sleep(self.heartbeat_s)


async def _abort(ws: ServerConnection) -> None:
    """Close the TCP connection without a WebSocket close frame, once what was sent
    has reached the kernel (so tests know exactly what the client can still read)."""
    transport = ws.transport
    for _ in range(1000):
        if transport.is_closing() or not transport.get_write_buffer_size():
            break
        await asyncio.sleep(0.001)
    transport.abort()
