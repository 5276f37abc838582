"""Captures placed after later ones are counted in the summary (found by a fuzz run: the README said their comments
said so, but a capture late against *other* connections' packets, not its own's, was said nowhere, while the pcapng
went back in time at it)."""

from __future__ import annotations

import base64
import json
import subprocess

from ecq2pcap.cli import main

T = 1_800_000_000
REQUEST, RESPONSE = b"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n", b"HTTP/1.1 204 No Content\r\n\r\n"


def _event(t: int, fd: int, port: int, outbound: bool, payload: bytes) -> str:
    uuid = f"7_7_curl_{fd}_{1 if outbound else 0}_10.0.0.1:{port}-10.0.0.2:443"
    b64 = base64.b64encode(payload).decode()
    return json.dumps({"log_type": 2, "payload": {
        "timestamp": t, "uuid": uuid, "src_ip": "", "src_port": 0, "dst_ip": "", "dst_port": 0, "pid": 7,
        "pname": "curl", "type": 1 if outbound else 3, "length": len(b64), "payload_base64": b64}})


def _exchange(t: int, fd: int, port: int) -> list[str]:
    return [_event(t, fd, port, True, REQUEST), _event(t + 1, fd, port, False, RESPONSE)]


def _convert(tmp_path, capsys, lines: list[str]) -> tuple[str, str]:
    dump = tmp_path / "in.jsonl"
    dump.write_text("\n".join(lines) + "\n")
    out = tmp_path / "o.pcapng"
    assert main(["convert", str(dump), "-w", str(out)]) == 0
    capinfos = subprocess.run(["capinfos", "-o", str(out)], capture_output=True, text=True, check=True).stdout
    return capinfos, capsys.readouterr().err


def test_a_connection_later_than_the_reorder_window_is_counted(tmp_path, capsys):
    # B's exchange is released once D moves the clock past it; C's, captured before B's, comes after that
    late = _exchange(T + 1, 5, 40000) + _exchange(T + 10, 6, 40001) + _exchange(T + 20, 8, 40003) \
        + _exchange(T + 3, 7, 40002)
    capinfos, err = _convert(tmp_path, capsys, late)
    assert "Strict time order:   False" in capinfos  # (the premise: the file goes back in time)
    line = next(x for x in err.splitlines() if "out of time order" in x)
    assert line.split()[4] == "2" and "reordercap" in line  # (C's request and response)


def test_captures_in_order_are_not_counted(tmp_path, capsys):
    ordered = _exchange(T + 1, 5, 40000) + _exchange(T + 3, 7, 40002) + _exchange(T + 10, 6, 40001) \
        + _exchange(T + 20, 8, 40003)
    capinfos, err = _convert(tmp_path, capsys, ordered)
    assert "Strict time order:   True" in capinfos
    assert "out of time order" not in err
