"""--max-names: the warning that a pcapng names no more server addresses said no FILE:LINE (a connection is named
at its Opened event, which had no origin), unlike every other limit's. It now names the capture that opened the
connection whose server stayed an address (in a later ring file, that connection's first capture there)."""

from __future__ import annotations

import json
import re

from tests.support import mixed_stream
from tests.support.cli import run_main
from tests.support.v2_stream import V2Stream

WARNING = re.compile(r"^ecq2pcap: (\S+):(\d+): warning: server addresses not named: .*\(limit: --max-names\)$", re.M)


def test_the_warning_names_the_capture_that_opened_the_unnamed_connection(tmp_path):
    src = mixed_stream.write(tmp_path / "mixed.jsonl")
    p = run_main("convert", str(src), "-w", str(tmp_path / "o.pcapng"), "--max-names", "2", text=True)
    assert p.returncode == 0, p.stderr
    (where,) = WARNING.findall(p.stderr)  # (it had no FILE:LINE: the pattern did not match)
    assert where[0] == str(src)
    event = json.loads(src.read_text().splitlines()[int(where[1]) - 1])["payload"]
    assert event["pid"] == 300  # (shop.example.com at 10.0.0.5: the third server address, not named)


def test_with_workers_each_process_says_it_at_a_line(tmp_path):
    src = mixed_stream.write(tmp_path / "mixed.jsonl")
    p = run_main("convert", str(src), "-w", str(tmp_path / "o.pcapng"), "--max-names", "1", "-j", "2", text=True)
    assert p.returncode == 0, p.stderr
    said = [line for line in p.stderr.splitlines() if "warning: server addresses not named" in line]
    assert said and len(WARNING.findall(p.stderr)) == len(said)


def test_in_a_later_ring_file_it_names_the_connection_s_first_capture_there(tmp_path):
    s = V2Stream()
    for fd, server, host in ((100, "10.0.0.2", b"a.test"), (101, "10.0.0.3", b"b.test")):
        s.connect(7, fd, "client", ("10.0.0.1", 40000 + fd), (server, 443))
        s.call(7, fd, "client", True, b"GET / HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")
        s.call(7, fd, "client", False, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    s.t += 5  # (the next file: both connections go on in it, keep-alive)
    for fd, host in ((100, b"a.test"), (101, b"b.test")):
        s.call(7, fd, "client", True, b"GET /2 HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")
        s.call(7, fd, "client", False, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    dump = tmp_path / "in.jsonl"
    dump.write_bytes(s.dump())
    p = run_main("convert", str(dump), "-w", str(tmp_path / "cap.pcapng"), "-b", "duration:2", "--max-names", "1",
                 text=True)
    assert p.returncode == 0, p.stderr
    assert len(sorted(tmp_path.glob("cap_*.pcapng"))) == 2
    lines = [int(n) for _, n in WARNING.findall(p.stderr)]
    # (once a file: at the first capture of b.test's connection in each)
    assert lines == [5, 9], p.stderr
