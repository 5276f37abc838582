"""``--duration`` and a stop request end reception on time even while the output is slow: the capture loop saw them
only between batches, and a batch waits for the converting process, which waits for its output. ``--duration 1``
with ``-w - | slow reader`` kept receiving (and then converting and recording) for as long as the reader slept."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from tests.conftest import FIXTURES, ROOT
from tests.support.fake_ecapture import FakeECapture, load_frames

pytestmark = pytest.mark.live

ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
SLEEP_S = 5


def _server() -> FakeECapture:
    """eCapture sending 1,000 messages a second: v2 events (16 KB calls among them), ~10 MB/s of pcapng."""
    replay, frames = load_frames(FIXTURES / "v2_client.frames.jsonl.gz")
    return FakeECapture(replay=replay, script=(frames * 40)[:12_000], rate=1000, queue_size=10**6)


def _times(rec) -> list[float]:
    with gzip.open(rec, "rt") as f:
        lines = [json.loads(line) for line in f][1:]
    return [line["t"] for line in lines if isinstance(line.get("t"), (int, float)) and "tick" not in line]


def _live_into_a_slow_reader(url: str, rec, *args: str) -> subprocess.Popen:
    """``live URL -w -`` whose stdout is read only after ``SLEEP_S`` (then to its end)."""
    proc = subprocess.Popen([sys.executable, "-m", "ecq2pcap", "live", url, "-w", "-", "--record", str(rec), "-q",
                             *args], env=ENV, stdout=subprocess.PIPE)

    def slow_reader() -> None:
        time.sleep(SLEEP_S)
        while proc.stdout.read(1 << 16):
            pass

    threading.Thread(target=slow_reader, daemon=True).start()
    return proc


def test_duration_ends_reception_while_the_output_is_slow(tmp_path):
    rec = tmp_path / "rec.jsonl.gz"
    with _server() as srv:
        start = time.monotonic()
        proc = _live_into_a_slow_reader(srv.url, rec, "--duration", "1")
        assert proc.wait(60) == 0
        assert time.monotonic() - start >= SLEEP_S  # (the output was slow: the run waited for its reader)
    times = _times(rec)
    assert len(times) > 100
    assert max(times) - min(times) < 2.0  # received for a second, not for as long as the reader slept


def test_a_stop_request_ends_reception_while_the_output_is_slow(tmp_path):
    rec = tmp_path / "rec.jsonl.gz"
    with _server() as srv:
        proc = _live_into_a_slow_reader(srv.url, rec)
        assert srv.wait_clients(1, timeout=20)
        time.sleep(1)
        proc.send_signal(signal.SIGTERM)
        time.sleep(1)
        left = srv.clients  # (the socket closed at once, the output still waiting for its reader)
        assert proc.wait(60) == 0  # (stopped as asked)
    times = _times(rec)
    assert len(times) > 100
    assert max(times) - min(times) < 2.0 and left == 0
