"""Crash-safe outputs: the HAR is a valid HAR after every commit, the pcapng ends in whole
blocks, the recording holds every received message; a ``live`` killed with SIGKILL leaves
files that tshark, the HAR schema, haralyzer and ``convert`` read."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ecq2pcap.sinks.har.writer import HarWriter
from tests.conftest import FIXTURES, ROOT, run_tshark
from tests.support.disks import FillingFile
from tests.support.fake_ecapture import FakeECapture, load_frames
from tests.support.har import load_with_haralyzer, validate_entry, validate_har
from tests.support.waiting import wait_for

ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def entry(i: int) -> dict:
    e = {
        "startedDateTime": "2026-01-01T00:00:00.000Z", "time": 0,
        "request": {"method": "GET", "url": f"https://example.test/{i}", "httpVersion": "HTTP/1.1", "cookies": [],
                    "headers": [], "queryString": [], "headersSize": -1, "bodySize": 0},
        "response": {"status": 200, "statusText": "OK", "httpVersion": "HTTP/1.1", "cookies": [], "headers": [],
                     "content": {"size": 0, "mimeType": "text/plain"}, "redirectURL": "", "headersSize": -1,
                     "bodySize": 0},
        "cache": {}, "timings": {"send": 0, "wait": 0, "receive": 0}, "connection": "1",
    }
    validate_entry(e)
    return e


def har_entries(data: bytes) -> list[dict]:
    doc = json.loads(data)
    validate_har(doc)
    return doc["log"]["entries"]


# --------------------------------------------------------------- the HAR writer


def test_har_is_complete_after_every_entry_when_committing_each():
    out = io.BytesIO()
    w = HarWriter(out, commit_interval=0)
    w.commit()
    assert har_entries(out.getvalue()) == []
    for i in range(5):
        w.write(entry(i))
        assert [e["request"]["url"] for e in har_entries(out.getvalue())] == [
            f"https://example.test/{j}" for j in range(i + 1)]
    w.close()
    assert len(har_entries(out.getvalue())) == 5


def test_batched_commits_keep_the_file_valid_and_complete_it_on_commit():
    out = io.BytesIO()
    w = HarWriter(out, commit_interval=3600)
    for i in range(3):
        w.write(entry(i))
    assert har_entries(out.getvalue()) == []  # valid, the entries still wait
    w.commit()
    assert len(har_entries(out.getvalue())) == 3
    w.write(entry(3))
    w.close()
    assert len(har_entries(out.getvalue())) == 4


def test_batched_commits_happen_by_size():
    out = io.BytesIO()
    w = HarWriter(out, commit_interval=3600, commit_bytes=1500)
    for i in range(10):
        w.write(entry(i))
    assert 5 <= len(har_entries(out.getvalue())) < 10


def test_a_full_disk_leaves_the_last_complete_har():
    out = FillingFile(2500)
    w = HarWriter(out, commit_interval=0)
    written = 0
    with pytest.raises(OSError, match="No space"):
        for i in range(100):
            w.write(entry(i))
            written += 1
    assert 0 < written < 100
    assert len(har_entries(out.getvalue())) == written  # every entry committed before, no partial one
    w.write(entry(999))  # after the error: nothing more, no second error
    w.close()
    assert len(har_entries(out.getvalue())) == written


# --------------------------------------------------------------- kill -9 of live


def count_entries(path: Path) -> int:
    try:
        return len(json.loads(path.read_bytes())["log"]["entries"])
    except (OSError, ValueError):
        return -1


def count_lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except OSError:
        return 0


@pytest.mark.live
@pytest.mark.parametrize("sample", ["v140_client", "v15_client"])
def test_live_killed_with_sigkill_leaves_readable_outputs(tmp_path, tshark, sample):
    replay, stream = load_frames(FIXTURES / f"{sample}.frames.jsonl.gz")
    pcap, har, rec = tmp_path / "o.pcapng", tmp_path / "o.har", tmp_path / "rec.jsonl"
    with FakeECapture(replay=replay, script=stream, heartbeat_s=0.05, immediate_heartbeat=True) as fake:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ecq2pcap", "live", fake.url, "-w", str(pcap), "--har", str(har),
             "--record", str(rec), "-q"], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            assert wait_for(lambda: fake.scripts_done >= 1), "the fake eCapture did not send its stream"
            # every received message is on disk within a second, heartbeats keep coming
            assert wait_for(lambda: count_lines(rec) > 1 + len(replay) + len(stream) + 5)
            assert wait_for(lambda: count_entries(har) >= 1)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == -signal.SIGKILL
    # the pcapng: tshark reads every packet up to the last whole block, without an error
    frames = run_tshark(tshark, pcap, "-T", "fields", "-e", "frame.number").split()
    assert frames
    # the HAR: valid HAR 1.2 with the entries completed before the kill
    doc = json.loads(har.read_bytes())
    validate_har(doc)
    entries = load_with_haralyzer(doc)
    assert entries
    # the recording: every message the server sent, and it converts
    lines = rec.read_bytes().splitlines()
    assert len(lines) > 1 + len(replay) + len(stream)
    out = tmp_path / "conv.har"
    p = subprocess.run([sys.executable, "-m", "ecq2pcap", "convert", str(rec), "--har", str(out),
                        "-w", str(tmp_path / "conv.pcapng"), "-q"], env=ENV, capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert count_entries(out) >= len(entries)
