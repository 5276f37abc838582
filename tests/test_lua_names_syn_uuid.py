"""A process name that holds "; connection N ", "; eCapture V" or "; server port P shown as S" as a whole part of a
comment is read whole by the Lua fields also in the SYN comment's uuid, which holds the name after the facts: the
parts of the name in the uuid were read as facts, so every packet of the connection got the name's connection
number, eCapture version or real port (found by a fuzz run)."""

from __future__ import annotations

from tests.support import mixed_stream
from tests.support.wireshark_home import ecq2pcap
from tests.test_wireshark import lua_rows

VERSION = "linux_amd64:v1.4.2-20250927-5e0c4b7:6.1.0"  # (mixed_stream's header line)
NAMES = ["x; connection 9 c2s", "v; eCapture v9", "s; server port 1 shown as 2"]


def test_a_name_in_the_syn_uuid_is_not_read_as_its_facts(home, tshark, tmp_path):
    lines = mixed_stream.lines()[:1]
    for i, name in enumerate(NAMES):
        tup = f"10.0.0.1:{50000 + i}-10.0.0.2:443"
        for dt, etype, data in ((1, 1, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
                                (0, 3, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")):
            lines.append(mixed_stream.event_line(i, 400 + i, name, 5 + i, dt, tup, etype, data))
    dump = tmp_path / "in.jsonl"
    dump.write_text("\n".join(lines))
    pcap = tmp_path / "o.pcapng"
    assert ecq2pcap("convert", str(dump), "-w", str(pcap), "-q").returncode == 0
    rows = lua_rows(home, tshark, pcap)
    assert len({r["tcp.stream"] for r in rows}) == len(NAMES)
    for r in rows:
        i = int(r["tcp.stream"])
        assert (r["ecapture.comm"], r["ecapture.connection"]) == (NAMES[i], str(i + 1)), r
        assert (r["ecapture.version"], r["ecapture.real_port"]) == (VERSION, "443"), r
