"""The capture behind ``ecq2pcap live`` and ``ecq2pcap record``: eCapture's eCaptureQ WebSocket, as it
happens (their options, outputs and exit codes: :mod:`ecq2pcap.commands.live`).

live    URL -w OUT.pcapng|- [--har OUT.har] [--record DUMP]  → outputs (+ a recording)
record  URL -o DUMP|-                                         → a lossless recording only

The socket is read by :class:`~ecq2pcap.sources.websocket.WebSocketSource` on the
event loop; everything that writes (pipeline, sinks, recording) runs in a worker
thread one batch at a time, so a slow disk or a slow ``| wireshark`` never stalls
the reader (eCapture drops clients that fall 256 messages behind). ``live`` runs its
:class:`Session` in a process of its own
(:class:`~ecq2pcap.commands.converting.ConvertingProcess`), so that converting does not
even share the interpreter with the reader.

Stopping: ``--duration``, ``--count``, Ctrl-C, SIGTERM or SIGHUP (a closed terminal or ssh session), or the
reader of ``-w -`` going away. The open connections are then finished (FIN in the pcapng, HAR
completed) and the summary printed; exit 0. Connection failures are retried with
backoff for ``--retry-for`` seconds (default: forever), one stderr line per attempt.
Exit codes: 0 stopped as asked; 1 eCapture went away for good after a connection
was made (outputs completed); 2 usage error, unwritable output, or never connected
(refused handshake, bad certificate, gave up retrying).

Each message is recorded before it is converted, with its receive time rounded to
the microsecond as the recording keeps it, so ``convert`` of the recording produces
the same pcapng and HAR. With ``--record``, packet comments name the recording line
(``DUMP:LINE``) rather than the WebSocket message number. Replayed startup logs
(every reconnect) are recorded, but not fed to the converter again.
"""

from __future__ import annotations

import asyncio
import signal
import re
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from msgspec.structs import replace

from .model import Message, Opcode
from .outputs import reader_gone, silence_stdout
from .report import Count
from .sources.recording import Recorder, recorded_time_ns
from .dialects.cheap import is_heartbeat, is_log_message
from .sources.websocket import MAX_BATCH, ConnectError, Delivery, WebSocketSource
from .stops import STOP_SIGNALS, taken


if TYPE_CHECKING:
    from .pipeline import Pipeline

TICK_S = 1.0  # pipeline.tick / recording flush period

_TEXT, _BINARY = Opcode.TEXT, Opcode.BINARY  # (Enum members cost ~0.15 µs to read on Python 3.11)
_VERSION = re.compile(rb'"Version":"([^"\\]{1,200})"')


# ---------------------------------------------------------------------------
# the work done in the worker thread


