"""``live`` converts in a child process: it completes the outputs when the parent is killed, a failure
there reaches the user instead of hanging the capture, and without fork ``live`` converts in its own
process with the same outputs."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import signal
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest

from ecq2pcap import live
from ecq2pcap.cli import main
from ecq2pcap.commands import converting
from tests.conftest import FIXTURES, ROOT
from tests.support.cli import stop_signals_at_default
from tests.support.fake_ecapture import FakeECapture, load_frames
from tests.support.pcapng import epbs
from tests.support.recordings import as_bytes, read_recording
from tests.support.waiting import wait_for

pytestmark = pytest.mark.live

ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


@contextlib.contextmanager
def _live_process(url: str, *args: str, command: str = "live", **popen):
    """``ecq2pcap live URL ARGS`` in a process of its own (stderr piped as text), killed if a test fails."""
    proc = subprocess.Popen([sys.executable, "-m", "ecq2pcap", command, url, *args], env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, **popen)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _converting_child(pid: int) -> int:
    """The pid of ``live``'s converting process (its only child)."""
    assert wait_for(lambda: Path(f"/proc/{pid}/task/{pid}/children").read_text().split())
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    assert len(children) == 1, children
    return int(children[0])


def _fins(tshark: str, pcap: Path) -> int:
    out = subprocess.run([tshark, "-r", str(pcap), "-Y", "tcp.flags.fin == 1", "-T", "fields", "-e", "frame.number"],
                         capture_output=True, text=True, check=True).stdout
    return len(out.split())


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1][0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads the child's pid from /proc")
def test_the_outputs_are_completed_when_live_is_killed(tmp_path, tshark):
    """SIGKILL of ``live`` (the OOM killer, kill -9): its converting process reads the end of its pipe and
    completes the outputs, every connection ended with its FINs as at a normal stop; the HAR has every entry
    convert of the recording has."""
    replay, stream = load_frames(FIXTURES / "v140_client.frames.jsonl.gz")
    pcap, har, rec = tmp_path / "o.pcapng", tmp_path / "o.har", tmp_path / "rec.jsonl"
    with FakeECapture(replay=replay, script=stream) as fake, _live_process(
            fake.url, "-w", str(pcap), "--har", str(har), "--record", str(rec), "--idle-timeout", "0", "-q") as proc:
        assert wait_for(lambda: fake.scripts_done >= 1), "the fake eCapture did not send its stream"
        assert wait_for(lambda: rec.exists() and rec.read_bytes().count(b"\n") >= 1 + len(replay) + len(stream))
        child = _converting_child(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
        assert wait_for(lambda: not _alive(child)), "the converting process did not end"
    conv_pcap, conv_har = tmp_path / "conv.pcapng", tmp_path / "conv.har"
    assert main(["convert", str(rec), "-w", str(conv_pcap), "--har", str(conv_har), "-q"]) == 0
    expected = _fins(tshark, conv_pcap)
    assert expected > 0 and _fins(tshark, pcap) == expected  # (an unfinished capture has none)
    entries = json.loads(har.read_bytes())["log"]["entries"]
    assert len(entries) == len(json.loads(conv_har.read_bytes())["log"]["entries"]) > 0


def _gz_lines(path: Path) -> list[bytes]:
    """The whole lines of a gzip file so far (a file still being written has no end yet)."""
    try:
        data = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(path.read_bytes())
    except (OSError, zlib.error):
        return []
    return data.split(b"\n")[:-1]


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads the child's pid from /proc")
def test_a_gzip_recording_is_completed_when_record_is_killed(tmp_path):
    """``record`` writes in a process of its own too: killed with SIGKILL, it leaves that process to complete
    the recording, a whole gzip file with every message received (in one process, the gzip file would end
    without its trailer, and the messages not yet written would be lost)."""
    replay, stream = load_frames(FIXTURES / "v140_client.frames.jsonl.gz")
    rec = tmp_path / "rec.jsonl.gz"
    with FakeECapture(replay=replay, script=stream) as fake, _live_process(
            fake.url, "-o", str(rec), "-q", command="record") as proc:
        assert wait_for(lambda: fake.scripts_done >= 1), "the fake eCapture did not send its stream"
        assert wait_for(lambda: len(_gz_lines(rec)) >= 1 + len(replay) + len(stream))
        child = _converting_child(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
        assert wait_for(lambda: not _alive(child)), "the recording process did not end"
    with gzip.open(rec, "rb") as f:  # (a gzip file without its end raises EOFError here)
        lines = f.read().splitlines()
    assert [m.data for m in read_recording(rec)] == [as_bytes(f) for f in replay + stream]
    assert len(lines) == 1 + len(replay) + len(stream)


def test_a_failure_in_the_converting_process_is_said_and_the_outputs_completed(tmp_path, monkeypatch, capsys):
    replay, stream = load_frames(FIXTURES / "v140_client.frames.jsonl.gz")

    def broken(self, batch):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(live.Session, "process", broken)  # (the forked child has it too)
    har = tmp_path / "o.har"
    with FakeECapture(replay=replay, script=stream) as fake:
        t0 = time.monotonic()
        assert main(["live", fake.url, "--har", str(har), "--duration", "5"]) == 1
        assert time.monotonic() - t0 < 4  # it stopped at the failure
    err = capsys.readouterr().err
    assert "error: the converting process failed (a bug" in err and "ZeroDivisionError: a bug" in err
    assert "live " in err  # the reading side's summary line
    assert json.loads(har.read_text())["log"]["entries"] is not None  # completed, valid


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads the child's pid from /proc")
def test_a_killed_converting_process_stops_live_with_exit_1(tmp_path, tshark):
    """The OOM killer picks the process that holds the most: the converting one. live then says so and
    stops (exit 1, no traceback); the outputs hold what it wrote, readable."""
    replay, stream = load_frames(FIXTURES / "v140_client.frames.jsonl.gz")
    pcap, har = tmp_path / "o.pcapng", tmp_path / "o.har"
    with FakeECapture(replay=replay, script=stream, heartbeat_s=0.05, immediate_heartbeat=True) as fake, \
            _live_process(fake.url, "-w", str(pcap), "--har", str(har)) as proc:
        assert wait_for(lambda: fake.scripts_done >= 1), "the fake eCapture did not send its stream"
        child = _converting_child(proc.pid)
        time.sleep(0.5)
        os.kill(child, signal.SIGKILL)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1, err
    assert "error: the converting process was killed by signal 9" in err and "Traceback" not in err
    json.loads(har.read_text())  # valid (the entries committed before the kill)
    subprocess.run([tshark, "-r", str(pcap)], check=True, capture_output=True)


def test_ctrl_c_while_the_child_opens_the_outputs_lets_it_complete_them_and_end(tmp_path):
    """Ctrl-C comes before live's signal handlers are in place, while the child opens the outputs: the child
    must still complete them and end (it once waited for a call, and the interrupted parent for it, forever)."""
    import argparse
    import multiprocessing

    from ecq2pcap.commands.live_outputs import Served

    finished = tmp_path / "finished"

    def slow_opener(args, stack, say):  # (outputs that take their time to open, e.g. on a slow disk)
        time.sleep(1.0)
        return Served(live.Session(None, None), lambda: finished.write_text("completed"), lambda: "")

    def interrupt(*_):
        raise KeyboardInterrupt

    before = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.3)  # (the Ctrl-C, while start() waits for the child)
    try:
        with pytest.raises(KeyboardInterrupt):
            converting.start(argparse.Namespace(), lambda text: None, slow_opener, "test")
        assert finished.read_text() == "completed"  # (start() returned after the child ended)
        assert not multiprocessing.active_children()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, before)
        for proc in multiprocessing.active_children():  # (a failing run must not leave the child waiting)
            proc.kill()


def test_without_fork_live_converts_in_its_own_process(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(live, "TICK_S", 3600.0)
    replay, stream = load_frames(FIXTURES / "v140_client.frames.jsonl.gz")
    outs = {}
    for how in ("child", "here"):
        if how == "here":
            monkeypatch.setattr(converting, "start", lambda *args: None)
        pcap, har = tmp_path / f"{how}.pcapng", tmp_path / f"{how}.har"
        with FakeECapture(replay=replay, script=stream) as fake:
            assert main(["live", fake.url, "-w", str(pcap), "--har", str(har), "--idle-timeout", "0",
                         "--duration", "1"]) == 0
        err = capsys.readouterr().err
        assert "ecq2pcap summary" in err and "live " in err
        url = fake.url.encode()  # (each fake eCapture has its own port: the origins differ by it)
        outs[how] = ([(t, data, opts.replace(url, b"URL")) for t, data, opts in epbs(pcap)],
                     har.read_bytes().replace(url, b"URL"))
    assert outs["child"][0] and outs["child"] == outs["here"]


def test_without_fork_record_writes_in_its_own_process(tmp_path, monkeypatch, capsys):
    replay, stream = load_frames(FIXTURES / "v140_client.frames.jsonl.gz")
    for how in ("child", "here"):
        if how == "here":
            monkeypatch.setattr(converting, "start", lambda *args: None)
        rec = tmp_path / f"{how}.jsonl.gz"
        with FakeECapture(replay=replay, script=stream) as fake:
            assert main(["record", fake.url, "-o", str(rec), "--duration", "1"]) == 0
        n = len(replay) + len(stream)
        assert f"ecq2pcap: recorded {n} messages (" in capsys.readouterr().err
        assert [m.data for m in read_recording(rec)] == [as_bytes(f) for f in replay + stream]


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads the child's pid from /proc")
def test_the_converting_process_yields_the_cpu_to_the_reader(tmp_path):
    """eCapture drops a reader that falls behind; the converter only lets the backlog grow. So when the CPUs
    are busy the reader must win: the converting process runs at a lower priority (nice +10)."""
    with FakeECapture(heartbeat_s=0.1) as fake, _live_process(
            fake.url, "--har", str(tmp_path / "o.har"), "--duration", "5", "-q") as proc:
        child = _converting_child(proc.pid)
        # (live connects once the child is ready, and it lowers its priority first; Ctrl-C then finds live
        # capturing, not starting)
        assert wait_for(lambda: fake.connections >= 1), "live did not connect"
        parent_nice, child_nice = os.getpriority(os.PRIO_PROCESS, proc.pid), os.getpriority(os.PRIO_PROCESS, child)
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    assert child_nice == min(parent_nice + converting.NICENESS, 19) > parent_nice
    assert proc.returncode == 0


def test_the_converting_process_keeps_no_copy_of_the_callers_sockets(tmp_path):
    """A program that calls ``main`` may hold sockets (here: one end of a pair). The forked converting
    process must not keep them open after their owner closes them, or the peer never sees the end."""
    import multiprocessing
    import socket
    import threading

    mine, peer = socket.socketpair()
    with FakeECapture(heartbeat_s=0.1) as fake:
        run = threading.Thread(target=main, args=(["live", fake.url, "--har", str(tmp_path / "o.har"),
                                                   "--duration", "2", "-q"],))
        run.start()
        try:
            assert wait_for(lambda: multiprocessing.active_children(), 10), "no converting process"
            mine.close()
            peer.settimeout(1.5)
            assert peer.recv(1) == b""  # the end, at once: no copy of `mine` lives on in the child
        finally:
            run.join(30)
            peer.close()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGHUP])
