"""The live source: eCapture's eCaptureQ WebSocket as a stream of messages.

The event loop reads the socket and appends every message, as its frames are parsed
(:mod:`.direct`), to a :class:`~.backlog.Backlog` (memory up to a limit, then a temporary
file), as a plain tuple (:data:`~.backlog.Delivery`); the consumer takes them in batches
(:meth:`WebSocketSource.get_batch`). The reader never waits on the consumer, because eCapture
disconnects a client that falls 256 messages behind (protocol doc §1.7). A consumer that does
slow, blocking work should do it off the event loop (``asyncio.to_thread``), as
:mod:`ecq2pcap.live` does.

Beside it: :mod:`.connecting` (reconnect delays, and what a failed or ended connection is said to be),
:mod:`.direct` (websockets' connection that hands messages on), :mod:`.replay` (startup logs eCapture replays on every
connection, §1.6) and :mod:`.watchdog` (warns when heartbeats stop, §1.5).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.typing import Origin

from ..dialects.cheap import is_heartbeat
from ..limits import DEFAULT_LIMITS, limit_note
from .backlog import DEFAULT_MEMORY, Backlog, Delivery
from .connecting import (BRIEF_S, DEFAULT_ORIGIN, PING_INTERVAL_S, PING_TIMEOUT_S, Backoff, ConnectError,
                         check_url, close_reason, describe, fatal_error, ssl_context)
from .direct import DirectConnection
from .replay import ReplayFilter
from .watchdog import HeartbeatWatchdog

SECOND = 1_000_000_000
MAX_BATCH = 2000
DIRECT = True  # messages taken from websockets' frames as they are parsed (.direct); False: only its recv()

__all__ = ["DEFAULT_ORIGIN", "MAX_BATCH", "ConnectError", "Delivery", "WebSocketSource", "check_url"]

Status = Callable[[str, str], None]
"""``on_status(kind, text)``; kind: connected, retry (a failure and the next try), heartbeat, error."""


class WebSocketSource:
    """Connects to eCapture, reconnects with backoff (websockets' own loop), queues every message received.

    ``origin``: the Origin header eCapture requires (None sends none: eCapture answers 403).
    ``retry_for``: seconds to keep trying while disconnected (None: forever; 0: no retry).
    ``on_status(kind, text)``: connection news and heartbeat warnings for the user.
    ``max_message_size``: a bigger message is refused (the library closes the connection with
    code 1009 before buffering it; the source reconnects) and counted in ``oversized``.
    ``backlog_memory``: bytes of messages not yet taken kept in memory; more wait in a temporary
    file (:class:`~.backlog.Backlog`; ``on_status("backlog", text)`` says when).
    Counters: ``messages``, ``bytes``, ``connections``, ``reconnects``, ``connected``, ``oversized``.
    """

    def __init__(
        self,
        url: str,
        *,
        origin: str | None = DEFAULT_ORIGIN,
        insecure: bool = False,
        retry_for: float | None = None,
        on_status: Status | None = None,
        backoff: Backoff | None = None,
        replay_filter: ReplayFilter | None = None,
        watchdog: HeartbeatWatchdog | None = None,
        open_timeout: float = 10.0,
        clock: Callable[[], int] = time.time_ns,
        max_message_size: int | None = DEFAULT_LIMITS.message_size,
        backlog_memory: int = DEFAULT_MEMORY,
        consumer: str = "converting",
    ) -> None:
        self.max_message_size = max_message_size
        self.consumer = consumer  # what the backlog waits for ("converting", "recording"): its notes say
        self.oversized = 0
        self.url = check_url(url)
        self.origin = origin
        self.insecure = insecure
        self.retry_for = retry_for
        self.on_status = on_status or (lambda kind, text: None)
        self.backoff = backoff or Backoff()
        self._brief = Backoff()  # delays after connections that ended at once with nothing (see _run)
        self.replay_filter = replay_filter or ReplayFilter()
        self.watchdog = watchdog or HeartbeatWatchdog()
        self.open_timeout = open_timeout
        self.clock = clock
        self.messages = 0
        self.fresh = 0  # the messages that are neither replayed startup logs nor heartbeats (see _run)
        self.bytes = 0
        self.connections = 0
        self.reconnects = 0
        self.connected = False
        self.error: ConnectError | None = None
        self._queue = Backlog(backlog_memory, note=lambda text: self.on_status("backlog", text), consumer=consumer)
        self._wake = asyncio.Event()
        self._ws: ClientConnection | None = None
        self._tasks: list[asyncio.Task] = []
        self._closing = False
        self._attempts = 0  # failed attempts since the last connection
        self._outage_start: float | None = None
        self._failure = ""

    # -- lifecycle

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._run()), asyncio.create_task(self._watch())]
        self._tasks[0].add_done_callback(self._reader_done)

    def _reader_done(self, task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None and self.error is None:
            exc = task.exception()  # a bug: make the consumer see it instead of waiting forever
            self._give_up(ConnectError(f"the WebSocket reader failed: {exc!r}"))
            self.error.__cause__ = exc

    async def close(self) -> None:
        """Stop receiving (politely closing the socket). Queued messages stay available."""
        self._closing = True
        ws = self._ws
        if ws is not None:
            try:
                await asyncio.wait_for(ws.close(), 2)
            except (asyncio.TimeoutError, OSError):
                ws.transport.abort()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        self.wake()

    async def __aenter__(self) -> "WebSocketSource":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- consumer side

    @property
    def backlog(self) -> int:
        return len(self._queue)

    @property
    def spilled(self) -> int:
        """Messages that waited in the backlog's temporary file (the converter fell behind)."""
        return self._queue.spilled

    def wake(self) -> None:
        """Make a pending :meth:`get_batch` return (e.g. from a signal handler)."""
        self._wake.set()

    async def get_batch(self, timeout: float | None = None, limit: int = MAX_BATCH) -> list[Delivery]:
        """The queued messages (at most ``limit``), waiting up to ``timeout`` for one.

        Returns [] on timeout or :meth:`wake`; raises :class:`ConnectError` once the
        queue is empty and the source has given up.
        """
        if not self._queue:
            if self.error is not None:
                raise self.error
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except asyncio.TimeoutError:
                pass
            if not self._queue and self.error is not None:
                raise self.error
        return self.drain(limit)

    def drain(self, limit: int) -> list[Delivery]:
        """Up to ``limit`` of what is queued now, without waiting."""
        return self._queue.take(limit)

    # -- reader

    def _deliver(self, data: str | bytes) -> None:
        """A message from websockets' ``recv`` (without :data:`DIRECT`, or were its hook not called)."""
        if data.__class__ is str:
            self._received(data.encode("utf-8", "surrogatepass"), False)
        else:
            self._received(data, True)

    def _received(self, raw: bytes, binary: bool) -> None:
        """One message received. Per message, the least work that must be done at once (~2 µs: the reader
        must keep up with eCapture); what the message is comes later, in the converter."""
        now = self.clock()
        self.messages = n = self.messages + 1
        self.bytes += len(raw)
        replay = self.replay_filter.is_replay(raw)
        if is_heartbeat(raw):
            self.watchdog.heartbeat(now)
        elif not replay:
            self.fresh += 1
        self._queue.append((raw, binary, f"{self.url}#{n}", now, replay))
        self._wake.set()

    def _connector(self) -> connect:
        """websockets' client, which also reconnects: ``async for ws in self._connector()`` yields a new
        connection after each one ends, asks :meth:`_on_failure` whether a failed attempt is worth another,
        and waits :meth:`_delays` between attempts."""
        return connect(
            self.url,
            origin=Origin(self.origin) if self.origin else None,
            compression=None,
            max_size=self.max_message_size,
            proxy=None,  # eCapture is local or on the LAN: ignore *_proxy variables
            ssl=ssl_context(self.url, self.insecure),
            open_timeout=self.open_timeout,
            ping_interval=PING_INTERVAL_S,
            ping_timeout=PING_TIMEOUT_S,
            close_timeout=2,
            process_exception=self._on_failure,
            reconnect_delays=self._delays,
            create_connection=DirectConnection if DIRECT else None,  # (attached to _received in _receive)
        )

    async def _run(self) -> None:
        self._attempts, self._outage_start = 0, None
        try:
            async for ws in self._connector():
                self._attempts, self._outage_start = 0, None
                began, got = asyncio.get_running_loop().time(), self.fresh
                what = await self._receive(ws)
                if self._closing:
                    return
                self._outage_start = now = asyncio.get_running_loop().time()
                if self.retry_for == 0:
                    return self._give_up(ConnectError(f"{what}; gave up retrying"))
                if self.fresh == got and now - began < BRIEF_S:  # (ended at once, nothing new received: a server
                    delay = self._brief.next()  # that drops us at every connect was reconnected to ~700 times a
                    self.on_status("retry", f"{what}; reconnecting in {delay:.1f} s")  # second, two lines each;
                    await asyncio.sleep(delay)  # eCapture replays its startup logs and v1.5+ sends a heartbeat first)
                    continue
                self._brief.reset()
                self.on_status("retry", f"{what}; reconnecting")  # at once; then with backoff (_delays)
        except ConnectError as exc:  # from _on_failure: retrying cannot help, or the time is up
            return self._give_up(exc)

    def _on_failure(self, exc: Exception) -> Exception | None:
        """websockets' ``process_exception``: None to try again (after the next of :meth:`_delays`), or the
        error that ends the source."""
        fatal = fatal_error(exc, self.url, self.origin)
        if fatal is not None:
            return fatal
        now = asyncio.get_running_loop().time()
        if self._outage_start is None:
            self._outage_start = now
        self._attempts += 1
        self._failure = f"cannot connect to {self.url}: {describe(exc)}"
        if self.retry_for is not None and now - self._outage_start >= self.retry_for:
            waited = f" for {self.retry_for:g} s" if self.retry_for else ""
            return ConnectError(f"{self._failure}; gave up retrying{waited}")
        return None

    def _delays(self) -> Iterator[float]:
        """websockets' ``reconnect_delays``: a new series after every connection that worked."""
        self.backoff.reset()
        while True:
            delay = self.backoff.next()
            if self.retry_for is not None and self._outage_start is not None:  # (not past --retry-for: the last
                spent = asyncio.get_running_loop().time() - self._outage_start  # wait was a backoff step too long)
                delay = max(0.0, min(delay, self.retry_for - spent))
            more = f" (attempt {self._attempts + 1})" if self._attempts > 1 else ""
            self.on_status("retry", f"{self._failure}; retrying in {delay:.1f} s{more}")
            yield delay

    async def _receive(self, ws: ClientConnection) -> str:
        self._ws = ws
        self.connections += 1
        if self.connections > 1:
            self.reconnects += 1
        self.connected = True
        self.replay_filter.connected()
        self.watchdog.connected(self.clock())
        again = f" (reconnect {self.reconnects})" if self.reconnects else ""
        self.on_status("connected", f"connected to {self.url}{again}")
        if isinstance(ws, DirectConnection):
            ws.attach(self._received)
        try:
            try:
                async for data in ws:  # (with DIRECT, messages come to _received instead; this waits for the end)
                    self._deliver(data)
            finally:
                if isinstance(ws, DirectConnection) and ws.failure is not None:
                    raise ws.failure  # (a bug in _received, met in websockets' data_received: the reader fails)
            return f"eCapture closed the connection ({close_reason(ws)})"
        except ConnectionClosed:
            sent = ws.protocol.close_sent
            if sent is not None and sent.code == CloseCode.MESSAGE_TOO_BIG:
                self.oversized += 1
                return limit_note("message_size", f"eCapture sent a message over {self.max_message_size} bytes: "
                                  "not received, connection closed with code 1009")
            if sent is not None and sent.code == CloseCode.INTERNAL_ERROR and "ping" in sent.reason:
                return f"connection to {self.url} closed: eCapture did not answer pings for {PING_TIMEOUT_S} s"
            return f"connection to {self.url} lost ({close_reason(ws)})"
        finally:
            self.connected = False
            self._ws = None
            self.watchdog.disconnected()

    def _give_up(self, error: ConnectError) -> None:
        self.error = error
        self.on_status("error", str(error))
        self._wake.set()

    async def _watch(self, every: float | None = None) -> None:
        every = every or min(1.0, self.watchdog.fast_s / 4)
        while True:
            await asyncio.sleep(every)
            warning = self.watchdog.check(self.clock())
            if warning:
                self.on_status("heartbeat", warning)


