"""Ring files and connections carried over a file change (this stop's own regressions, found by review): a carried
connection whose close had notes (eCapture v1's stale re-emits, a limit's) came back in the next file as a
handshake and a FIN alone, timed at its last activity (before the file's packets); and one idle over two changes
named the file before last as where it came from, where it had no packet."""

from __future__ import annotations

import subprocess

from tests.support.cli import run_main
from tests.support.dissect import dissect
from tests.support.v2_stream import V2Stream

EXCHANGE = (b"GET /x HTTP/1.1\r\nHost: h.test\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")


def _exchange(s: V2Stream, fd: int, port: int, connect: bool = True) -> None:
    if connect:
        s.connect(7, fd, "client", ("10.0.0.1", port), ("10.0.0.2", 443))
    s.call(7, fd, "client", True, EXCHANGE[0])
    s.call(7, fd, "client", False, EXCHANGE[1])


def _ring(tmp_path, s: V2Stream, *options: str) -> list:
    dump = tmp_path / "in.jsonl"
    dump.write_bytes(s.dump())
    p = run_main("convert", str(dump), "-w", str(tmp_path / "cap.pcapng"), "-b", "duration:2", "-q", *options)
    assert p.returncode == 0, p.stderr
    return sorted(tmp_path.glob("cap_*.pcapng"))


def test_a_carried_connection_closed_with_notes_is_not_written_without_its_data(tmp_path, tshark):
    s = V2Stream()
    _exchange(s, 100, 40000)
    s.t += 5  # (a file change at the next connection's data)
    _exchange(s, 101, 40101)
    _exchange(s, 102, 40102)  # (the one too many: connection 1 ends, with the limit's note)
    files = _ring(tmp_path, s, "--max-connections", "2")
    second = files[1]
    ports = {f.first("tcp.srcport") for f in dissect(tshark, second)} | {f.first("tcp.dstport")
                                                                         for f in dissect(tshark, second)}
    assert "40000" not in ports  # (no handshake and FIN of no byte)
    capinfos = subprocess.run(["capinfos", "-o", str(second)], capture_output=True, text=True, check=True).stdout
    assert "Strict time order:   True" in capinfos


def test_a_connection_idle_over_two_changes_names_the_file_that_holds_its_packets(tmp_path, tshark):
    s = V2Stream()
    _exchange(s, 100, 40000)
    s.t += 3
    _exchange(s, 101, 40001)  # (file 2: only connection 2)
    s.t += 3
    _exchange(s, 100, 40000, connect=False)  # (file 3: connection 1 goes on)
    files = _ring(tmp_path, s, "--idle-timeout", "600")
    assert len(files) >= 3
    syn = [c for f in dissect(tshark, files[2]) if f.first("tcp.srcport") == "40000" for c in f["frame.comment"]
           if "continued from" in c]
    assert syn and f"continued from {files[0].name}" in syn[0]