def test_ctrl_c_to_the_process_group_is_the_parents_alone(tmp_path, sig):
    """A terminal's Ctrl-C reaches every process of the group, and so does the hang-up of a closed terminal or ssh
    session: the converting process ignores both, the parent stops and has it complete the outputs (exit 0, the
    summary, no traceback). A hang-up killed both: no FIN, open connections' entries missing, a cut recording (the
    live audit's finding 3)."""
    replay, stream = load_frames(FIXTURES / "v140_client.frames.jsonl.gz")
    pcap, har = tmp_path / "o.pcapng", tmp_path / "o.har"
    with FakeECapture(replay=replay, script=stream) as fake, _live_process(
            fake.url, "-w", str(pcap), "--har", str(har), "--idle-timeout", "0", start_new_session=True,
            preexec_fn=stop_signals_at_default) as proc:
        assert wait_for(lambda: fake.scripts_done >= 1), "the fake eCapture did not send its stream"
        time.sleep(0.5)
        os.killpg(proc.pid, sig)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "ecq2pcap summary" in err and "stopped: outputs completed" in err
    assert json.loads(har.read_text())["log"]["entries"]


def test_a_parent_gone_while_a_call_ran_is_no_traceback():
    """kill -9 of live/record while the writing process handled a call: sending its answer raised BrokenPipeError,
    printed as a traceback (the live audit's finding 1). It returns, so that its caller completes the outputs; an
    answer to the finish that cannot be sent still counts as finished."""
    from types import SimpleNamespace

    class Gone:
        def __init__(self, what):
            self.what = what

        def recv(self):
            return self.what, None

        def send(self, message):
            raise BrokenPipeError(32, "Broken pipe")

    session = SimpleNamespace(process=lambda arg: 1, tick=lambda arg: 0,
                              **{name: 0 for name in converting._STATE})
    finished = []
    served = SimpleNamespace(session=session, finish=lambda: finished.append(1), summary=lambda: "summary")
    assert converting._serve(Gone("process"), served, []) is False and finished == []
    assert converting._serve(Gone("finish"), served, []) is True and finished == [1]


@pytest.mark.parametrize("command", ["live", "record"])
def test_a_reader_of_stdout_gone_before_the_first_byte_stops_as_when_it_goes_later(tmp_path, command):
    """`live URL -w - | viewer` whose viewer failed at once: the converting (recording) process's first write, the
    outputs' header, met a closed pipe; a traceback (the child's BrokenPipeError as a RuntimeError) and exit 1."""
    from tests.support.fake_ecapture import FakeECapture

    read_end, write_end = os.pipe()
    os.close(read_end)  # (the reader is gone before anything is written)
    with FakeECapture() as fake:
        out = ["-w", "-"] if command == "live" else ["-o", "-"]
        p = subprocess.run([sys.executable, "-m", "ecq2pcap", command, fake.url, *out, "--duration", "2"],
                           stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=60, cwd=tmp_path,
                           env={**os.environ, "PYTHONPATH": str(ROOT)})
    os.close(write_end)
    assert p.returncode == 0 and "Traceback" not in p.stderr, p.stderr
    assert "the reader of stdout went away: stopped" in p.stderr
