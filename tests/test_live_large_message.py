"""Protocol doc §11.11: large single messages are normal (2–3 MB for one merged HTTP/2 dump); a WebSocket
client's default 1 MiB message limit loses them. A 4 MB eCaptureQ message (one v1.4 event of a 3 MB response) read
live from a loopback stand-in is converted whole, and as ``convert`` converts the run's recording."""

from __future__ import annotations

import base64
import json

import pytest

from ecq2pcap import live
from tests.support.curl_events import REQUEST, T, event
from tests.support.fake_ecapture import FakeECapture
from tests.support.pcapng import epbs
from tests.test_live import after_shb, cli_main

pytestmark = pytest.mark.live

BODY = bytes(range(256)) * (3_000_000 // 256)
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n" % len(BODY) + BODY


def test_a_message_of_megabytes_is_converted_live_as_from_a_file(tmp_path, monkeypatch):
    monkeypatch.setattr(live, "TICK_S", 3600.0)  # (capture times in the past: no wall-clock idle ends)
    lines = [event(T, 5, True, REQUEST), event(T, 5, False, RESPONSE)]
    assert len(lines[1]) > 3 << 20  # (the premise: over three times a WebSocket client's default limit)
    pcap1, har1, rec = tmp_path / "live.pcapng", tmp_path / "live.har", tmp_path / "rec.jsonl.gz"
    with FakeECapture(script=lines) as fake:
        code = cli_main(["live", fake.url, "-w", str(pcap1), "--har", str(har1), "--record", str(rec),
                         "--idle-timeout", "0", "--duration", "2", "-q"])
    assert code == 0
    pcap2, har2 = tmp_path / "conv.pcapng", tmp_path / "conv.har"
    assert cli_main(["convert", str(rec), "-w", str(pcap2), "--har", str(har2), "--idle-timeout", "0", "-q"]) == 0
    assert after_shb(pcap1) == after_shb(pcap2)
    assert har1.read_bytes() == har2.read_bytes()
    payload = sum(len(data) for _, data, _ in epbs(pcap1))  # (every frame's bytes: the response's are most)
    assert payload > len(RESPONSE)
    entry, = json.loads(har1.read_text())["log"]["entries"]
    content = entry["response"]["content"]
    assert content["size"] == len(BODY) and base64.b64decode(content["text"]) == BODY