class Session:
    """What happens to each batch: record it, feed the pipeline, count, notice the version.

    Runs in a worker thread, one call at a time. ``count``: stop after that many
    events (pipeline captures; without a pipeline, event-like messages).
    """

    def __init__(self, pipeline: "Pipeline | None", recorder: Recorder | None, count: int | None = None,
                 *, watch_stdout: bool = False) -> None:
        self.pipeline = pipeline
        self.recorder = recorder
        self.count = count
        self.watch_stdout = watch_stdout  # an output is a pipe on stdout: notice when its reader quits
        self.version: str | None = None  # sniffed from the Version log line
        self.replays_skipped = 0
        self.broken = False  # an output pipe closed (e.g. Wireshark quit)
        self.output_error: OSError | None = None  # an output could not be written (disk full)
        self._events = 0  # without a pipeline
        self._anchor: tuple[int, int] | None = None  # (wall clock, data clock) after the last data

    @property
    def events(self) -> int:
        return self.pipeline.report.counts[Count.EVENTS] if self.pipeline is not None else self._events

    @property
    def connections(self) -> int | None:
        """Connections opened so far (None: recording only, no conversion)."""
        return self.pipeline.report.counts[Count.CONNECTIONS] if self.pipeline is not None else None

    @property
    def ecapture_version(self) -> str | None:
        return (self.pipeline.ecapture_version if self.pipeline is not None else None) or self.version

    @property
    def stop_reason(self) -> str:
        """Why :meth:`process` asked to stop."""
        if self.output_error is not None:
            return "output failed"
        return "output closed" if self.broken else "count"

    def process(self, batch: list[Delivery]) -> bool:
        """Handle a batch, then flush the recording; True when ``count`` is reached or an
        output broke or failed (stop)."""
        if self.output_error is not None:
            return True
        try:
            stop = self._process_batch(batch)
            self.flush()
        except OSError as exc:
            self._failed(exc)
            return True
        return stop or self.broken

    def _process_batch(self, batch: list[Delivery]) -> bool:
        if self.pipeline is None:
            return self._process(batch)
        before = self.pipeline.clock
        try:
            return self._process(batch)
        finally:
            clock = self.pipeline.clock
            if clock and (clock > before or self._anchor is None):  # the data moved its clock
                self._anchor = (time.time_ns(), clock)

    def _process(self, batch: list[Delivery]) -> bool:
        for data, binary, origin, recv_time_ns, replayed in batch:
            message = Message(data, _BINARY if binary else _TEXT, origin, recorded_time_ns(recv_time_ns))
            is_log = is_log_message(data)
            if self.recorder is not None:
                try:
                    message = replace(message, origin=f"{self.recorder.name}:{self.recorder.write(message)}")
                except BrokenPipeError:
                    self.output_closed()
                    return True
            if is_log and self.version is None:
                m = _VERSION.search(data)
                if m:
                    self.version = m.group(1).decode("utf-8", "replace")
            if replayed:
                self.replays_skipped += 1
            elif self.pipeline is not None:
                self.pipeline.feed(message)
            elif not is_log and not is_heartbeat(data):
                self._events += 1
            if self.broken or (self.count and self.events >= self.count):
                return True
        return False

    def tick(self, now_ns: int) -> None:
        """Once a second: let time pass in the pipeline, flush the recording.

        Time passes from the data's own clock (the latest capture time) at the wall
        clock's pace, not from our wall clock: eCapture may run on a host whose clock
        differs, or replay old data, and then our wall clock would close every
        connection as idle. Before any data, nothing needs time to pass.
        """
        if self.watch_stdout and not self.broken and reader_gone(sys.stdout):
            self.output_closed()  # e.g. Wireshark quit while no event came
        if self.output_error is not None:
            return
        try:
            if self.pipeline is not None and self._anchor is not None:
                wall, clock = self._anchor
                now = clock + max(0, now_ns - wall)
                if now > self.pipeline.clock:  # (else the clock does not move: nothing to do or record)
                    if self.recorder is not None:  # (convert of the recording moves it there too)
                        self.recorder.tick(now)
                    self.pipeline.tick(now)
            self.flush()
        except OSError as exc:
            self._failed(exc)

    def flush(self) -> None:
        """Put the recording on disk (raises OSError when it cannot be written)."""
        if self.recorder is not None and not self.broken:
            try:
                self.recorder.flush()
            except BrokenPipeError:
                self.output_closed()

    def _failed(self, exc: OSError) -> None:
        if isinstance(exc, BrokenPipeError):
            self.output_closed()
        elif self.output_error is None:
            self.output_error = exc

    def output_closed(self) -> None:
        """An output's reader went away (e.g. Wireshark quit): stop after this batch."""
        if not self.broken:
            self.broken = True
            silence_stdout()


# ---------------------------------------------------------------------------
# the loop


class _Stop:
    def __init__(self, source: WebSocketSource) -> None:
        self.requests = 0
        self.asked = asyncio.Event()
        self._source = source

    def request(self) -> None:
        self.requests += 1
        self.asked.set()
        self._source.wake()


