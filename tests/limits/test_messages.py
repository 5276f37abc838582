"""A single eCapture message over --max-message-size is skipped without being read into
memory, reported as FILE:LINE with the limit's flag; the messages around it convert."""

from __future__ import annotations

import base64
import json

from tests.limits.support import RSS_BUDGET_MB, MiB, convert_measured, load_har

T0 = 1795800000
TUPLE = "10.0.0.1:40000-10.0.0.2:443"


def event(uuid_dir: int, etype: int, payload: bytes) -> bytes:
    b64 = base64.b64encode(payload).decode()
    ev = {"timestamp": T0, "uuid": f"100_100_curl_7_{uuid_dir}_{TUPLE}", "src_ip": "", "src_port": 0, "dst_ip": "",
          "dst_port": 0, "pid": 100, "pname": "curl", "type": etype, "length": len(b64), "payload_base64": b64}
    return json.dumps({"log_type": 2, "payload": ev}, separators=(",", ":")).encode()


def test_huge_message_is_skipped_unread(tmp_path):
    body = b"0123456789abcdef" * (6 * MiB)  # 96 MiB: a 128 MiB line
    dump = tmp_path / "in.jsonl"
    with dump.open("wb") as f:
        f.write(event(1, 1, b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n") + b"\n")
        f.write(event(0, 3, b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body) + b"\n")
        f.write(event(1, 1, b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n") + b"\n")
        f.write(event(0, 3, b"HTTP/1.1 204 No Content\r\n\r\n") + b"\n")
    har = tmp_path / "o.har"
    code, rss, err = convert_measured("convert", str(dump), "--har", str(har), "-w", str(tmp_path / "o.pcapng"))
    assert code == 0, err
    assert rss < RSS_BUDGET_MB, f"peak RSS {rss:.0f} MB"
    assert f"{dump}:2: message of " in err and "over the 33554432-byte limit skipped (limit: --max-message-size)" in err
    assert "limits reached: --max-message-size 1" in err
    entries = load_har(har)
    assert [e["request"]["url"].rsplit("/", 1)[1] for e in entries] == ["a", "b"]
    assert sorted(e["response"]["status"] for e in entries) == [0, 204]  # one response was the skipped message


def test_the_limit_is_an_option(tmp_path):
    dump = tmp_path / "in.jsonl"
    dump.write_bytes(event(1, 1, b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n" + b"x" * 3000) + b"\n")
    code, _, err = convert_measured("convert", str(dump), "--har", str(tmp_path / "o.har"), "--max-message-size", "2K")
    assert code == 0 and "over the 2048-byte limit skipped" in err


def test_a_recordings_message_is_held_to_the_limit_as_live_held_it(tmp_path):
    """live and record apply --max-message-size to a message; a recording holds it in a JSON line, longer (a
    binary frame as base64, a third more; a text frame's quotes escaped): convert of the recording skipped a message
    live had converted (the live audit's finding 2). The limit is the message's, decoded; one over it is still
    skipped."""
    def response(n: int) -> bytes:
        return event(0, 3, b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % n + b"u" * n)

    under = response(max(n for n in range(1000, 1500) if len(response(n)) <= 2048))  # (the largest under it)
    over = event(0, 3, b"x" * 2100)
    lines = [json.dumps({"ecq2pcap": "recording", "version": 1, "url": "ws://127.0.0.1:28257/", "started": T0})]
    for i, frame in enumerate([event(1, 1, b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"), under, over]):
        lines.append(json.dumps({"t": T0 + i / 10, "opcode": "text", "text": frame.decode()}))
    assert len(under) <= 2048 < len(lines[2]) and len(over) > 2048
    dump = tmp_path / "rec.jsonl"
    dump.write_text("\n".join(lines) + "\n")
    code, _, err = convert_measured("convert", str(dump), "--har", str(tmp_path / "o.har"), "--max-message-size", "2K")
    assert code == 0, err
    assert f"{dump}:4: message of {len(over)} bytes over the 2048-byte limit skipped" in err
    assert err.count("over the 2048-byte limit") == 1
    (entry,) = load_har(tmp_path / "o.har")
    assert entry["response"]["status"] == 200
