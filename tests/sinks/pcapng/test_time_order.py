"""The pcapng is in capture-time order, as dumpcap writes one (``capinfos``: strict time order): a connection's FIN is
not timed before the packets written before it (its close is known only later: at the end of input, at its fd's
reuse, past its idle timeout), and the packets of one event share its time (they were 1 ns apart, which put a
connection's packets after another's of the same v1.4 second). The HAR keeps the connection's own times."""

from __future__ import annotations

import base64
import json
import subprocess

import pytest

from ecq2pcap.cli import main
from tests.conftest import FIXTURES
from tests.support.pcapng import epbs

# the shipped samples, whose connections all know their tuples and roles at once (v140_edge_cases holds
# connections that wait for their tuple: they are written when it is known, at their own times)
SAMPLES = sorted(p.name for p in FIXTURES.glob("*.jsonl.gz"))


def _strict(capinfos_out: str) -> bool:
    line = next(line for line in capinfos_out.splitlines() if line.startswith("Strict time order:"))
    return line.split(":", 1)[1].strip() == "True"


@pytest.mark.parametrize("name", SAMPLES)
def test_every_sample_is_written_in_time_order(name, tmp_path, tshark):
    out = tmp_path / "o.pcapng"
    assert main(["convert", str(FIXTURES / name), "-w", str(out), "-q"]) == 0
    times = [t for t, _, _ in epbs(out)]
    assert len(times) > 20
    assert times == sorted(times)
    capinfos = subprocess.run(["capinfos", "-o", str(out)], capture_output=True, text=True, check=True).stdout
    assert _strict(capinfos)


def _event(t: int, fd: int, port: int, outbound: bool, payload: bytes) -> str:
    role = 1 if outbound else 0
    uuid = f"7_7_curl_{fd}_{role}_10.0.0.1:{port}-10.0.0.2:443"
    return json.dumps({"log_type": 2, "payload": {
        "timestamp": t, "uuid": uuid, "src_ip": "", "src_port": 0, "dst_ip": "", "dst_port": 0, "pid": 7,
        "pname": "curl", "type": 1 if outbound else 3, "length": len(base64.b64encode(payload)),
        "payload_base64": base64.b64encode(payload).decode()}})


def _exchange(t: int, fd: int, port: int) -> list[str]:
    return [_event(t, fd, port, True, b"GET /%d HTTP/1.1\r\nHost: a.example\r\n\r\n" % t),
            _event(t, fd, port, False, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")]


def test_a_connection_ended_by_its_idle_timeout_is_closed_after_what_came_before(tmp_path):
    T = 1_800_000_000
    lines = _exchange(T, 5, 40000)  # A: one exchange, then nothing; B: one exchange a second for 20 s
    for i in range(1, 21):
        lines += _exchange(T + i, 6, 40001)
    dump = tmp_path / "in.jsonl"
    dump.write_text("\n".join(lines) + "\n")
    out, har = tmp_path / "o.pcapng", tmp_path / "o.har"
    assert main(["convert", str(dump), "-w", str(out), "--har", str(har), "--idle-timeout", "5", "-q"]) == 0
    blocks = epbs(out)
    times = [t for t, _, _ in blocks]
    assert times == sorted(times)
    fin = next(i for i, (_, _, opts) in enumerate(blocks) if b"connection 1 closed: idle timeout" in opts)
    assert times[fin - 1] <= times[fin] and times[fin] >= (T + 2) * 10**9  # (timed when it was known, not at T)
    assert fin < len(blocks) - 6  # (known before the end of input: B's packets follow)
    entries = json.loads(har.read_text())["log"]["entries"]
    first = next(e for e in entries if e["request"]["url"].endswith(f"/{T}"))
    assert first["time"] < 1000  # (the HAR's exchange is not stretched to the close)
