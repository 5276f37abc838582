"""``nohup ecq2pcap live ...``: a SIGHUP left ignored by whoever started the run stays ignored, so that the run
goes on after its terminal or ssh session closes (as tcpdump keeps it). The run's own handlers took it: the
hang-up stopped a nohup'd capture. SIGHUP at its default still stops it (the control), as SIGTERM does."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.support.fake_ecapture import FakeECapture
from tests.support.waiting import wait_for

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, PYTHONPATH=ROOT)


def _as_started(hangup) -> callable:
    def preexec() -> None:  # (the others at their default, whatever the test run's own are)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGHUP, hangup)
    return preexec


def _hang_up_then_stop(args: list[str], nohup: bool, under_way, feed: str | None = None) -> tuple[bool, int, str]:
    """``ecq2pcap ARGS`` started with SIGHUP ignored (``nohup``) or at its default; once ``under_way()``, SIGHUP,
    then SIGTERM if it is still running a second later: (whether it was, its exit code, its stderr)."""
    proc = subprocess.Popen([sys.executable, "-m", "ecq2pcap", *args], env=ENV, stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_as_started(signal.SIG_IGN if nohup else signal.SIG_DFL))
    try:
        if feed is not None:
            proc.stdin.write(feed)
            proc.stdin.flush()
        assert wait_for(under_way), "it did not get under way"
        time.sleep(0.3)
        proc.send_signal(signal.SIGHUP)
        time.sleep(1.0)
        went_on = proc.poll() is None
        if went_on:
            proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return went_on, proc.returncode, err


@pytest.mark.live
@pytest.mark.parametrize("nohup", [True, False])
def test_live_under_nohup_goes_on_after_a_hang_up(tmp_path, nohup):
    har = tmp_path / "o.har"
    with FakeECapture(heartbeat_s=0.1) as fake:
        went_on, code, err = _hang_up_then_stop(["live", fake.url, "--har", str(har)], nohup,
                                                lambda: fake.connections >= 1)
    assert went_on == nohup, err
    assert code == 0 and "ecq2pcap summary:" in err and "Traceback" not in err, err
    assert json.loads(har.read_text(encoding="utf-8"))["log"]["entries"] == []


@pytest.mark.parametrize("nohup", [True, False])
def test_convert_of_a_pipe_under_nohup_goes_on_after_a_hang_up(tmp_path, nohup):
    pcap = tmp_path / "o.pcapng"
    log = '{"log_type":1,"payload":{"level":"info","Version":"v1.4.2","time":"2026-11-26T17:56:40Z"}}\n'
    went_on, code, err = _hang_up_then_stop(["convert", "-", "-w", str(pcap)], nohup,
                                            lambda: pcap.exists() and pcap.stat().st_size > 0, feed=log)
    assert went_on == nohup, err
    assert code == 130 and "interrupted" in err and "Traceback" not in err, err
    assert pcap.read_bytes()[:4] == b"\x0a\x0d\x0d\x0a"
