"""``convert -j N`` writes what ``-j 1`` writes, byte for byte, and keeps its error behaviour.

The equivalence check runs every fixture of the differential test with ``-j 2`` and ``-j 3``
against the digests of the single-process outputs (``fixtures/golden_outputs.json``, which
``tests/test_differential.py`` holds ``-j 1`` to); the fixtures hold many connections (a
shard per connection number), HTTP/1, HTTP/2, WebSocket, v1.4/v1.5/v2 and host names.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import run_main
from tests.support.golden import GOLDEN, digests, inputs

ROOT = Path(__file__).resolve().parent.parent.parent
EXPECTED = json.loads(GOLDEN.read_text())
SAMPLE = ROOT / "fixtures" / "v140_client.dump.jsonl.gz"


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_same_outputs_as_one_process(key):
    # two workers on the default outputs (pcapng and HAR), three on the other option set (raw payloads, raw
    # link type, small MSS, no reorder window, 1 s idle timeout): every fixture meets both worker counts
    name, variant = key.rsplit(" ", 1)
    jobs = 2 if variant == "default" else 3
    path = next(p for p in inputs() if p.name == name)
    assert digests(path, variant, ["-j", str(jobs)]) == EXPECTED[key], f"{key}: -j {jobs} differs from -j 1"


@pytest.mark.parametrize("key", sorted(k for k in EXPECTED if k.endswith(" default")))
def test_same_outputs_with_a_batch_a_list(key, monkeypatch):
    """Every list of events sent on its own and every worker always behind: a connection's events span many
    batches (its fields go with the first only) and both workers write connections, the shares change often."""
    from ecq2pcap import shards

    monkeypatch.setattr(shards, "BATCH_EVENTS", 1)
    monkeypatch.setattr(shards, "BACKLOG_BYTES", 1)
    name = key.rsplit(" ", 1)[0]
    path = next(p for p in inputs() if p.name == name)
    assert digests(path, "default", ["-j", "2"]) == EXPECTED[key], f"{key}: -j 2 with tiny batches differs"


def test_the_check_can_fail():
    """A different conversion gives different digests (the comparison above is not vacuous)."""
    path = next(p for p in inputs() if p.name == SAMPLE.name)
    assert digests(path, "default", ["-j", "2", "--mss", "500"]) != EXPECTED[f"{SAMPLE.name} default"]


def _convert(*args: str, cwd: Path, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    """In-process (the workers are forked from the test's process) unless the test feeds stdin."""
    if stdin is None:
        return run_main("convert", *args, cwd=cwd)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "ecq2pcap", "convert", *args], cwd=cwd, env=env,
                          input=stdin, capture_output=True, timeout=120)


def _summary_counts(stderr: bytes) -> list[str]:
    lines = stderr.decode().splitlines()
    start = lines.index("ecq2pcap summary:")
    return [line for line in lines[start:] if not line.startswith("    ")]  # the warnings' order may tie


def test_bad_lines_reported_once_and_summary_alike(tmp_path):
    lines = gzip.decompress(SAMPLE.read_bytes()).splitlines(keepends=True)
    dump = tmp_path / "bad.jsonl"
    dump.write_bytes(b"".join(lines[:5]) + b"{not json\n" + b"".join(lines[5:]) + b"\x00\x01 garbage\n")
    one = _convert("bad.jsonl", "-w", "1.pcapng", "--har", "1.har", cwd=tmp_path)
    two = _convert("bad.jsonl", "-w", "2.pcapng", "--har", "2.har", "-j", "2", cwd=tmp_path)
    assert one.returncode == two.returncode == 0, two.stderr.decode()
    for line in ("bad.jsonl:6:", f"bad.jsonl:{len(lines) + 2}:"):
        assert one.stderr.decode().count(line) == 1
        assert two.stderr.decode().count(line) == 1, two.stderr.decode()
    assert _summary_counts(two.stderr) == _summary_counts(one.stderr)
    assert (tmp_path / "2.pcapng").read_bytes() == (tmp_path / "1.pcapng").read_bytes()
    assert (tmp_path / "2.har").read_bytes() == (tmp_path / "1.har").read_bytes()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".ecq2pcap-jobs-")], "temporary files left"
    strict = _convert("bad.jsonl", "-w", "3.pcapng", "-j", "2", "--strict", "-q", cwd=tmp_path)
    assert strict.returncode == 1


def test_stdin_ring_buffer_and_bad_jobs_refused(tmp_path):
    res = _convert("-", "-w", "o.pcapng", "-j", "2", cwd=tmp_path, stdin=b"")
    assert res.returncode == 2 and b"stdin" in res.stderr and not (tmp_path / "o.pcapng").exists()
    res = _convert(str(SAMPLE), "-w", "o.pcapng", "-b", "files:2", "-j", "2", cwd=tmp_path)
    assert res.returncode == 2 and b"-b" in res.stderr
    res = _convert(str(SAMPLE), "-w", "o.pcapng", "-j", "0", cwd=tmp_path)
    assert res.returncode == 2


def test_unreadable_input_and_output_guard(tmp_path):
    res = _convert(str(SAMPLE), "missing.jsonl", "-w", "o.pcapng", "-j", "2", cwd=tmp_path)
    assert res.returncode == 2 and b"missing.jsonl: cannot read" in res.stderr
    assert not (tmp_path / "o.pcapng").exists()
    dump = tmp_path / "in.jsonl"
    dump.write_bytes(gzip.decompress(SAMPLE.read_bytes()))
    before = dump.read_bytes()
    res = _convert("in.jsonl", "-w", "in.jsonl", "-j", "2", cwd=tmp_path)
    assert res.returncode == 2 and dump.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


def test_truncated_input_exit_1_reported_once(tmp_path):
    data = SAMPLE.read_bytes()
    (tmp_path / "cut.jsonl.gz").write_bytes(data[: len(data) * 2 // 3])
    one = _convert("cut.jsonl.gz", "-w", "1.pcapng", "--har", "1.har", cwd=tmp_path)
    two = _convert("cut.jsonl.gz", "-w", "2.pcapng", "--har", "2.har", "-j", "2", cwd=tmp_path)
    assert one.returncode == two.returncode == 1
    first = next(line for line in one.stderr.decode().splitlines() if "cut.jsonl.gz" in line)
    assert two.stderr.decode().count(first) == 1, two.stderr.decode()
    assert (tmp_path / "2.pcapng").read_bytes() == (tmp_path / "1.pcapng").read_bytes()
    assert (tmp_path / "2.har").read_bytes() == (tmp_path / "1.har").read_bytes()
