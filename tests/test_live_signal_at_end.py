"""A stop signal while ``live`` completes its outputs, after the one that stopped it (a second SIGTERM, an impatient
Ctrl-C then a kill): the converting process completes the outputs, and the run says so and exits 130. asyncio's
removal of the capture loop's handlers left SIGTERM and SIGHUP at their default there: the signal ended the
process (exit -15, no word, no summary); a Ctrl-C gave 130 without a word."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.support.cli import stop_signals_at_default
from tests.support.fake_ecapture import FakeECapture, load_frames

# the second signal sent right as the parent asks the converting process to complete the outputs
_SCRIPT = """
import os, signal, sys
from ecq2pcap.commands import converting
real = converting.ConvertingProcess.finish
def finish(self):
    os.kill(os.getpid(), getattr(signal, sys.argv[1]))
    return real(self)
converting.ConvertingProcess.finish = finish
from ecq2pcap.cli import main
sys.exit(main(sys.argv[2:]))
"""

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.live
@pytest.mark.parametrize("sig", ["SIGTERM", "SIGHUP", "SIGINT"])
def test_a_stop_signal_while_the_outputs_are_completed(samples_dir, tmp_path, sig):
    replay, stream = load_frames(samples_dir / "v140_client.frames.jsonl.gz")
    pcap, har = tmp_path / "o.pcapng", tmp_path / "o.har"
    with FakeECapture(replay=replay, script=stream) as fake:
        p = subprocess.run([sys.executable, "-c", _SCRIPT, sig, "live", fake.url, "-w", str(pcap), "--har", str(har),
                            "--duration", "3", "--idle-timeout", "0"], cwd=tmp_path,
                           env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True, timeout=60,
                           preexec_fn=stop_signals_at_default)
    assert p.returncode == 130, (p.returncode, p.stderr)
    assert "stopped again while completing the outputs: they are complete" in p.stderr
    assert "Traceback" not in p.stderr
    counts = json.loads((samples_dir / "v140_client.expected.json").read_text())["counts"]
    entries = json.loads(har.read_text(encoding="utf-8"))["log"]["entries"]  # (all there: complete exchanges and
    assert len(entries) == counts["expected_exchanges"] + counts["partial_exchanges"], p.stderr  # partial ones)
    assert pcap.read_bytes()[:4] == b"\x0a\x0d\x0d\x0a"
