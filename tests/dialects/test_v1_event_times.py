"""A v1 event time past what a pcapng holds (64 bits of nanoseconds: 2554-07-21) is no eCapture's: it is unknown, as
0 is (timed when it was received, when the input says; else at the latest capture time), not written with the bits
that fit (a fuzz run's mutated timestamp 2**64 ns gave packets of 1970, and a -b ring file named 2554 that held them;
year 3554 in seconds gave 2385)."""

from __future__ import annotations

import base64
import json
import subprocess

import pytest

from ecq2pcap.cli import main
from ecq2pcap.dialects import decode
from ecq2pcap.dialects.v15_proto import encode_event
from ecq2pcap.dialects.v1_event import RECEIVED_NOTE
from ecq2pcap.model import Message, Opcode
from tests.support.curl_events import REQUEST, RESPONSE, T, convert_timed, event, exchange


@pytest.mark.parametrize("when", [
    2**64 + 5,  # nanoseconds
    50_000_000_000,  # seconds (year 3554: below the bound of a time in seconds, 10**11)
    2**64 // 10**6 + 10**9,  # milliseconds
    2**64 // 10**3 + 10**12,  # microseconds
])
def test_a_time_past_the_pcapngs_is_unknown(tmp_path, tshark, when):
    lines = exchange(T, 5) + [event(T + 2, 6, True, REQUEST)]
    late = json.loads(lines[-1])
    late["payload"]["timestamp"] = when
    lines[-1] = json.dumps(late)
    lines.append(event(T + 3, 6, False, RESPONSE))
    pcap, capinfos = convert_timed(tmp_path, lines)
    times = [float(t) for t in subprocess.run([tshark, "-r", str(pcap), "-T", "fields", "-e", "frame.time_epoch"],
                                                capture_output=True, text=True, check=True).stdout.split()]
    assert "Strict time order:   True" in capinfos
    assert T <= min(times) and max(times) <= T + 3


def _recording(lines: list[tuple[float, bytes]]) -> str:
    return "".join(json.dumps({"t": t, "opcode": "binary", "data_b64": base64.b64encode(frame).decode()}) + "\n"
                   for t, frame in lines)


def test_an_event_without_a_time_is_timed_when_it_was_received(tmp_path, tshark):
    """eCapture gave 0 (the v1.4.0 README's sample event has "timestamp":0): a recording's receive times time the
    packets and the HAR entry (they were 1970's), and the packet comments say so; a dump without receive times
    keeps them unknown."""
    tup = "10.0.0.1:40000-10.0.0.2:443"
    start = 1795715810.5  # 2026-11-26 17:56:50.5 UTC
    frames = [(start, encode_event(timestamp=0, uuid=f"7_7_curl_5_1_{tup}", pid=7, pname="curl", type=1,
                                   payload=REQUEST)),
              (start + 1, encode_event(timestamp=0, uuid=f"7_7_curl_5_0_{tup}", pid=7, pname="curl", type=3,
                                       payload=RESPONSE)),
              (start + 1.2, encode_event(timestamp=0, uuid="7_7_curl_6_1_10.0.0.1:40006-10.0.0.2:443", pid=7,
                                         pname="curl", type=1, payload=REQUEST))]
    dump = tmp_path / "rec.jsonl"
    dump.write_text('{"ecq2pcap":"recording","version":1,"url":"ws://127.0.0.1:28257/","started":1795715800.0}\n'
                    + _recording(frames))
    pcap, har = tmp_path / "o.pcapng", tmp_path / "o.har"
    assert main(["convert", "-q", str(dump), "-w", str(pcap), "--har", str(har)]) == 0
    times = [float(t) for t in subprocess.run([tshark, "-r", str(pcap), "-T", "fields", "-e", "frame.time_epoch"],
                                              capture_output=True, text=True, check=True).stdout.split()]
    assert start <= min(times) and max(times) <= start + 1.2 + 1
    entries = json.loads(har.read_text())["log"]["entries"]
    assert entries[0]["startedDateTime"] == "2026-11-26T17:56:50.500Z"
    assert RECEIVED_NOTE.encode() in pcap.read_bytes()
    record = decode(Message(frames[0][1], Opcode.BINARY, "x:1", None))  # (no receive time: unknown, unnoted)
    assert record[0].timestamp_ns is None and RECEIVED_NOTE not in record[0].notes


def test_every_v1_form_takes_the_receive_time():
    body = {"timestamp": 0, "uuid": "7_7_curl_5_1_10.0.0.1:40000-10.0.0.2:443", "pid": 7, "pname": "curl",
            "type": 1, "payload_base64": base64.b64encode(REQUEST).decode()}
    forms = [Message(json.dumps({"log_type": 2, "payload": body}).encode(), Opcode.TEXT, "a:1", 5 * 10**18),
             Message(json.dumps(body).encode(), Opcode.BINARY, "a:3", 5 * 10**18)]  # (v1.4.3 gotls's raw JSON)
    for message in forms:
        [record] = decode(message)
        assert record.timestamp_ns == 5 * 10**18 and RECEIVED_NOTE in record.notes, message.origin
