"""What Wireshark shows when an eCapture interface's capture cannot do what it was asked (the extcap's stderr,
shown in a dialog, and a non-zero exit): a bad option value (an empty error before: argparse's exit went past the
lines kept for it), a capture filter (silently ignored before), a wrong address while reconnecting (an empty
capture and no word before). And a filter value that starts with "-" is a value."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from ecq2pcap.cli import build_parser
from ecq2pcap.wireshark.extcap import joined_values, live_argv
from tests.support.waiting import wait_for
from tests.support.wireshark_home import henv
from tests.test_wireshark import launcher, run_launcher

pytestmark = pytest.mark.live


def _capturing(pid: int) -> bool:
    """Whether the capture in process ``pid`` is under way: ``live`` starts its converting process (its only
    child) once its modules are imported and its outputs opened, right before it connects."""
    try:
        return bool(Path(f"/proc/{pid}/task/{pid}/children").read_text().split())
    except OSError:
        return False


def _capture(home, tmp_path, *options: str, stop_after: float | None = None) -> subprocess.CompletedProcess:
    """The launcher's capture into a FIFO that ``cat`` reads; SIGTERM ``stop_after`` s after the capture got under
    way (as Wireshark stops; counted from then, not from the start: a signal while the program starts ends it
    before it tried anything, and a busy machine took over 2 s to get there)."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.DEVNULL)
    env = {k: v for k, v in henv(home).items() if k != "PYTHONPATH"}
    proc = subprocess.Popen([str(launcher(home)), "--extcap-interface", "ecapture", "--capture", "--fifo", str(fifo),
                             *options], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        if stop_after is not None:
            assert wait_for(lambda: _capturing(proc.pid) or proc.poll() is not None, 60), "the capture never started"
            time.sleep(stop_after)
            proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        reader.wait(timeout=30)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_a_bad_option_value_says_which_and_why(home, tmp_path):
    p = _capture(home, tmp_path, "--url", "ws://127.0.0.1:1/", "--port-map", "443-80")
    assert p.returncode != 0
    assert "--port-map" in p.stderr and "443-80" in p.stderr and "Traceback" not in p.stderr


def test_a_capture_filter_is_refused_not_ignored(home, tmp_path):
    # (Wireshark's check of a filter reads stdout, and only after an exit status 0: the filter is shown invalid)
    p = run_launcher(home, "--extcap-interface", "ecapture", "--extcap-capture-filter", "tcp port 9999")
    assert p.returncode == 0 and p.stdout.startswith("capture filters are not supported") and p.stderr == ""
    p = run_launcher(home, "--extcap-interface", "ecapture", "--capture", "--fifo", str(tmp_path / "fifo"),
                     "--extcap-capture-filter", "tcp port 9999")  # (refused before its FIFO is opened)
    assert p.returncode != 0 and "capture filters are not supported" in p.stderr
    p = run_launcher(home, "--extcap-interface", "ecapture", "--extcap-capture-filter", "")
    assert "capture filters" not in p.stderr  # (no filter: nothing to refuse)


def test_stopped_while_retrying_a_wrong_address_says_it_never_connected(home, tmp_path):
    p = _capture(home, tmp_path, "--url", "ws://127.0.0.1:1/", stop_after=1.0)
    assert p.returncode != 0 and "cannot connect to ws://127.0.0.1:1/" in p.stderr


def test_a_filter_value_that_starts_with_a_dash_is_a_value():
    argv = joined_values(["extcap", "--capture", "--comm", "-x", "--url", "ws://h:1/", "--keep-ports"])
    assert argv == ["extcap", "--capture", "--comm=-x", "--url=ws://h:1/", "--keep-ports"]
    args = build_parser(["extcap"]).parse_args(argv)
    assert args.comm == ["-x"]
    assert build_parser(["live"]).parse_args(live_argv(args)).comm == ["-x"]  # (and live takes it as one too)


def test_a_capture_whose_starter_was_killed_stops(home, tmp_path):
    """Wireshark killed (kill -9, a crash): dumpcap, orphaned too, kept reading the FIFO, so no write failed, and a
    quiet eCapture kept the capture connected to it for good. It now stops once the program that started it is gone."""
    import sys

    from tests.support.fake_ecapture import FakeECapture

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.DEVNULL)  # (dumpcap: it outlives the starter)
    pid_file = tmp_path / "pid"
    env = {k: v for k, v in henv(home).items() if k != "PYTHONPATH"}
    with FakeECapture(heartbeat_s=0.2) as server:  # (heartbeats only: nothing is written)
        starter = subprocess.Popen([sys.executable, "-c", (
            "import subprocess, sys, time\n"
            f"p = subprocess.Popen([{str(launcher(home))!r}, '--extcap-interface', 'ecapture', '--capture', "
            f"'--fifo', {str(fifo)!r}, '--url', {server.url!r}])\n"
            f"open({str(pid_file)!r}, 'w').write(str(p.pid))\n"
            "time.sleep(600)\n")], env=env)
        try:
            assert server.wait_clients(1, timeout=30)
            capture = int(pid_file.read_text())
            starter.kill()
            starter.wait()
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and _alive(capture):
                time.sleep(0.2)
            assert not _alive(capture)
            while time.monotonic() < deadline + 10 and server.clients:
                time.sleep(0.1)
            assert server.clients == 0  # (its connection to eCapture is closed)
        finally:
            starter.kill()
            reader.kill()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"  # (a zombie has ended)
    except OSError:
        return False
