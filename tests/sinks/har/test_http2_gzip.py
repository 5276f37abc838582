"""An HTTP/2 response whose body eCapture v1.x gunzipped ("Partial entity body with gzip encoding" frames and a
"Merged Data Frame"): the HAR shows the header fields the server sent (content-encoding: gzip, its content-length),
and the size sent from them, as for HTTP/1 re-renderings. It showed the re-encoded fields (content-encoding dropped)
and the decoded size as bodySize. Without a content-length, the size sent is what the placeholder DATA frames' "Frame
Length" lines add up to (it was -1); eCapture before v1.0 printed no such line: then -1."""

from __future__ import annotations

from ecq2pcap.model import ChunkInfo, Direction, PayloadForm
from ecq2pcap.payloads.h2 import H2Reencoder
from ecq2pcap.payloads.h2dump import parse_h2_dump
from ecq2pcap.sinks.har.entries import build_entry
from ecq2pcap.sinks.har.http2 import Http2Parser
from tests.payloads.test_h2dump import frame_head, headers_block, merged_block

from . import make_conn

GET = [(":method", "GET"), (":scheme", "https"), (":authority", "h.example"), (":path", "/items")]
BODY = b'{"items":[' + b",".join(b'{"id":%d}' % i for i in range(300)) + b"]}"


def _placeholder(sid: int, length: int | None) -> bytes:
    return frame_head("DATA", sid, length) + b"Partial entity body with gzip encoding ... \n"


def _entry(response_fields, frames=(656,)) -> dict:
    r, p = H2Reencoder(), Http2Parser(make_conn())
    done = []
    for t, (direction, dump) in enumerate(((Direction.C2S, headers_block(1, GET)), (Direction.S2C, (
            headers_block(1, response_fields) + b"".join(_placeholder(1, n) for n in frames)
            + merged_block(1, BODY))))):
        out = r.encode(direction, parse_h2_dump(dump))
        info = ChunkInfo(form=PayloadForm.H2_DUMP, notes=tuple(out.notes))
        done += p.feed(direction, (r.take_preface() if direction is Direction.C2S else b"") + out.wire, t, info)
    done += p.close(9)
    (ex,) = done
    return build_entry(ex)


def test_the_server_fields_and_the_size_sent_are_shown():
    entry = _entry([(":status", "200"), ("content-type", "application/json"), ("content-length", "656"),
                    ("content-encoding", "gzip")])
    response = entry["response"]
    headers = {h["name"]: h["value"] for h in response["headers"]}
    assert headers["content-encoding"] == "gzip" and headers["content-length"] == "656"
    assert response["bodySize"] == 656 and response["content"]["size"] == len(BODY)
    assert response["content"]["compression"] == len(BODY) - 656
    assert response["content"]["text"] == BODY.decode()


def test_without_a_content_length_the_size_sent_is_its_frames():
    response = _entry([(":status", "200"), ("content-encoding", "gzip")], frames=(400, 256))["response"]
    headers = {h["name"]: h["value"] for h in response["headers"]}
    assert headers["content-encoding"] == "gzip" and "content-length" not in headers  # (none made up)
    assert response["bodySize"] == 656 and response["content"]["size"] == len(BODY)  # (not the decoded size)
    assert response["content"]["compression"] == len(BODY) - 656


def test_without_frame_lengths_the_size_sent_is_unknown():  # (eCapture before v1.0 printed no "Frame Length")
    response = _entry([(":status", "200"), ("content-encoding", "gzip")], frames=(None, 256))["response"]
    assert response["bodySize"] == -1 and response["content"]["size"] == len(BODY)
    assert "compression" not in response["content"]
