"""The summary's "made up" line counts the zeros the outputs hold: those made up for a frame's rest eCapture lost in a
connection the filters left out were counted as written, "(see the packet comments)", with no comment to see."""

from __future__ import annotations

import re

from ecq2pcap.cli import main
from tests.support.made_up import SWITCH, UPGRADE
from tests.support.v2_stream import V2Stream


def _dump(tmp_path):
    s = V2Stream()
    s.connect(7, 3, "ws", ("10.7.0.2", 52000), ("10.7.0.1", 443))  # pid 7: a WebSocket frame whose rest is lost
    s.call(7, 3, "ws", True, UPGRADE)
    s.call(7, 3, "ws", False, SWITCH)
    s.call(7, 3, "ws", False, bytes([0x82, 126]) + (5000).to_bytes(2, "big") + b"a" * 100)
    s.call(7, 3, "ws", False, bytes([0x81, 5]) + b"hello")
    s.connect(8, 4, "curl", ("10.8.0.2", 53000), ("10.8.0.1", 443))  # pid 8: a plain exchange
    s.call(8, 4, "curl", True, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    s.call(8, 4, "curl", False, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    path = tmp_path / "in.jsonl"
    path.write_bytes(s.dump())
    return path


def _made_up_line(err: str) -> str:
    return next((line for line in err.splitlines() if line.strip().startswith("made up")), "")


def test_zeros_of_a_connection_left_out_are_not_counted_as_written(tmp_path, capsys):
    dump = _dump(tmp_path)
    assert main(["convert", str(dump), "-w", str(tmp_path / "all.pcapng")]) == 0
    everything = _made_up_line(capsys.readouterr().err)
    n = int(re.search(r"made up\s+([\d,]+)", everything).group(1).replace(",", ""))
    assert n > 4000 and "see the packet comments" in everything
    assert main(["convert", str(dump), "-w", str(tmp_path / "o.pcapng"), "--pid", "8"]) == 0
    line = _made_up_line(capsys.readouterr().err)
    assert re.search(r"made up\s+0\s", line) and f"{n:,} for frames' rests" in line and "left out" in line
    assert "see the packet comments" not in line
    assert main(["convert", str(dump), "-w", str(tmp_path / "o7.pcapng"), "--pid", "7"]) == 0
    assert _made_up_line(capsys.readouterr().err) == everything  # (kept: all of them written)
