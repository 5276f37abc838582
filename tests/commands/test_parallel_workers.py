"""``convert -j``: who writes a connection, a worker that fails or dies, Ctrl-C, a disk that fills up.

Worker 0 gives each new connection to a worker that is not behind, so which worker writes which
connection varies from run to run; the outputs must not (byte-for-byte equality with one process on
the fixtures: test_parallel_bytes.py)."""

from __future__ import annotations

import gzip
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ecq2pcap import shards
from ecq2pcap.cli import main
from tests.support.cli import run_main, signal_when, stop_signals_at_default
from tests.support.dissect import bad_expert, dissect
from tests.support.golden import GOLDEN, digests, inputs
from tests.support.mixed_stream import event_line, many_connections
from tests.support.pcapng import epbs

ROOT = Path(__file__).resolve().parent.parent.parent
EXPECTED = json.loads(GOLDEN.read_text())


@pytest.mark.parametrize("key", sorted(k for k in EXPECTED if k.endswith(" default")))
def test_same_outputs_whoever_writes_a_connection(key, monkeypatch):
    """Worker 0 gives connections to whoever is not behind, so who writes which connection varies from
    run to run; here it is forced to rotate over all three workers (worker 0 included), every list
    sent at once: the outputs are still those of one process."""
    assigned = []

    def rotate(self):
        assigned.append(len(assigned) % self.workers)
        return assigned[-1]

    monkeypatch.setattr(shards.Dispatcher, "_assign", rotate)
    monkeypatch.setattr(shards, "BATCH_EVENTS", 1)
    name, variant = key.rsplit(" ", 1)
    path = next(p for p in inputs() if p.name == name)
    assert digests(path, variant, ["-j", "3"]) == EXPECTED[key], f"{key}: -j 3 differs from -j 1"
    assert len(set(assigned)) == min(len(assigned), 3)


@pytest.mark.parametrize("how,says", [
    ("raise", "RuntimeError: broken on purpose"),
    ("exit", "exited with code 3"),
])
def test_a_failing_worker_leaves_valid_empty_outputs_and_exit_1(tmp_path, monkeypatch, how, says):
    def broken(self, data, handle):
        if how == "exit":
            os._exit(3)  # the worker dies at once: worker 0's next write to it fails
        raise RuntimeError("broken on purpose")

    monkeypatch.setattr(shards.ShardFeed, "batch", broken)
    monkeypatch.setattr(shards, "BATCH_EVENTS", 1)  # many batches: worker 0 goes on sending after the failure
    many_connections(tmp_path / "in.jsonl", 2000)
    res = run_main("convert", "in.jsonl", "-w", "o.pcapng", "--har", "o.har", "-j", "2", cwd=tmp_path)
    err = res.stderr.decode()
    assert res.returncode == 1, err
    assert "worker 1 of -j 2 failed" in err and says in err and "outputs were not merged" in err
    assert "Traceback" not in err.split("failed:")[0]
    har = json.loads((tmp_path / "o.har").read_text())
    assert har["log"]["entries"] == []
    pcapng = (tmp_path / "o.pcapng").read_bytes()
    assert pcapng[:4] == b"\x0a\x0d\x0d\x0a" and b"\x06\x00\x00\x00" not in pcapng[pcapng.index(b"ecapture"):]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "o.har", "o.pcapng"]  # no temporary files left


