"""convert -j N through its consumers: tshark reads a three-worker capture of two inputs as it reads one
process's, filters give the same outputs, and what -j cannot do is refused. (Byte-for-byte equality with -j 1
on every fixture: test_parallel_bytes.py.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, ROOT
from tests.support.cli import run_main
from tests.support.dissect import bad_expert, dissect
from tests.support.pcapng import epbs

ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def convert(out: Path, *args: str, jobs: int = 1) -> subprocess.CompletedProcess:
    """-j 1 in-process; -j N in a process of its own (its workers are forked: not from a test runner's
    process, whose threads a fork would not take along)."""
    out.mkdir(parents=True, exist_ok=True)
    argv = ["convert", *args, "-w", str(out / "o.pcapng"), "--har", str(out / "o.har"), "-j", str(jobs)]
    if jobs == 1:
        return run_main(*argv, text=True)
    return subprocess.run([sys.executable, "-m", "ecq2pcap", *argv], capture_output=True, text=True, timeout=300,
                          env=ENV)


def har_entries(path: Path) -> Counter:
    return Counter(json.dumps(e, sort_keys=True) for e in json.loads(path.read_text())["log"]["entries"])


def summary(stderr: str, out: Path) -> str:
    return stderr.replace(str(out), "OUT")


def test_several_inputs_three_workers_in_tshark(tmp_path, tshark):
    inputs = [str(FIXTURES / s) for s in ("v2_client.frames.jsonl.gz", "gen_server_v15.frames.jsonl.gz")]
    one = convert(tmp_path / "one", *inputs)
    three = convert(tmp_path / "three", *inputs, jobs=3)
    assert one.returncode == three.returncode == 0, three.stderr
    merged = dissect(tshark, tmp_path / "three" / "o.pcapng")
    assert not bad_expert(merged)
    requests = lambda frames: Counter(u for f in frames for u in f["http.request.uri"] + f["http2.headers.path"])  # noqa: E731
    assert requests(merged) == requests(dissect(tshark, tmp_path / "one" / "o.pcapng")) != Counter()
    times = [float(f.first("frame.time_epoch")) for f in merged]
    streams = defaultdict(list)
    for f, t in zip(merged, times):
        streams[f.first("tcp.stream")].append(t)
    assert all(ts == sorted(ts) for ts in streams.values())


@pytest.mark.parametrize("args,words", [
    (["-"], "stdin"),
    (["{fix}", "-w", "-"], "-w -"),
    (["{fix}", "-b", "filesize:100"], "-b"),
])
def test_what_j_cannot_do_is_refused_before_anything_is_written(tmp_path, args, words):
    fix = str(FIXTURES / "v2_client.frames.jsonl.gz")
    argv = [a.replace("{fix}", fix) for a in args]
    p = subprocess.run([sys.executable, "-m", "ecq2pcap", "convert", *argv, "--har", str(tmp_path / "o.har"),
                        "-j", "2"], capture_output=True, text=True, timeout=60, env=ENV, input="")
    assert p.returncode == 2 and words in p.stderr and "Traceback" not in p.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_output_that_is_the_input_is_refused_with_j(tmp_path):
    src = tmp_path / "in.jsonl.gz"
    src.write_bytes((FIXTURES / "v2_client.frames.jsonl.gz").read_bytes())
    p = subprocess.run([sys.executable, "-m", "ecq2pcap", "convert", str(src), "-w", str(src), "-j", "2"],
                       capture_output=True, text=True, timeout=60, env=ENV)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert src.read_bytes() == (FIXTURES / "v2_client.frames.jsonl.gz").read_bytes()


@pytest.mark.parametrize("flt", [("--host", "*.example.com"), ("--comm", "curl"), ()])
def test_filters_give_the_same_outputs_with_workers(tmp_path, flt):
    from tests.support import mixed_stream

    src = mixed_stream.write(tmp_path / "mixed.jsonl")
    one = convert(tmp_path / "one", str(src), *flt)
    two = convert(tmp_path / "two", str(src), *flt, jobs=2)
    assert one.returncode == two.returncode == 0, two.stderr
    assert Counter(epbs(tmp_path / "one" / "o.pcapng")) == Counter(epbs(tmp_path / "two" / "o.pcapng"))
    assert har_entries(tmp_path / "one" / "o.har") == har_entries(tmp_path / "two" / "o.har") != Counter()
    assert summary(one.stderr, tmp_path / "one") == summary(two.stderr, tmp_path / "two")
