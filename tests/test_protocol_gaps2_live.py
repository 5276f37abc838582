"""End to end for protocol doc §10.3 (helpers and the other items: test_protocol_gaps2.py): on every connection
eCapture first replays its cached startup logs (up to 129); after a reconnect they are not new. ``ecq2pcap live``
against a fake eCapture that drops the connection halfway through the v1.4.2 sample: the replay after the reconnect
is not converted again, the events around it are converted once each, and the outputs are those the sample's
expectations (written from the real traffic) name, read by tshark and the HAR validator.
"""

from __future__ import annotations

import json
import re

import pytest

from ecq2pcap import live
from tests.support.cli import run_main
from tests.support.dissect import assert_exchanges_dissected, bad_expert, dissect
from tests.support.fake_ecapture import FakeECapture, load_frames
from tests.support.har import load_with_haralyzer, validate_har
from tests.test_convert_e2e import expected_for, find_entries

pytestmark = pytest.mark.live


def test_the_startup_logs_replayed_after_a_reconnect_are_not_converted_again(samples_dir, tmp_path, monkeypatch,
                                                                                        tshark):
    monkeypatch.setattr(live, "TICK_S", 3600.0)  # (the sample's times are past: no wall-clock idle ends)
    expected = expected_for(samples_dir, "v140_client")
    replay, stream = load_frames(samples_dir / "v140_client.frames.jsonl.gz")
    assert len(replay) == expected["counts"]["replay_logs"] > 0
    half = len(stream) // 2
    pcap, har = tmp_path / "live.pcapng", tmp_path / "live.har"
    with FakeECapture(replay=replay, script=lambda i: stream[:half] if i == 0 else stream[half:],
                      drop_after=len(replay) + half) as fake:
        p = run_main("live", fake.url, "-w", str(pcap), "--har", str(har), "--idle-timeout", "0", "--duration", "2",
                     text=True)
        assert fake.connections == 2
    assert p.returncode == 0, p.stderr
    err = p.stderr
    # the second replay: received, said, not converted; the logs counted once, the events once
    assert f"{len(replay)} replayed startup log(s) not converted again" in err
    counts = expected["counts"]
    m = re.search(r"messages\s+(\d+)\s+\(events (\d+), process logs (\d+), heartbeats (\d+)", err)
    assert m, err
    assert (int(m[2]), int(m[3])) == (counts["events"], counts["replay_logs"] + counts["live_logs"])
    assert int(m[1]) == counts["messages"]  # (the first connection's replay and the stream, once)

    doc = json.loads(har.read_text())
    validate_har(doc)
    entries = doc["log"]["entries"]
    assert len(load_with_haralyzer(doc)) == len(entries)
    for ex in expected["exchanges"] + expected["partial_exchanges"]:
        assert len(find_entries(entries, ex)) == 1, ex["truth_id"]
    assert len(entries) == len(expected["exchanges"]) + len(expected["partial_exchanges"])
    frames = dissect(tshark, pcap)
    assert not bad_expert(frames)
    assert_exchanges_dissected(frames, expected["exchanges"] + expected["partial_exchanges"])
    assert len({f.first("tcp.stream") for f in frames}) == len(expected["connections"])

