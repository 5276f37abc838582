"""A connection open at a ring file change goes on in the next file at its first data there. Each open connection
was continued at once: one whose close was decided later (fd reuse, end of input) or a keep-alive one idle across the
change got a made-up handshake, HTTP/2 preface and FIN in a file where it had nothing (ghost conversations, HTTP/2
"Magic" and ``PRI *`` objects; ``mergecap`` of the files made each such connection one stream more)."""

from __future__ import annotations

from collections import defaultdict

from tests.conftest import FIXTURES
from tests.support.cli import run_main
from tests.support.dissect import bad_expert, dissect


def test_no_file_holds_a_connection_without_its_data(tmp_path, tshark):
    p = run_main("convert", str(FIXTURES / "gen_server_v2.frames.jsonl.gz"), "-w", str(tmp_path / "cap.pcapng"),
                 "-b", "duration:3", "-q")
    assert p.returncode == 0, p.stderr
    pcaps = sorted(tmp_path.glob("cap_*.pcapng"))
    assert len(pcaps) >= 4
    continued = 0
    for pcap in pcaps:
        frames = dissect(tshark, pcap)
        assert not bad_expert(frames), pcap.name
        captured, said = defaultdict(int), defaultdict(bool)
        for f in frames:
            stream = f.first("tcp.stream")
            comment = " ".join(f["frame.comment"])
            if int(f.first("tcp.len") or 0) and "origin " in comment:
                captured[stream] += 1  # (a captured event's segment)
            if "continued from" in comment:
                said[stream] = True
        streams = {f.first("tcp.stream") for f in frames}
        assert all(captured[s] for s in streams), f"{pcap.name}: a connection with no captured byte"
        continued += sum(said.values())
    assert continued  # (connections do go on across the files' changes)
