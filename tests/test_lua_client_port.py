"""The Lua field ``ecapture.real_client_port``: a connection that opened while another had its 4-tuple open is shown
from another client port (flows/client_ports.py), its SYN comment saying the real one; the field gives it on every
packet of that connection and on none of the other's, as ``ecapture.real_port`` does for a server port. A process
name holding the comment's words is not read as them."""

from __future__ import annotations

import subprocess

from tests.conftest import ROOT
from tests.support.cli import run_main
from tests.test_shared_tuple_e2e import SHARED, _v1_lines

SCRIPT = ROOT / "ecq2pcap" / "wireshark" / "ecq2pcap.lua"
FIELDS = ["tcp.stream", "tcp.srcport", "tcp.dstport", "ecapture.comm", "ecapture.real_client_port"]


def _rows(tshark, tmp_path, ends) -> list[dict]:
    dump, pcap = tmp_path / "in.jsonl", tmp_path / "o.pcapng"
    dump.write_text("\n".join(_v1_lines(ends)) + "\n")
    assert run_main("convert", str(dump), "-w", str(pcap), "-q").returncode == 0
    p = subprocess.run([tshark, "-r", str(pcap), "-X", f"lua_script:{SCRIPT}", "-T", "fields", "-E", "separator=|",
                        *[a for f in FIELDS for a in ("-e", f)]], capture_output=True, text=True, timeout=60,
                       env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert p.returncode == 0, p.stderr
    return [dict(zip(FIELDS, line.split("|"))) for line in p.stdout.splitlines()]


def test_the_real_client_port_on_every_packet_of_the_moved_connection(tshark, tmp_path):
    rows = _rows(tshark, tmp_path, SHARED["dup"])
    streams = {r["tcp.stream"] for r in rows}
    assert streams == {"0", "1"}
    for r in rows:
        ports = {r["tcp.srcport"], r["tcp.dstport"]}
        if "50000" in ports:  # (the first: on its real 4-tuple)
            assert r["ecapture.real_client_port"] == "", r
        else:  # (the second, from another port: 10.0.0.1:50000 for real)
            assert r["ecapture.real_client_port"] == "50000" and "61000" in ports, r
    assert sum(r["ecapture.real_client_port"] == "50000" for r in rows) == len(rows) // 2


def test_a_name_holding_the_words_is_not_read_as_them(tshark, tmp_path):
    name = "c; client port 7 shown as 8"
    ends = [(400, name, 5, "client"), (401, "curl", 6, "client")]  # (the named one opens first: not moved)
    rows = _rows(tshark, tmp_path, ends)
    named = [r for r in rows if r["ecapture.comm"] == name]
    assert named and all(r["ecapture.real_client_port"] == "" for r in named), named
    assert {r["ecapture.real_client_port"] for r in rows if r["ecapture.comm"] == "curl"} == {"50000"}
