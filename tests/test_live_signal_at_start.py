"""SIGTERM or SIGHUP that comes while ``live``/``record`` starts (outputs opened, the capture loop's own
handlers not yet in place) stops the run as one that comes later does: exit 0, outputs completed, summary.
It killed the process (exit -15): the differential fuzz of live against convert sent SIGTERM ~0.35 s after
the start, the pcapng existed, the run ended by the signal, without its summary."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

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
                           timeout=60)
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    if command == "live":
        assert "ecq2pcap summary:" in p.stderr
        assert json.loads(har.read_text(encoding="utf-8"))["log"]["entries"] == []
        assert pcap.read_bytes()[:4] == b"\x0a\x0d\x0d\x0a"
    else:
        assert rec.read_text(encoding="utf-8").startswith('{"ecq2pcap":"recording"')
