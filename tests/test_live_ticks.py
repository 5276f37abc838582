"""``live``'s wall-clock ticks kept in its recording: ``convert`` of the recording replays them, so it gives the
live run's pcapng and HAR whenever the messages came (a pause longer than --reorder-window released the reorder
buffer in live, not in convert, and the connections were numbered otherwise)."""

from __future__ import annotations

import io
import json

import pytest

from ecq2pcap import live
from ecq2pcap.model import Tick
from ecq2pcap.sources.recording import LineDecoder, Recorder
from tests.support.fake_ecapture import FakeECapture, load_timed_frames
from tests.support.recordings import as_bytes
from tests.test_live import after_shb, cli_main


def test_a_tick_line_reads_back_as_the_tick_it_recorded():
    out = io.BytesIO()
    rec = Recorder(out, "ws://h/", "r.jsonl")
    rec.tick(1_700_000_000_123_456_789)
    rec.flush()
    header, line = out.getvalue().splitlines()
    dec = LineDecoder()
    assert dec.message(header, "r:1") is None
    assert dec.message(line, "r:2") == Tick(1_700_000_000_123_456_789, "r:2") and rec.lines == 2


@pytest.mark.parametrize("pause", [1.5])
def test_live_paced_past_the_reorder_window_equals_convert_of_its_recording(samples_dir, tmp_path, monkeypatch,
                                                                            pause):
    """The audit's case: v140_server (one fd reused, whole-second times) sent in its order with a pause longer
    than --reorder-window before its 4th message. Ticks every 0.1 s."""
    monkeypatch.setattr(live, "TICK_S", 0.1)
    replay, timed = load_timed_frames(samples_dir / "v140_server.frames.jsonl.gz")
    script = [f for _, f in timed]
    at = [0.02 * i + (pause if i >= 3 else 0) for i in range(len(script))]
    pcap1, har1, rec = tmp_path / "live.pcapng", tmp_path / "live.har", tmp_path / "rec.jsonl"
    options = ["--reorder-window", "0.2", "-q"]
    with FakeECapture(replay=replay, script=script, at=at) as fake:
        code = cli_main(["live", fake.url, "-w", str(pcap1), "--har", str(har1), "--record", str(rec),
                         "--duration", str(pause + 1.5), *options])
    assert code == 0
    lines = [json.loads(line) for line in rec.read_bytes().splitlines()[1:]]
    assert any("tick" in line for line in lines)
    assert [as_bytes(line.get("text", "")) for line in lines if "tick" not in line][-1] == as_bytes(script[-1])
    pcap2, har2 = tmp_path / "conv.pcapng", tmp_path / "conv.har"
    assert cli_main(["convert", str(rec), "-w", str(pcap2), "--har", str(har2), *options]) == 0
    assert after_shb(pcap1) == after_shb(pcap2)
    assert har1.read_bytes() == har2.read_bytes()
