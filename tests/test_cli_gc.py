"""What ``cli.tune_gc`` relies on: a conversion makes no cyclic garbage as it goes, so the cycle collector can run
rarely (every :data:`~ecq2pcap.cli.YOUNG_COLLECTION` tracked objects of growth) without memory growing.

Each workload is converted twice, once at a size and once at four times it, with the collector run every 100
allocations and what it frees counted: what it frees must not grow with the input (a run's own start-up leaves a
few objects, the same in both). A per-connection or per-event reference cycle would add thousands."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

import pytest

from ecq2pcap.cli import main
from tests.conftest import ROOT
from tests.support.frames import ws_frame
from tests.support.mixed_stream import many_connections
from tests.support.v2_stream import V2Stream


def _make_dump(path: Path, events: int, fmt: str) -> Path:
    """bench/make_dump.py's synthetic traffic: HTTP/1 re-rendered as eCapture v1 does, HTTP/2 (its text dump
    in v1, its bytes in v2), binary protocols, re-emits, connections without an fd or a tuple."""
    subprocess.run([sys.executable, str(ROOT / "bench" / "make_dump.py"), str(path), "--events", str(events),
                    "--format", fmt, "--http2-frac", "0.4", "--body-size", "100-4000", "--seed", "3"],
                   check=True, stdout=subprocess.DEVNULL, timeout=120)
    return path


def _freed(tmp_path: Path, dump: Path, *options: str) -> int:
    """Objects the collector freed while ``dump`` was converted to pcapng and HAR."""
    freed = []

    def count(phase, info):
        if phase == "stop":
            freed.append(info["collected"])

    gc.collect()
    before = gc.get_threshold()
    gc.set_threshold(100, 10, 10)
    gc.callbacks.append(count)
    try:
        assert main(["convert", "-q", str(dump), "-w", str(tmp_path / "o.pcapng"), "--har", str(tmp_path / "o.har"),
                     *options]) in (0, 1)
    finally:
        gc.callbacks.remove(count)
        gc.set_threshold(*before)
    assert freed, "the collector never ran"
    return sum(freed)


@pytest.mark.parametrize("fmt", ["v14", "v15", "v2"])
def test_no_cyclic_garbage_grows_with_the_input(tmp_path, fmt):
    small = _make_dump(tmp_path / "small.jsonl", 1500, fmt)
    large = _make_dump(tmp_path / "large.jsonl", 6000, fmt)
    # (connections end as they go, and what the table keeps of them expires: their state is freed during the run)
    options = ("--max-connections", "16", "--idle-timeout", "5")
    _freed(tmp_path, small, *options)  # (the first run in a process also frees what lazy imports left)
    assert _freed(tmp_path, large, *options) == _freed(tmp_path, small, *options)


def test_no_cyclic_garbage_from_connections_ended_as_they_idle(tmp_path):
    """v1.4 never says a connection closed: most end by the idle timeout (each a process of its own here)."""
    small, large = tmp_path / "small.jsonl", tmp_path / "large.jsonl"
    many_connections(small, 300)
    many_connections(large, 1200)
    _freed(tmp_path, small)
    assert _freed(tmp_path, large, "--idle-timeout", "5") == _freed(tmp_path, small, "--idle-timeout", "5")


def _websockets(path: Path, n: int) -> None:
    """eCapture v2.1+ calls of ``n`` WebSocket connections, one a second: the upgrade, then text and binary messages
    both ways (WebSocket connections never end idle: --max-connections ends them)."""
    s = V2Stream()
    for i in range(n):
        pid, fd, client = 2000 + i, 7, ("10.2.0.1", 30000 + i)
        s.connect(pid, fd, "node", client, ("10.0.0.9", 443))
        s.call(pid, fd, "node", True, b"GET /feed HTTP/1.1\r\nHost: ws.test\r\nUpgrade: websocket\r\n"
               b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        s.call(pid, fd, "node", False, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
               b"Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
        for j in range(3):
            s.call(pid, fd, "node", True, ws_frame(b"sub %d" % j, masked=True, key=b"abcd"))
            s.call(pid, fd, "node", False, ws_frame(bytes(range(j + 40)), opcode=2, masked=False))
        s.t += 1
    path.write_bytes(s.dump())


def test_no_cyclic_garbage_from_websocket_connections(tmp_path):
    small, large = tmp_path / "small.jsonl", tmp_path / "large.jsonl"
    _websockets(small, 150)
    _websockets(large, 600)
    _freed(tmp_path, small)
    options = ("--max-connections", "16")
    assert _freed(tmp_path, large, *options) == _freed(tmp_path, small, *options)