@pytest.mark.parametrize("jobs, sig, group", [
    ("2", signal.SIGINT, True),  # Ctrl-C: SIGINT to the whole process group, as a terminal sends it
    ("2", signal.SIGTERM, False),  # kill PID, timeout: they killed it, the outputs left empty, the folder there
    ("2", signal.SIGHUP, True),  # a closed terminal or ssh session: to the whole group
    ("1", signal.SIGTERM, False),  # they killed it: no FIN, no summary
])
def test_ctrl_c_completes_the_outputs(tmp_path, tshark, jobs, sig, group):
    """Ctrl-C, SIGTERM or SIGHUP while -j 2 (or one process) converts: exit 130, said once, and both outputs
    complete and readable with what was converted; -j's folder removed."""
    many_connections(tmp_path / "big.jsonl", 20000)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "ecq2pcap", "convert", "big.jsonl", "-w", "o.pcapng", "--har",
                             "o.har", "-j", jobs, "-q"], cwd=tmp_path, env=env, stderr=subprocess.PIPE,
                            start_new_session=True, preexec_fn=stop_signals_at_default)

    def written() -> int:  # what the workers' parts (or the one process's pcapng) hold so far
        parts = [f for d in tmp_path.glob(".ecq2pcap-jobs-*") for f in d.glob("*.pcapng")]
        return sum(f.stat().st_size for f in parts or [tmp_path / "o.pcapng"] if f.exists())

    signal_when(proc, lambda: written() >= 300_000, sig, group)  # (the whole run writes ~10 MB)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode()
    assert err.decode().count("interrupted: completing the outputs") == 1, err.decode()
    entries = json.loads((tmp_path / "o.har").read_text())["log"]["entries"]
    frames = dissect(tshark, tmp_path / "o.pcapng")
    assert 0 < len(entries) < 20000 and len(frames) > 0
    assert not bad_expert(frames)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.jsonl", "o.har", "o.pcapng"]


def test_disk_full_mid_run_one_error_per_file_and_valid_outputs(tmp_path, tshark):
    """Writes past a size fail as on a full disk (RLIMIT_FSIZE: EFBIG) in every process: the workers' files
    stop where they were, the merge fills the outputs up to the limit with whole blocks, exit 1."""
    import resource

    from tests.support.har import validate_har

    many_connections(tmp_path / "in.jsonl", 2000)
    limit = 200_000

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    p = subprocess.run([sys.executable, "-m", "ecq2pcap", "convert", "in.jsonl", "-w", "o.pcapng", "--har", "o.har",
                        "-j", "2", "-q"], cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)},
                       capture_output=True, text=True, timeout=120, preexec_fn=small_files)
    assert p.returncode == 1 and "Traceback" not in p.stderr, p.stderr
    assert "cannot write: File too large" in p.stderr and ".ecq2pcap-jobs" not in p.stderr  # the output's name
    assert re.search(r"o\.(pcapng|har) \(worker \d's part\): cannot write", p.stderr), p.stderr
    assert 0 < (tmp_path / "o.pcapng").stat().st_size <= limit
    frames = dissect(tshark, tmp_path / "o.pcapng")  # fails on a cut-short block
    assert frames and not bad_expert(frames)
    validate_har(json.loads((tmp_path / "o.har").read_text()))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "o.har", "o.pcapng"]


@pytest.mark.parametrize("part", ["pcapng", "har"])
def test_a_part_that_ends_early_is_merged_as_whole_blocks_and_entries(tmp_path, monkeypatch, tshark, capfd, part):
    """One of worker 1's temporary files fails mid-write (half a write lands, as on a disk that fills up) while
    the outputs have room: the merge takes whole blocks and entries from its parts (it stops writing both at
    its first failure) and all of worker 0's, exit 1."""
    import errno

    from ecq2pcap.commands import parallel
    from tests.support.har import validate_har

    class FillsUp(parallel.OutputFile):
        def write(self, data):
            room = 30_000 - self.tell()
            if (self.label or "").endswith(f".{part} (worker 1's part)") and len(data) > room:
                super().write(bytes(data)[:max(room, 0)])
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), self.label)
            return super().write(data)

    turn = []

    def alternate(self):
        turn.append(len(turn) % 2)
        return turn[-1]

    monkeypatch.setattr(parallel, "OutputFile", FillsUp)
    monkeypatch.setattr(shards, "ENTRY_BUFFER", 4096)  # HAR parts written in small pieces: some land
    monkeypatch.setattr(shards.Dispatcher, "_assign", alternate)
    many_connections(tmp_path / "in.jsonl", 600)
    one = run_main("convert", "in.jsonl", "-w", "1.pcapng", "--har", "1.har", cwd=tmp_path)
    monkeypatch.chdir(tmp_path)
    capfd.readouterr()
    code = main(["convert", "in.jsonl", "-w", "2.pcapng", "--har", "2.har", "-j", "2", "-q"])  # (the workers'
    err = capfd.readouterr().err  # stderr too: run_main's would stay in each forked worker's copy)
    assert one.returncode == 0 and code == 1, err
    assert "(worker 1's part): cannot write: No space left on device" in err and "Traceback" not in err
    assert err.count("cannot write") == 1, err  # the worker stops at its first failed write
    frames = dissect(tshark, tmp_path / "2.pcapng")
    assert not bad_expert(frames)
    entries = json.loads((tmp_path / "2.har").read_text())["log"]["entries"]
    validate_har(json.loads((tmp_path / "2.har").read_text()))
    all_entries = json.loads((tmp_path / "1.har").read_text())["log"]["entries"]
    # worker 0's half complete, worker 1's cut short: more than half, less than all
    assert len(all_entries) // 2 < len(entries) < len(all_entries)
    assert len(all_entries) // 2 * 5 < len(frames) < len(epbs(tmp_path / "1.pcapng"))
    assert f"2.{part} (worker 1's part)" in err


