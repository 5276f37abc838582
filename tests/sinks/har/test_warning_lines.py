"""A HAR-side warning names the FILE:LINE where its problem was: a request's at the request's line, a response's at
the response's. A limit biting on a response was said at its request's line, one on a request whose head did not
parse at its response's."""

from __future__ import annotations

import base64
import json
import re

from ecq2pcap.cli import main


def _event(t: int, port: int, fd: int, outbound: bool, payload: bytes) -> str:  # (eCapture v1.4.2, a client)
    b64 = base64.b64encode(payload).decode()
    return json.dumps({"log_type": 2, "payload": {
        "timestamp": t, "uuid": f"100_100_curl_{fd}_{int(outbound)}_10.0.0.1:{port}-10.0.0.5:443", "src_ip": "",
        "src_port": 0, "dst_ip": "", "dst_port": 0, "pid": 100, "pname": "curl", "type": 1 if outbound else 3,
        "length": len(b64), "payload_base64": b64}})


def test_each_warning_names_the_line_of_what_it_is_about(tmp_path, capsys):
    lines = [
        _event(1000, 45000, 5, True, b"GET /a HTTP/1.1\r\nHost: a\r\nX-Big: " + b"v" * 3000 + b"\r\n\r\n"),  # 1
        _event(1000, 45000, 5, False, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),  # 2
        _event(1001, 45001, 6, True, b"GET /b HTTP/1.1\r\nHost: a\r\n\r\n"),  # 3
        _event(1001, 45001, 6, False, b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + b"A" * 5000),  # 4
    ]
    dump = tmp_path / "in.jsonl"
    dump.write_text("\n".join(lines) + "\n")
    assert main(["convert", str(dump), "--har", str(tmp_path / "o.har"), "--max-header-line", "2K",
                 "--max-body-size", "1K"]) == 0
    said = {m.group(2): int(m.group(1)) for m in re.finditer(r"in\.jsonl:(\d+): warning: .*\(limit: (--[a-z-]+)\)",
                                                            capsys.readouterr().err)}
    assert said == {"--max-header-line": 1, "--max-body-size": 4}


def test_an_http2_streams_incomplete_body_is_said_at_its_capture(tmp_path, capsys):
    """"s2c body incomplete" (a DATA frame cut at the end of the input) was said at the request's line."""
    import hpack
    from hyperframe.frame import SettingsFrame

    from tests.limits.support import Dump
    from tests.support.frames import h2_data, h2_headers

    d, client, server = Dump(), hpack.Encoder(), hpack.Encoder()
    fd = d.open()
    get = [(":method", "GET"), (":path", "/h2"), (":scheme", "https"), (":authority", "x")]
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + SettingsFrame(0).serialize()
    d.send(fd, preface + h2_headers(1, client.encode(get), True))
    d.recv(fd, (SettingsFrame(0).serialize() + h2_headers(1, server.encode([(":status", "200")]))
                + h2_data(1, b"q" * 20000, True))[:16384])  # (cut: the end of the input follows)
    dump = d.write(tmp_path / "in.jsonl")
    assert main(["convert", str(dump), "--har", str(tmp_path / "o.har")]) == 0
    lines = dump.read_text().splitlines()
    m = re.search(r"in\.jsonl:(\d+): warning: [^\n]*s2c body incomplete", capsys.readouterr().err)
    assert m, "no warning"
    said = base64.b64decode(json.loads(lines[int(m.group(1)) - 1])["data_b64"])
    assert b"qqqq" in said  # (the capture that holds the cut body, not the request's)


def test_a_websocket_messages_limit_is_said_at_the_capture_that_held_it(tmp_path, capsys):
    """(A WebSocket entry is written when its connection ends: its messages' errors were said at the upgrade's
    line.)"""
    from tests.support.made_up import SWITCH, UPGRADE
    from tests.support.v2_stream import V2Stream

    s = V2Stream()
    s.connect(7, 101, "client", ("10.0.0.1", 40001), ("10.0.0.2", 443))
    s.call(7, 101, "client", True, UPGRADE)
    s.call(7, 101, "client", False, SWITCH)
    for _ in range(5):
        s.call(7, 101, "client", False, bytes([0x81, 5]) + b"hello")
    s.call(7, 101, "client", False, bytes([0x82, 126]) + (3000).to_bytes(2, "big") + b"M" * 3000)
    dump = tmp_path / "in.jsonl"
    dump.write_bytes(s.dump())
    assert main(["convert", str(dump), "--har", str(tmp_path / "o.har"), "--max-ws-message-size", "1K"]) == 0
    m = re.search(r"in\.jsonl:(\d+): warning: [^\n]*--max-ws-message-size", capsys.readouterr().err)
    assert m, "no warning"
    said = base64.b64decode(json.loads(dump.read_text().splitlines()[int(m.group(1)) - 1])["data_b64"])
    assert b"M" * 100 in said