async def _stop_receiving(source: WebSocketSource, stop: _Stop, deadline: float | None) -> None:
    """Close the socket at ``deadline`` or the first stop request, even while a batch waits for a slow output (the
    loop sees them only between batches: ``--duration 2`` with ``-w - | slow reader`` received for 8 s, and a
    Ctrl-C did not stop the socket being read). What was received is still converted."""
    loop = asyncio.get_running_loop()
    try:
        await asyncio.wait_for(stop.asked.wait(), None if deadline is None else max(0.0, deadline - loop.time()))
    except asyncio.TimeoutError:
        pass
    await source.close()


async def capture(
    source: WebSocketSource,
    session: Session,
    *,
    duration: float | None = None,
    progress: Callable[[], None] | None = None,
    tick_s: float | None = None,
    handle_signals: bool = True,
) -> str:
    """Receive until stopped; returns why: duration, count, signal, output closed, output failed, error.

    Messages still queued when it stops are processed too, unless the count was
    reached or a second Ctrl-C came (then said on stderr). The caller finishes the pipeline.
    """
    tick_s = tick_s or TICK_S
    loop = asyncio.get_running_loop()
    stop = _Stop(source)
    signals, before = [], {}
    if handle_signals:
        for sig in taken(STOP_SIGNALS):
            try:
                before[sig] = signal.getsignal(sig)
                loop.add_signal_handler(sig, stop.request)
                signals.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):  # not the main thread / platform
                pass
    deadline = loop.time() + duration if duration else None
    next_tick = loop.time() + tick_s
    reason = "error"
    # the worker thread made before connecting: the first to_thread imports and starts the executor (2-4 ms),
    # and a busy eCapture fills a new connection's small socket buffers in as much time
    await asyncio.to_thread(int)
    await source.start()
    closer = asyncio.create_task(_stop_receiving(source, stop, deadline))
    try:
        while True:
            now = loop.time()
            if stop.requests:
                reason = "signal"
                break
            if deadline is not None and now >= deadline:
                reason = "duration"
                break
            wait = min(next_tick, deadline) - now if deadline is not None else next_tick - now
            try:
                batch = await source.get_batch(max(wait, 0.0))
            except ConnectError:
                reason = "error"
                break
            if batch and await asyncio.to_thread(session.process, batch):
                reason = session.stop_reason
                break
            if loop.time() >= next_tick:
                next_tick = loop.time() + tick_s
                await asyncio.to_thread(session.tick, time.time_ns())
                if session.broken or session.output_error is not None:
                    reason = session.stop_reason
                    break
            if progress is not None:
                progress()
    finally:
        if stop.asked.is_set() or (deadline is not None and loop.time() >= deadline):
            await asyncio.gather(closer, return_exceptions=True)  # (closing the socket, or about to: let it end)
        else:
            closer.cancel()
        try:
            await source.close()
        except BaseException:
            _give_back(loop, signals, before)
            raise
    try:  # (the handlers stay while the backlog is converted: a second Ctrl-C then was a KeyboardInterrupt in the
        # event loop, asyncio's internals on stderr and the messages left out without a word)
        if reason not in ("count", "output closed", "output failed"):
            while source.backlog and stop.requests < 2:  # (in batches: a backlog that spilled may be large)
                if await asyncio.to_thread(session.process, source.drain(MAX_BATCH)):
                    reason = session.stop_reason
                    break
        if stop.requests >= 2 and source.backlog:
            print(f"ecq2pcap: stopped at a second stop request (Ctrl-C, SIGTERM or SIGHUP): {source.backlog:,} "
                  "messages received are not converted (nor recorded)", file=sys.stderr)
    finally:
        _give_back(loop, signals, before)
    return reason


def _give_back(loop, signals, before) -> None:
    """The stop signals back to the handlers they had before the loop (``stops_as_ctrl_c``'s: a KeyboardInterrupt,
    the run ending as interrupted once its outputs are completed). asyncio's removal leaves SIGTERM and SIGHUP at
    their default: one more while the outputs were completed (a second SIGTERM, an impatient Ctrl-C and then a
    kill) ended the process by the signal, without its summary (exit -15)."""
    for sig in signals:
        loop.remove_signal_handler(sig)
        if before[sig] is not None:  # (None: set from C, not restorable from Python)
            signal.signal(sig, before[sig])