def test_j_auto_is_one_process_per_cpu_or_one_where_j_cannot_be_used(tmp_path, monkeypatch):
    from ecq2pcap.commands import convert

    key = "v140_client.dump.jsonl.gz default"
    path = next(p for p in inputs() if p.name == key.split()[0])
    seen = []
    real = convert.jobs_for
    monkeypatch.setattr(convert, "jobs_for", lambda args: seen.append(real(args)) or seen[-1])
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    assert digests(path, "default", ["-j", "auto"]) == EXPECTED[key]
    assert seen == [3]
    # stdin (and -w -, --har -, -b): one process, not the usage error an explicit -j 2 gets
    data = gzip.decompress(path.read_bytes())
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for jobs, code in (("auto", 0), ("2", 2)):
        p = subprocess.run([sys.executable, "-m", "ecq2pcap", "convert", "-", "-w", "o.pcapng", "-q", "-j", jobs],
                           cwd=tmp_path, env=env, input=data, capture_output=True, timeout=60)
        assert p.returncode == code, p.stderr
    assert (tmp_path / "o.pcapng").stat().st_size > 10_000


def test_ctrl_c_takes_effect_between_two_messages():
    """Ctrl-C while a message is converted comes after it (worker 0: a list half handed on would put its numbers
    out of step with its events; one process: what the reorder buffer was releasing was lost); while the input
    is read, at once; the previous SIGINT handler is back afterwards."""
    from ecq2pcap.commands.conversion import CtrlC, feed_sources
    from ecq2pcap.report import Report

    class Pipeline:
        def __init__(self) -> None:
            self.done: list[int] = []
            self.sinks, self.closed_sinks = [object()], set()

        def feed(self, message: int) -> None:
            if message == 2:
                os.kill(os.getpid(), signal.SIGINT)  # arrives now, mid-message
            self.done.append(message)

    def reading(messages):
        for m in messages:
            if m == "kill":
                os.kill(os.getpid(), signal.SIGINT)  # arrives while the input is read: at once
            yield m

    before = signal.getsignal(signal.SIGINT)
    for messages, done in (([1, 2, 3], [1, 2]), ([1, "kill", 3], [1])):
        pipeline, ctrl_c = Pipeline(), CtrlC()
        with ctrl_c.deferred():
            assert feed_sources(pipeline, [reading(messages)], Report(), ctrl_c=ctrl_c) == 130
        assert pipeline.done == done  # (the message completed first; nothing after it)
    assert signal.getsignal(signal.SIGINT) is before


