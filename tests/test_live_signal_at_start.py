"""SIGTERM or SIGHUP that comes while ``live``/``record`` starts (outputs opened, the capture loop's own
handlers not yet in place) stops the run as one that comes later does: exit 0, outputs completed, summary.
It killed the process (exit -15): the differential fuzz of live against convert sent SIGTERM ~0.35 s after
the start, the pcapng existed, the run ended by the signal, without its summary."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.support.cli import stop_signals_at_default
from tests.support.fake_ecapture import FakeECapture, load_frames

# the signal sent to itself right when the capture loop starts, before it installs its handlers
_SCRIPT = """
import os, signal, sys
from ecq2pcap.commands import live as cmd
real = cmd.capture
async def capture(*args, **kwargs):
    os.kill(os.getpid(), getattr(signal, sys.argv[1]))
    return await real(*args, **kwargs)
cmd.capture = capture
from ecq2pcap.cli import main
sys.exit(main(sys.argv[2:]))
"""

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.live
@pytest.mark.parametrize("sig", ["SIGTERM", "SIGHUP"])
@pytest.mark.parametrize("command", ["live", "record"])
def test_a_stop_signal_while_starting_completes_the_outputs(samples_dir, tmp_path, sig, command):
    replay, stream = load_frames(samples_dir / "v140_client.frames.jsonl.gz")
    pcap, har, rec = tmp_path / "o.pcapng", tmp_path / "o.har", tmp_path / "rec.jsonl"
    outputs = ["-w", str(pcap), "--har", str(har)] if command == "live" else ["-o", str(rec)]
    with FakeECapture(replay=replay, script=stream) as fake:
        p = subprocess.run([sys.executable, "-c", _SCRIPT, sig, command, fake.url, *outputs, "--retry-for", "0"],
                           cwd=tmp_path, env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True,
                           timeout=60, preexec_fn=stop_signals_at_default)  # (a run under nohup: SIGHUP ignored)
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    if command == "live":
        assert "ecq2pcap summary:" in p.stderr
        assert json.loads(har.read_text(encoding="utf-8"))["log"]["entries"] == []
        assert pcap.read_bytes()[:4] == b"\x0a\x0d\x0d\x0a"
    else:
        assert rec.read_text(encoding="utf-8").startswith('{"ecq2pcap":"recording"')


# ``python -m ecq2pcap`` and the console script (``ecq2pcap = ecq2pcap.cli:entry``)
LAUNCHERS = {"-m": ["-m", "ecq2pcap"], "entry": ["-c", "from ecq2pcap.cli import entry; entry()"]}
DELAYS = (0, 0.03, 0.1, 0.3)  # (s) after the program took the signal: the imports take a few tenths


def _caught(pid: int, sig: int) -> bool:
    """Whether process ``pid`` has a handler of its own for ``sig`` (Linux: /proc's SigCgt)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        mask = next(int(line.split()[1], 16) for line in f if line.startswith("SigCgt:"))
    return bool(mask >> (sig - 1) & 1)


def _loaded(pid: int, name: str) -> bool:
    with open(f"/proc/{pid}/maps", encoding="utf-8", errors="replace") as f:
        return name in f.read()


@pytest.mark.live
@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads /proc (Linux)")
@pytest.mark.parametrize("sig, launcher", [("SIGTERM", "-m"), ("SIGHUP", "-m"), ("SIGINT", "-m"),
                                           ("SIGTERM", "entry")])
def test_a_stop_signal_while_the_program_imports_its_modules_ends_it_as_ctrl_c_does(tmp_path, sig,
                                                                                   launcher):
    """SIGTERM or SIGHUP in the few tenths of a second the program imports its modules, before ``live`` took the
    signals, killed it (exit -15); Ctrl-C there, a KeyboardInterrupt caught, could still end it by SIGINT (exit -2:
    CPython's, when it is raised within an ``exec()`` of the imports). The program takes them first: one that comes
    while it imports ends it as Ctrl-C does then (exit 130, README's table, nothing opened); one that comes later,
    as before (exit 0, the outputs completed). Never a traceback. (Before Python runs the program's first line, in
    the interpreter's own start, a signal ends any Python program: the delays are counted from when the program
    took it.)"""
    signum = getattr(signal, sig)
    codes = []
    # (heartbeats only: a run that got connected before the signal has no entries, however fast it connected)
    with FakeECapture(heartbeat_s=0.1) as fake:
        for delay in DELAYS:
            d = tmp_path / f"after{delay}"
            d.mkdir()
            proc = subprocess.Popen(
                [sys.executable, *LAUNCHERS[launcher], "live", fake.url, "-w", "o.pcapng", "--har", "o.har",
                 "--retry-for", "0"], cwd=d, env=dict(os.environ, PYTHONPATH=ROOT), stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE, text=True, preexec_fn=stop_signals_at_default)
            try:
                deadline = time.monotonic() + 30
                while not _caught(proc.pid, signal.SIGHUP):  # (the last the program takes; SIGINT's: Python's)
                    assert proc.poll() is None and time.monotonic() < deadline, "the signal was never taken"
                    time.sleep(0.0005)
                if delay == 0:  # (taken before the heavy imports: msgspec's, among the first, not loaded yet)
                    assert not _loaded(proc.pid, "msgspec")
                time.sleep(delay)
                proc.send_signal(signum)
                _, err = proc.communicate(timeout=60)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            assert proc.returncode in (0, 130), (delay, proc.returncode, err)
            assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
            if proc.returncode == 130:  # (while importing: nothing opened)
                assert sorted(p.name for p in d.iterdir()) == [], err
            else:  # (live had started: its outputs completed; said so before it connected, else its summary)
                assert "ecq2pcap summary:" in err or "stopped before connecting: outputs completed" in err, err
                assert json.loads((d / "o.har").read_text(encoding="utf-8"))["log"]["entries"] == []
                assert (d / "o.pcapng").read_bytes()[:4] == b"\x0a\x0d\x0d\x0a"
            codes.append(proc.returncode)
    assert codes[0] == 130, codes  # (some came while it imported)
