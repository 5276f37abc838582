"""HTTP/2 HEADERS that eCapture v1.x captured but could not print ("Incorrect HPACK context", "Not Supported
HEADERS Frame with CONTINUATION frames") are not said to be uncaptured: the entry's ``_error`` said "request not
captured by eCapture", a capture loss that did not happen (users act otherwise on it: pcap mode)."""

from __future__ import annotations

from ecq2pcap.model import ChunkInfo, Direction, PayloadForm
from ecq2pcap.payloads.h2 import H2Reencoder
from ecq2pcap.payloads.h2dump import parse_h2_dump
from ecq2pcap.sinks.har.entries import build_entry
from ecq2pcap.sinks.har.http2 import Http2Parser
from tests.payloads.test_h2dump import continuation_block, data_block, headers_block, hpack_failed_block

from . import make_conn

GET = [(":method", "GET"), (":scheme", "https"), (":authority", "web.example.com")]


def _entries(requests: bytes, responses: bytes) -> dict[int, dict]:
    r, p = H2Reencoder(), Http2Parser(make_conn())
    done = []
    for t, (direction, dump) in enumerate(((Direction.C2S, requests), (Direction.S2C, responses)), 1):
        out = r.encode(direction, parse_h2_dump(dump))
        info = ChunkInfo(form=PayloadForm.H2_DUMP, notes=tuple(out.notes))
        done += p.feed(direction, r.take_preface() + out.wire if direction is Direction.C2S else out.wire, t, info)
    done += p.close(9)
    return {ex.stream_id: build_entry(ex) for ex in done}


def test_request_headers_eCapture_could_not_print_are_not_said_uncaptured():
    entries = _entries(headers_block(1, GET + [(":path", "/one")]) + continuation_block(3, "request"),
                       headers_block(1, [(":status", "200")]) + data_block(1, b"one")
                       + headers_block(3, [(":status", "200")]) + data_block(3, b"three"))
    error = entries[3]["_error"]
    assert "request not captured" not in error
    assert "request headers captured by eCapture but not decoded by it" in error
    assert "CONTINUATION" in entries[3]["comment"]
    assert "_error" not in entries[1] and entries[1]["request"]["url"] == "https://web.example.com/one"


def test_response_headers_eCapture_could_not_print_are_not_said_uncaptured():
    entries = _entries(headers_block(1, GET + [(":path", "/one")]),
                       hpack_failed_block(1) + data_block(1, b"one"))
    error = entries[1]["_error"]
    assert "response headers not captured" not in error
    assert "response headers captured by eCapture but not decoded by it" in error and "HPACK" in entries[1]["comment"]
    assert "stream start not captured" not in error
    assert entries[1]["response"]["content"]["text"] == "one"
