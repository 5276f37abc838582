"""A hostile stream's frame headers cannot make the outputs write ~16 MiB of zeros each (--max-made-up-ratio): 8
WebSocket frames that say 16 MiB, in a 4 KB dump, wrote a 134 MB pcapng and an 89 MB HAR. Each frame's loss is
still said (packet comment, HAR ``_error``, FILE:LINE), the limit counted; a larger ratio makes them up, and
``-j 2`` writes the same bytes."""

from __future__ import annotations

import json

from tests.conftest import run_tshark
from tests.limits.support import MiB, convert_measured
from tests.support.made_up import SWITCH, UPGRADE
from tests.support.v2_stream import V2Stream

FRAME = 16 * MiB - 20  # what each frame header says (MAX_FILL bounds one frame's rest: this is within it)
LIMIT = "(limit: --max-made-up-ratio)"


def _dump(frames: int) -> bytes:
    """A WebSocket connection whose server's frames each came as their header and 10 bytes, a whole frame after each."""
    s = V2Stream()
    s.connect(61, 7, "ws", ("10.7.0.2", 52000), ("10.7.0.1", 443))
    s.call(61, 7, "ws", True, UPGRADE)
    s.call(61, 7, "ws", False, SWITCH)
    for _ in range(frames):
        s.call(61, 7, "ws", False, bytes([0x82, 127]) + FRAME.to_bytes(8, "big") + b"x" * 10)
        s.call(61, 7, "ws", False, bytes([0x81, 5]) + b"hello")
    return s.dump()


def test_frame_headers_of_a_hostile_stream_write_what_came(tmp_path, tshark):
    dump = tmp_path / "in.dump"
    dump.write_bytes(_dump(8))
    pcap, har = tmp_path / "o.pcapng", tmp_path / "o.har"
    code, _, err = convert_measured("convert", str(dump), "-w", str(pcap), "--har", str(har))
    assert code == 0, err
    assert pcap.stat().st_size < 64 * 1024 and har.stat().st_size < 64 * 1024  # (134 MB and 89 MB before)
    lines = [line for line in err.splitlines() if LIMIT in line]
    assert [line.split(": warning:")[0] for line in lines] == [f"ecq2pcap: {dump}:{n}" for n in range(5, 21, 2)]
    assert all("its last 16,777,186 bytes lost by eCapture" in line and "not made up" in line for line in lines)
    assert "limits reached: --max-made-up-ratio 8" in err and "made up " not in err.replace("not made up", "")
    comments = run_tshark(tshark, pcap, "-T", "fields", "-e", "frame.comment")
    assert comments.count("not made up") == 8
    entry, = json.loads(har.read_text())["log"]["entries"]
    assert entry["_error"].count(LIMIT) == 8


def test_a_larger_ratio_makes_them_up_and_j2_writes_the_same_bytes(tmp_path):
    dump = tmp_path / "in.dump"
    dump.write_bytes(_dump(2))
    outs = []
    for jobs in ("1", "2"):
        pcap = tmp_path / f"o{jobs}.pcapng"
        code, _, err = convert_measured("convert", str(dump), "-w", str(pcap), "--max-made-up-ratio", "1000000",
                                        "-j", jobs)
        assert code == 0, err
        assert LIMIT not in err and "made up      33,554,372  bytes of zeros" in err
        outs.append(pcap.read_bytes())
    assert len(outs[0]) > 32 * MiB and outs[0] == outs[1]