def test_the_temporary_files_a_killed_run_left_are_removed_by_the_next(tmp_path, capsys):
    """kill -9 during -j left a .ecq2pcap-jobs-* folder of captured plaintext beside the outputs, for good (the
    safety audit's minor finding). The next -j run there removes the folders whose process is gone, says so, and
    leaves those of a run still going (and its own is gone at its end)."""
    gone = tmp_path / ".ecq2pcap-jobs-4194999-abcd"  # (over Linux's largest pid: no such process)
    living = tmp_path / f".ecq2pcap-jobs-{os.getpid()}-efgh"
    for d in (gone, living):
        d.mkdir()
        (d / "1.har").write_text("captured plaintext")
    out = tmp_path / "o.pcapng"
    assert main(["convert", str(ROOT / "fixtures" / "v140_client.dump.jsonl.gz"), "-w", str(out), "-j", "2", "-q"]) == 0
    err = capsys.readouterr().err
    assert not gone.exists() and f"removed {gone}, the temporary files of a -j run that was killed" in err
    assert (living / "1.har").exists() and sorted(p.name for p in tmp_path.iterdir()) == [living.name, "o.pcapng"]


def test_the_workers_lines_are_said_under_the_runs_cap_each_whole(tmp_path):
    """Each worker said up to 20 lines of a reason itself, on the same stderr at once: 20 lines of -j 1 became
    up to 20 × N, and two processes' lines ran into each other. Worker 0 says them now, under one cap."""
    lines = [event_line(i, 1000 + i, "curl", 5, 0, f"10.1.0.{i % 250 + 1}:{40000 + i}-10.0.0.1:443", 3,
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") for i in range(300)]
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n")  # 300 responses whose requests were not captured
    said = {}
    for jobs in ("1", "2"):
        res = subprocess.run([sys.executable, "-m", "ecq2pcap", "convert", "in.jsonl", "--har", f"{jobs}.har",
                              "-j", jobs, "--no-progress"], cwd=tmp_path, capture_output=True, text=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
        assert res.returncode == 0, res.stderr
        err = res.stderr.splitlines()
        assert all(ln.startswith(("ecq2pcap: ", "ecq2pcap summary:")) if "ecq2pcap" in ln else ln.startswith("  ")
                   for ln in err), err
        assert all(ln.count("ecq2pcap") == 1 for ln in err if "ecq2pcap" in ln), err
        said[jobs] = [ln for ln in err if ln.startswith("ecq2pcap") and "request not captured" in ln]
        assert len(said[jobs]) == 21 and "(further" in said[jobs][-1], res.stderr
    assert len(json.loads((tmp_path / "2.har").read_text())["log"]["entries"]) == 300


@pytest.mark.parametrize("writer", [0, 1])
def test_rests_made_up_in_lists_of_their_own_are_the_same_outputs_whoever_writes_them(writer, tmp_path,
                                                                                         monkeypatch, capsys):
    """A WebSocket stream of 40 frames eCapture cut, each rest made up (~100 KB), lists of at most 300 KB of them
    (flows.ordering.MADE_UP_BATCH): ``-j 2`` writes what one process writes, worker 0 or worker 1 writing it, and its
    summary counts the bytes made up as one process does."""
    from ecq2pcap.flows import ordering
    from tests.support.made_up import BATCH, stream

    monkeypatch.setattr(ordering, "MADE_UP_BATCH", BATCH)
    monkeypatch.setattr(shards.Dispatcher, "_assign", lambda self: writer)
    dump = tmp_path / "ws.jsonl"
    dump.write_bytes(stream(40, 0.0001, True))
    outs = {}
    for jobs in ("1", "2"):
        pcap, har = tmp_path / f"{jobs}.pcapng", tmp_path / f"{jobs}.har"
        assert main(["convert", str(dump), "-j", jobs, "-w", str(pcap), "--har", str(har)]) == 0
        made_up = [line for line in capsys.readouterr().err.splitlines() if "made up" in line and "zeros" in line]
        outs[jobs] = pcap.read_bytes(), har.read_bytes(), made_up
    assert outs["1"] == outs["2"] and len(outs["1"][0]) > 40 * 100_000
    assert outs["1"][2] == [f"  made up      {40 * (100_000 + 10 - 110):,}  bytes of zeros in the place of frames' rests "
                            "eCapture lost (see the packet comments)"]
