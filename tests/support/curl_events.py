"""eCapture v1.4 JSON lines of curl's HTTP/1 exchanges, one connection per fd, at given whole seconds; and a
conversion checked for time order by capinfos (the time-order tests)."""

from __future__ import annotations

import base64
import json
import subprocess

from ecq2pcap.cli import main

T = 1_800_000_000  # (seconds)
REQUEST, RESPONSE = b"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n", b"HTTP/1.1 204 No Content\r\n\r\n"


def event(t: int, fd: int, outbound: bool, payload: bytes) -> str:
    """One event of pid 7's connection on ``fd`` (client port 40000 + fd) at second ``t``."""
    uuid = f"7_7_curl_{fd}_{1 if outbound else 0}_10.0.0.1:{40000 + fd}-10.0.0.2:443"
    b64 = base64.b64encode(payload).decode()
    return json.dumps({"log_type": 2, "payload": {
        "timestamp": t, "uuid": uuid, "src_ip": "", "src_port": 0, "dst_ip": "", "dst_port": 0, "pid": 7,
        "pname": "curl", "type": 1 if outbound else 3, "length": len(b64), "payload_base64": b64}})


def exchange(t: int, fd: int) -> list[str]:
    """A request at ``t`` and its response a second later."""
    return [event(t, fd, True, REQUEST), event(t + 1, fd, False, RESPONSE)]


def convert_timed(tmp_path, lines: list[str], *options: str):
    """``convert`` of ``lines`` to a pcapng: (its path, what ``capinfos -o`` says of it)."""
    dump = tmp_path / "in.jsonl"
    dump.write_text("\n".join(lines) + "\n")
    out = tmp_path / "o.pcapng"
    assert main(["convert", str(dump), "-w", str(out), *options]) == 0
    return out, subprocess.run(["capinfos", "-o", str(out)], capture_output=True, text=True, check=True).stdout
