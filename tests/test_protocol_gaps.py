"""End to end on small hand-built streams, for protocol doc items no other end-to-end test pinned down:

- §10.17 / §11.3: a v2 call is exactly the N bytes its header counts; v2's added trailing ``\\n`` is dropped,
  a payload's own final ``\\n`` is kept (never "strip one newline");
- §11.4: v2 ``--hex`` calls (``(N bytes, hex)``, 4-digit offsets, upper-case 8-byte groups) with a nonsense
  header date (year 8352703) read as their bytes, timed by the receive time;
- §11.1 / §11.2: a v2 destroy line carries no identity, a connect line of a process that sends nothing makes no
  TCP stream or HAR entry, and the next connect line on the same (pid, fd) starts a new connection;
- §11.13 / §10.11: v1.4's whole-second timestamps: a response that arrives before its request in the same
  second is still placed after it (client→server first), and the two pair.

Each is converted through the CLI; the HAR is read, and the pcapng by tshark.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone

from ecq2pcap.dialects.v15_proto import encode_event
from fixtures.encoders import V2_DESTROY_TEXT, go_v2_dump, v2_connect_text, v2_data_text
from tests.support.dissect import dissect, syns
from tests.support.har import validate_har
from tests.test_convert_e2e import body_of, convert

T0 = 1795800000.0  # receive times (2026-11-27)
CLIENT, SERVER = ("10.0.0.1", 40000), ("10.0.0.2", 443)


def frame(t: float, text: bytes) -> str:
    """One binary eCaptureQ message as the recordings hold it: a v2 event (empty metadata, a text payload)."""
    return json.dumps({"t": t, "opcode": "binary", "data_b64": base64.b64encode(encode_event(payload=text)).decode()})


def hex_call(pid: int, fd: int, write: bool, data: bytes) -> bytes:
    """A v2 ``--hex`` call whose header date is nonsense (openssl --hex passes nanoseconds as seconds)."""
    head = (f"[8352703-05-17 01:02:03.456] PID:{pid} TID:{pid} Comm:curl FD:{fd} "
            f"{'WRITE' if write else 'READ'} ({len(data)} bytes, hex):\n").encode()
    text = head + go_v2_dump(data)
    return text if text.endswith(b"\n") else text + b"\n"


# the first connection's response ends in its own "\n" (v2 adds none), its second in none (v2 adds one)
ENDS_IN_NL = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n"
ENDS_IN_NONE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
REQ_A = b"GET /nl HTTP/1.1\r\nHost: h.example\r\n\r\n"
REQ_B = b"GET /plain HTTP/1.1\r\nHost: h.example\r\n\r\n"
REQ_HEX = b"GET /hex HTTP/1.1\r\nHost: h.example\r\n\r\n"
RESP_HEX = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhex!\n"


def v2_stream(tmp_path):
    lines = [
        frame(T0, v2_connect_text(10, 10, "curl", 5, CLIENT, SERVER)),
        # the peer's accept line (another process, never sends a byte here): no stream, no entry (§11.2)
        frame(T0 + 0.01, v2_connect_text(99, 99, "nginx", 7, CLIENT, SERVER)),
        frame(T0 + 0.1, v2_data_text(T0 + 0.1, 10, 10, "curl", 5, True, REQ_A)),
        frame(T0 + 0.2, v2_data_text(T0 + 0.2, 10, 10, "curl", 5, False, ENDS_IN_NL)),
        frame(T0 + 0.3, v2_data_text(T0 + 0.3, 10, 10, "curl", 5, True, REQ_B)),
        frame(T0 + 0.4, v2_data_text(T0 + 0.4, 10, 10, "curl", 5, False, ENDS_IN_NONE)),
        frame(T0 + 0.5, V2_DESTROY_TEXT),  # no identity (§11.1)
        # the same (pid, fd) connects again, from another port: a new connection, its calls hex-dumped (§11.4)
        frame(T0 + 1.0, v2_connect_text(10, 10, "curl", 5, (CLIENT[0], 40001), SERVER)),
        frame(T0 + 1.1, hex_call(10, 5, True, REQ_HEX)),
        frame(T0 + 1.2, hex_call(10, 5, False, RESP_HEX)),
    ]
    dump = tmp_path / "v2.frames.jsonl"
    dump.write_text("\n".join(lines) + "\n")
    return convert(tmp_path, dump)


def test_v2_calls_are_sliced_exactly_and_hex_calls_with_nonsense_dates_read(tmp_path, tshark):
    pcap, _, doc = v2_stream(tmp_path)
    validate_har(doc)
    entries = doc["log"]["entries"]
    got = [(e["request"]["url"], e["response"]["status"], body_of(e)) for e in entries]
    assert got == [("https://h.example/nl", 200, b"ok\n"), ("https://h.example/plain", 200, b"ok"),
                   ("https://h.example/hex", 200, b"hex!\n")]
    assert not any("_error" in e for e in entries), [e.get("_error") for e in entries]
    # the hex calls are timed by their receive time, not the year 8352703 in their header
    hex_entry = entries[2]
    started = datetime.fromisoformat(hex_entry["startedDateTime"].replace("Z", "+00:00"))
    assert abs(started.timestamp() - (T0 + 1.1)) < 5, hex_entry["startedDateTime"]

    frames = dissect(tshark, pcap)
    # two TCP streams: the peer's connect line made none, the destroy line and the reconnect split the rest
    opened = syns(frames)
    assert sorted(f.first("tcp.srcport") for f in opened) == ["40000", "40001"]
    assert len({f.first("tcp.stream") for f in frames}) == 2
    # every TCP payload byte is one the calls counted: no added "\n" kept, no own "\n" lost
    by_port: dict[tuple[str, str], int] = {}
    for f in frames:
        n = int(f.first("tcp.len") or 0)
        if n:
            key = (f.first("tcp.srcport"), f.first("tcp.dstport"))
            by_port[key] = by_port.get(key, 0) + n
    # (the server's port 443 is written as 80, so Wireshark dissects the plaintext as HTTP)
    assert by_port == {("40000", "80"): len(REQ_A) + len(REQ_B), ("80", "40000"): len(ENDS_IN_NL) + len(ENDS_IN_NONE),
                       ("40001", "80"): len(REQ_HEX), ("80", "40001"): len(RESP_HEX)}
    assert {u for f in frames for u in f["http.request.uri"]} == {"/nl", "/plain", "/hex"}


def v14_event(t: int, outbound: bool, payload: bytes) -> str:
    uuid = f"7_7_curl_5_{1 if outbound else 0}_10.0.0.1:40005-10.0.0.2:443"
    b64 = base64.b64encode(payload).decode()
    return json.dumps({"log_type": 2, "payload": {
        "timestamp": t, "uuid": uuid, "src_ip": "10.0.0.1", "src_port": 40005, "dst_ip": "10.0.0.2",
        "dst_port": 443, "pid": 7, "pname": "curl", "type": 1 if outbound else 3, "length": len(b64),
        "payload_base64": b64}})


def test_v14_response_arriving_before_its_request_in_the_same_second_goes_after_it(tmp_path, tshark):
    """§11.13: eCapture's workers flush the response first (§10.11); both carry the same whole second."""
    t = 1_800_000_000
    lines = [v14_event(t, False, b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\npong"),
             v14_event(t, True, b"GET /ping HTTP/1.1\r\nHost: p.example\r\n\r\n"),
             # a second exchange a second later, also answer first
             v14_event(t + 1, False, b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"),
             v14_event(t + 1, True, b"GET /missing HTTP/1.1\r\nHost: p.example\r\n\r\n")]
    dump = tmp_path / "v14.jsonl"
    dump.write_text("\n".join(lines) + "\n")
    pcap, _, doc = convert(tmp_path, dump)
    validate_har(doc)
    got = [(e["request"]["url"], e["response"]["status"], body_of(e)) for e in doc["log"]["entries"]]
    assert got == [("https://p.example/ping", 200, b"pong"), ("https://p.example/missing", 404, b"")]
    http = [f for f in dissect(tshark, pcap) if f.has("http")]
    order = [f.first("http.request.uri") or f.first("http.response.code") for f in http]
    assert order == ["/ping", "200", "/missing", "404"]
    assert len({f.first("tcp.stream") for f in http}) == 1
    assert datetime.fromisoformat(doc["log"]["entries"][0]["startedDateTime"].replace("Z", "+00:00")) \
        .astimezone(timezone.utc).year == 2027
