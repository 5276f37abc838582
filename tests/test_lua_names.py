"""Process names that hold the comments' own words (" uuid ", "; connection ", "; eCapture ", "; module ", "; uuid ")
are read whole by the Lua fields: they gave a cut ecapture.comm, no fd, a wrong ecapture.connection (9 for a name
holding "; connection 9") or a uuid that began inside the name. Such a name is written quoted, " and \\ escaped."""

from __future__ import annotations

from tests.support import mixed_stream
from tests.support.wireshark_home import ecq2pcap
from tests.test_wireshark import lua_rows

NAMES = ["y uuid z", "; eCapture q", "a; connection 9", "k; module m", "p; uuid x", 'q"uote\\d uuid', '"lead', "job; x"]


def rows_of_names(home, tshark, tmp_path, names: list[str],
                  lines: list[str] | None = None) -> tuple[list[dict], object]:
    """(the Lua fields of every packet of one HTTP/1 exchange per name (thread, fd and port by its index), after
    ``lines`` (a dump's first lines); the pcapng)."""
    lines = list(lines or [])
    for i, name in enumerate(names):
        tup = f"10.0.0.1:{50000 + i}-10.0.0.2:443"
        for dt, etype, data in ((1, 1, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
                                (0, 3, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")):
            lines.append(mixed_stream.event_line(i, 400 + i, name, 5 + i, dt, tup, etype, data))
    dump = tmp_path / "in.jsonl"
    dump.write_text("\n".join(lines))
    pcap = tmp_path / "o.pcapng"
    assert ecq2pcap("convert", str(dump), "-w", str(pcap), "-q").returncode == 0
    rows = lua_rows(home, tshark, pcap)
    assert len({r["tcp.stream"] for r in rows}) == len(names)
    return rows, pcap


def test_every_name_is_read_whole_on_every_packet(home, tshark, tmp_path):
    rows, pcap = rows_of_names(home, tshark, tmp_path, NAMES)
    for r in rows:
        i = int(r["tcp.stream"])
        assert (r["ecapture.comm"], r["ecapture.fd"], r["ecapture.connection"]) == (NAMES[i], str(5 + i), str(i + 1)), r
        assert r["ecapture.uuid"].startswith(f"{400 + i}_{400 + i}_{NAMES[i]}_{5 + i}_"), r
    for i, name in enumerate(NAMES):
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        assert len(lua_rows(home, tshark, pcap, "-Y", f'ecapture.comm == "{quoted}"')) == \
            sum(int(r["tcp.stream"]) == i for r in rows)
