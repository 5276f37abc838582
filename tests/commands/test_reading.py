"""What the reading process of ``live`` does so as not to fall behind a busy eCapture (which drops a client
256 messages behind): its collector runs in short pauses while it reads, and its worker thread exists
before it connects (the converting process's priority: test_converting.py)."""

from __future__ import annotations

import asyncio
import gc
import threading

import pytest

from ecq2pcap import cli, live
from ecq2pcap.cli import main
from ecq2pcap.commands import live as live_cmd
from ecq2pcap.sources.websocket import WebSocketSource
from tests.support.fake_ecapture import FakeECapture

pytestmark = pytest.mark.live


@pytest.fixture
def whole_process_gc():
    """The collector as ``cli.tune_gc`` sets it for a whole process (restored after the test)."""
    before = gc.get_threshold()
    gc.set_threshold(cli.YOUNG_COLLECTION, 20, 20)
    yield
    gc.set_threshold(*before)


def test_the_young_generation_is_collected_often_while_reading(whole_process_gc, monkeypatch, tmp_path):
    """A collection of 50,000 young objects stopped the reader for 12 ms (1,200 messages at 100k/s), and a whole
    process collects far fewer times (cli.YOUNG_COLLECTION); while it reads, every 5,000 allocations; afterwards
    as before."""
    seen = []
    capture = live_cmd.capture

    async def watching(*args, **kwargs):
        seen.append(gc.get_threshold())
        return await capture(*args, **kwargs)

    monkeypatch.setattr(live_cmd, "capture", watching)
    with FakeECapture(heartbeat_s=0.1) as fake:
        assert main(["live", fake.url, "--har", str(tmp_path / "o.har"), "--duration", "0.5", "-q"]) == 0
    assert seen == [(live_cmd.READING_GC_THRESHOLD, 20, 20)] and live_cmd.READING_GC_THRESHOLD <= 5_000
    assert gc.get_threshold() == (cli.YOUNG_COLLECTION, 20, 20)


def test_the_worker_thread_is_started_before_connecting(monkeypatch):
    """The first ``to_thread`` imports and starts the executor (2-4 ms): done before the first message, not
    while a new connection's small socket buffers fill."""
    threads_at_start = []
    start = WebSocketSource.start

    async def starting(self):
        threads_at_start.append([t.name for t in threading.enumerate()])
        await start(self)

    monkeypatch.setattr(WebSocketSource, "start", starting)
    with FakeECapture(heartbeat_s=0.1) as fake:
        source = WebSocketSource(fake.url)
        reason = asyncio.run(live.capture(source, live.Session(None, None), duration=0.3, handle_signals=False))
    assert reason == "duration"
    assert any(name.startswith("asyncio_") for name in threads_at_start[0]), threads_at_start
