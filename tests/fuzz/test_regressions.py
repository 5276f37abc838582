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
from tests.support.mixed_stream import event_line

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


@pytest.mark.parametrize("bits", ["²", "٣", "99", "0", "9" * 5000],
                         ids=["superscript", "arabic", "99", "0", "5000 digits"])
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


def test_tuple_ports_are_ascii_digits():
    # the tuple regexes' \d took "٥٠" as port 50
    from ecq2pcap.uuids import parse_tuple

    for text in ("10.0.0.1:٥٠-10.0.0.2:443", "[::1]:1->[::2]:٤٤٣"):
        with pytest.raises(ValueError, match="not a connection tuple"):
            parse_tuple(text)
    assert parse_uuid("1_2_curl_5_1_10.0.0.1:٥٠-10.0.0.2:443").tuple is None  # not an openssl uuid then
    assert parse_tuple("[::1]:1->[::2]:443") is not None


@pytest.mark.parametrize("text", [b"\xff\xfe", b"41 42 \xe9", b"0000\xe9 41"])
def test_hex_reversals_raise_value_error_itself(text):
    # v2's plain --hex reversal let a UnicodeDecodeError out (a ValueError subclass, not the documented error)
    from ecq2pcap.dialects import v2_text
    from ecq2pcap.payloads.hexdump import ECAPTURE_V1, ECAPTURE_V2, GO, reverse

    for fn in (lambda t: reverse(t, GO), lambda t: reverse(t, ECAPTURE_V1), lambda t: reverse(t, ECAPTURE_V2),
               v2_text._unhex):
        with pytest.raises(ValueError) as info:
            fn(text)
        assert type(info.value) is ValueError, info.value


