"""A FIN timed at a stale re-emit's time keeps the pcapng in time order (found by a fuzz run).

eCapture v1 re-emits a connection's last HTTP/1 headers at socket close: the table leaves the re-emit out, and the
connection's FIN is timed at it (its last activity). The FINs closed after it (the end of input closes the
connections in the order they were made) were timed at the latest capture *written*, which did not count the
re-emit: the file went back in time."""

from __future__ import annotations

import base64
import json
import subprocess

from ecq2pcap.cli import main
from tests.support.pcapng import epbs

T = 1_800_000_000


def _event(t: int, fd: int, port: int, outbound: bool, payload: bytes) -> str:
    uuid = f"7_7_curl_{fd}_{1 if outbound else 0}_10.0.0.1:{port}-10.0.0.2:443"
    b64 = base64.b64encode(payload).decode()
    return json.dumps({"log_type": 2, "payload": {
        "timestamp": t, "uuid": uuid, "src_ip": "", "src_port": 0, "dst_ip": "", "dst_port": 0, "pid": 7,
        "pname": "curl", "type": 1 if outbound else 3, "length": len(b64), "payload_base64": b64}})


REQUEST, RESPONSE = b"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n", b"HTTP/1.1 204 No Content\r\n\r\n"


def test_fins_after_one_timed_at_a_stale_reemit_are_not_timed_before_it(tmp_path, tshark):
    lines = [_event(T + 1, 5, 40000, True, REQUEST), _event(T + 2, 5, 40000, False, RESPONSE),  # A
             _event(T + 3, 6, 40001, True, REQUEST), _event(T + 4, 6, 40001, False, RESPONSE),  # B
             _event(T + 20, 5, 40000, False, RESPONSE)]  # A's headers re-emitted at its close
    dump = tmp_path / "in.jsonl"
    dump.write_text("\n".join(lines) + "\n")
    out = tmp_path / "o.pcapng"
    assert main(["convert", str(dump), "-w", str(out), "-q"]) == 0
    blocks = epbs(out)
    fins = [t for t, _, opts in blocks if b"closed: end of input" in opts]
    assert len(fins) == 2 and fins[0] == (T + 20) * 10**9  # (A's FIN at its re-emit: the test's premise)
    times = [t for t, _, _ in blocks]
    assert times == sorted(times)
    capinfos = subprocess.run(["capinfos", "-o", str(out)], capture_output=True, text=True, check=True).stdout
    assert "Strict time order:   True" in capinfos
