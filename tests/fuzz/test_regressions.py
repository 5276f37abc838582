"""What fuzzing found (issue 7), each kept as a plain example that failed before its fix."""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from ecq2pcap.cli import main
from ecq2pcap.payloads.websocket import parse_extensions
from ecq2pcap.uuids import parse_uuid
from tests.limits.support import Dump
from tests.support.har import validate_har

UPGRADE = (b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")


def convert(tmp_path, d: Dump) -> tuple[int, str, list[dict]]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["convert", str(d.write(tmp_path / "in.jsonl")), "--har", str(tmp_path / "o.har"),
                     "-w", str(tmp_path / "o.pcapng"), "--no-progress"])
    doc = json.loads((tmp_path / "o.har").read_text())
    validate_har(doc)
    assert "Traceback" not in err.getvalue()
    return code, err.getvalue(), doc["log"]["entries"]


@pytest.mark.parametrize("bits", ["²", "٣", "99", "0"])
def test_window_bits_that_are_not_8_to_15_are_ignored(tmp_path, bits):
    # str.isdigit() accepts "²", which int() rejects: the 101's header crashed the conversion
    d = Dump()
    fd = d.open()
    d.send(fd, UPGRADE)
    d.recv(fd, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               b"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=" + bits.encode() + b"\r\n\r\n")
    d.recv(fd, b"\x81\x02hi")
    code, _, entries = convert(tmp_path, d)
    assert code == 0
    [ws] = entries
    assert [m["data"] for m in ws["_webSocketMessages"]] == ["hi"]
    assert parse_extensions(f"permessage-deflate; client_max_window_bits={bits}")[0].client_max_window_bits is None


def test_an_authority_with_a_bracket_is_kept_in_the_url(tmp_path):
    # urlsplit raised "Invalid IPv6 URL" while the entry's query string was extracted; a bracket is
    # only allowed around an IPv6 literal, so it is percent-encoded (the URL stays a URI)
    d = Dump()
    fd = d.open()
    d.send(fd, b"GET /q?a=1 HTTP/1.1\r\nHost: [bad\r\n\r\n")
    d.recv(fd, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    code, _, entries = convert(tmp_path, d)
    assert code == 0
    [e] = entries
    assert e["request"]["url"] == "https://%5Bbad/q?a=1"
    assert e["request"]["queryString"] == [{"name": "a", "value": "1"}]


@pytest.mark.parametrize("pid", ["²", "١٢"])
def test_uuid_numbers_are_ascii_digits(pid):
    with pytest.raises(ValueError, match="does not start with <pid>_"):
        parse_uuid(f"{pid}_1_curl_5_1_10.0.0.1:1-10.0.0.2:2")


@pytest.mark.parametrize("field, value", [("pid", -1), ("pid", 1 << 40), ("src_port", 70000)])
def test_v14_json_numbers_out_of_their_go_types_are_refused(field, value):
    # the deep fuzz run: "pid": -1 became a capture of pid -1
    from ecq2pcap.dialects import decode
    from ecq2pcap.model import DecodeError, Message, Opcode

    event = {"timestamp": 1, "uuid": "1_2_curl_5_1_10.0.0.1:40000-10.0.0.2:443", "pid": 1, "pname": "curl",
             "type": 1, "payload_base64": "R0VU", field: value}
    with pytest.raises(DecodeError, match=field):
        decode(Message(json.dumps({"log_type": 2, "payload": event}).encode(), Opcode.TEXT, "x:1"))
