"""``record``'s summary says what the recording lacks, as ``live``'s does: messages refused for
``--max-message-size`` (it said only "recorded N messages"), and heartbeat warnings."""

from __future__ import annotations

import pytest

from ecq2pcap.cli import main
from tests.support.fake_ecapture import FakeECapture, event_frame
from tests.support.recordings import read_recording

pytestmark = pytest.mark.live


@pytest.mark.parametrize("command", ["record", "live"])
def test_messages_over_the_size_limit_are_counted_in_the_summary(tmp_path, capsys, command):
    script = lambda i: [event_frame(1), event_frame(2, size=10_000)] if i == 0 else [event_frame(3)]
    out = ["-o", str(tmp_path / "rec.jsonl")] if command == "record" else ["-w", str(tmp_path / "o.pcapng"),
                                                                          "--record", str(tmp_path / "rec.jsonl")]
    with FakeECapture(script=script) as srv:
        code = main([command, srv.url, *out, "--max-message-size", "4K", "--duration", "2"])
    err = capsys.readouterr().err
    assert code == 0
    assert "1 message(s) over --max-message-size not received" in err
    got = [m.data for m in read_recording(tmp_path / "rec.jsonl")]
    assert event_frame(1) in got and event_frame(3) in got and event_frame(2, size=10_000) not in got