@pytest.mark.parametrize("target, url", [
    ("http://[bad/q?a=1", "http://%5Bbad/q?a=1"),
    ("https://a]b:8443/q?a=1", "https://a%5Db:8443/q?a=1"),
    ("http://[::1]:8080/q?a=1", "http://[::1]:8080/q?a=1"),
])
def test_an_absolute_form_target_with_a_bracket_gives_a_uri(tmp_path, target, url):
    # the bracket fix covered Host/:authority only: an absolute-form target kept "[" in the authority
    d = Dump()
    fd = d.open()
    d.send(fd, f"GET {target} HTTP/1.1\r\nHost: h\r\n\r\n".encode())
    d.recv(fd, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    code, _, entries = convert(tmp_path, d)  # validate_har: the URL must be a URI urlsplit accepts
    assert code == 0
    [e] = entries
    assert e["request"]["url"] == url and e["request"]["queryString"] == [{"name": "a", "value": "1"}]


def test_a_connect_target_with_a_bracket_gives_a_uri(tmp_path):
    d = Dump()
    fd = d.open()
    d.send(fd, b"CONNECT [bad:443 HTTP/1.1\r\nHost: [bad:443\r\n\r\n")
    d.recv(fd, b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
    code, _, entries = convert(tmp_path, d)
    assert code == 0
    [e] = entries
    assert e["request"]["url"] == "https://%5Bbad:443" and e["response"]["status"] == 403


@pytest.mark.parametrize("codes", [["100", "103"], ["1c0"], ["1²3", "103"]])
def test_http2_informational_responses_give_one_entry_with_the_final_status(codes):
    # the HAR target: an informational ":status: 1c0" (3 characters, a leading 1) raised ValueError in
    # int() while the HAR entry was built: the entry was lost and counted as an internal error
    import hpack

    from ecq2pcap.model import Closed, Direction, Opened, Protocol
    from ecq2pcap.payloads.h2.encoder import frame_bytes
    from ecq2pcap.report import Report
    from ecq2pcap.sinks.har import HarSink
    from tests.sinks.har import load_with_haralyzer, make_chunk, make_conn

    t0 = 1_795_715_800 * 1_000_000_000
    req = hpack.Encoder().encode([(":method", "GET"), (":scheme", "https"), (":authority", "ex.test"), (":path", "/")])
    enc = hpack.Encoder()
    c2s = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame_bytes(4, 0, 0) + frame_bytes(1, 0x5, 1, req)
    s2c = frame_bytes(4, 0, 0)
    for code in codes:
        s2c += frame_bytes(1, 0x4, 1, enc.encode([(":status", code), ("link", "</a.css>; rel=preload")]))
    s2c += (frame_bytes(1, 0x4, 1, enc.encode([(":status", "200"), ("content-type", "text/plain")]))
           + frame_bytes(0, 0x1, 1, b"hi"))
    out = io.BytesIO()
    report = Report()
    sink = HarSink(out, report=report)
    conn = make_conn(1)
    sink.handle(Opened(conn, t0))
    sink.handle(make_chunk(conn, Direction.C2S, t0, c2s, protocol=Protocol.HTTP2))
    sink.handle(make_chunk(conn, Direction.S2C, t0 + 1_000_000, s2c, protocol=Protocol.HTTP2))
    sink.handle(Closed(conn, t0 + 2_000_000, "end of input"))
    sink.finish()
    doc = json.loads(out.getvalue())
    validate_har(doc)
    load_with_haralyzer(doc)
    [e] = doc["log"]["entries"]
    assert e["response"]["status"] == 200 and e["response"]["content"]["text"] == "hi"
    assert e["response"]["httpVersion"] == "HTTP/2"
    assert not report.warnings, report.warnings


@pytest.mark.parametrize("method, target, host, url", [
    ("GET", "http:///x?a=1", "h", "https://h/x?a=1"),  # absolute-form without an authority: the Host's
    ("CONNECT", "/", "h:443", "https://h:443/"),  # a CONNECT whose target is a path (RFC 8441's): origin-form
    ("GET", "/x?a=1", " ", "https://10.0.0.2:443/x?a=1"),  # a blank Host: the server address
    ("GET", "/x?a=1", "h/p#f", "https://h%2Fp%23f/x?a=1"),
    ("GET", "/x?a=1", "[B:1]:8443", "https://%5BB:1%5D:8443/x?a=1"),  # looks like IPv6, is not (deep run)
    ("GET", "/x?a=1", "[1.2.3.4]", "https://%5B1.2.3.4%5D/x?a=1"),
    ("GET", "/x?a=1", "[::1]:8443", "https://[::1]:8443/x?a=1"),
])
def test_urls_always_have_an_authority(method, target, host, url):
    # found by test_har_entry_urls: "http://", "https:///" and the like are not URLs a HAR reader accepts
    from ecq2pcap.payloads.http import HttpRequest, HttpResponse
    from ecq2pcap.sinks.har.entries import build_entry
    from ecq2pcap.sinks.har.exchange import Exchange
    from tests.sinks.har import make_conn, validate_entry

    req = HttpRequest(method=method, target=target, headers=[("Host", host)], start_ns=1, end_ns=1, complete=True)
    resp = HttpResponse(status=200, reason="OK", start_ns=2, end_ns=2, complete=True)
    entry = build_entry(Exchange(make_conn(1), request=req, response=resp))
    validate_entry(entry)
    assert entry["request"]["url"] == url


def test_http2_frame_too_short_for_its_priority_fields_is_a_frame_error():
    # the deep fuzz run: hyperframe's struct.error was caught by name in payloads/h2/decoder.py without
    # `import struct`: the NameError, then a BufferError while the decoder gave up, escaped feed()
    from ecq2pcap.model import Direction
    from ecq2pcap.payloads.h2 import H2PassiveDecoder
    from ecq2pcap.payloads.h2.encoder import frame_bytes

    dec = H2PassiveDecoder()
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame_bytes(4, 0, 0)
    dec.feed(Direction.C2S, preface + frame_bytes(1, 0x24, 1, b"\x00"), 1)  # PRIORITY flag, 1 byte: 5 needed
    dec.feed(Direction.C2S, b"\x00", 2)
    dec.close(3)
    assert dec.errors == ["c2s: stream 1: malformed frame type 1: Invalid Priority data",
                          "c2s: 1 bytes of an incomplete frame at end of capture"]


def test_a_content_length_of_thousands_of_digits_is_repaired_not_a_crash(tmp_path):
    # int() refuses more than 4,300 digits: the framing repair of eCapture v1's rendered HTTP/1 raised while
    # the table was finished, and every connection still open lost its packets and entries
    tup = "10.1.0.1:40000-10.0.0.1:443"
    (tmp_path / "in.jsonl").write_text("\n".join([
        event_line(0, 1000, "curl", 5, 1, tup, 1, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
        event_line(1, 1000, "curl", 5, 0, tup, 3, b"HTTP/1.1 200 OK\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\nok"),
    ]) + "\n")
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["convert", str(tmp_path / "in.jsonl"), "--har", str(tmp_path / "o.har"), "-w",
                     str(tmp_path / "o.pcapng"), "--no-progress"])
    assert code == 0 and "internal error" not in err.getvalue(), err.getvalue()
    [e] = json.loads((tmp_path / "o.har").read_text())["log"]["entries"]
    assert e["response"]["content"]["text"] == "ok" and "(5000 bytes) → 2" in e["comment"]
