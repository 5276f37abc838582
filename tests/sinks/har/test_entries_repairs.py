"""A HAR entry shows the head eCapture rendered (its stale Transfer-Encoding, Content-Encoding and Content-Length):
the framing repairs the body was read with are said as such in its comment, not as changes made to the entry
(its comment said "Transfer-Encoding: chunked removed" beside the very header)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ecq2pcap.cli import main
from ecq2pcap.sinks.har.exchange import REPAIRED, repairs_said
from tests.support import mixed_stream

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"
TUP = "10.0.0.1:40000-10.0.0.2:443"


def _event(outbound: bool, etype: int, payload: bytes) -> str:  # (eCapture v1.4.2, a client)
    return mixed_stream.event_line(0, 100, "curl", 7, int(outbound), TUP, etype, payload)


def _entries(tmp_path: Path, dump: Path, *extra: str) -> list[dict]:
    har = tmp_path / "out.har"
    assert main(["convert", str(dump), "--har", str(har), "-q", *extra]) == 0
    return json.loads(har.read_text())["log"]["entries"]


@pytest.mark.parametrize("raw", [False, True])
def test_a_dechunked_gunzipped_response_keeps_its_headers_and_says_the_repairs_as_the_reading(tmp_path, raw):
    body = b"hello world " * 20
    dump = tmp_path / "in.jsonl"
    dump.write_text(_event(True, 1, b"GET /c HTTP/1.1\r\nHost: x\r\n\r\n") + "\n" + _event(False, 3, (
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n" + body)) + "\n")
    (entry,) = _entries(tmp_path, dump, *(["--raw-payload"] if raw else []))
    headers = {h["name"].lower(): h["value"] for h in entry["response"]["headers"]}
    assert headers["transfer-encoding"] == "chunked" and headers["content-encoding"] == "gzip"  # (as rendered)
    assert entry["response"]["content"]["text"] == body.decode()
    parts = entry["comment"].split("; ")
    (said,) = [p for p in parts if "removed" in p]  # (the repairs: one part, said to be the reading's)
    assert said.startswith(REPAIRED)
    assert "Transfer-Encoding: chunked removed" in said and "Content-Encoding: gzip removed" in said
    assert f"Content-Length: {len(body)} added" in said


def test_the_http2_gunzipped_copy_is_said_as_the_reading_too(conversions):
    """gen_server_v140: /data.json over HTTP/2, a gzip body eCapture merged gunzipped (its re-encoder's note)."""
    doc = conversions(FIXTURES / "gen_server_v140.dump.jsonl.gz").doc()
    (entry,) = [e for e in doc["log"]["entries"]
                if e["request"]["httpVersion"] == "HTTP/2" and e["request"]["url"].endswith("/data.json")]
    headers = {h["name"].lower(): h["value"] for h in entry["response"]["headers"]}
    assert headers["content-encoding"] == "gzip"
    assert entry["comment"].startswith(REPAIRED + "stream ") and "gunzipped copy" in entry["comment"]
    assert entry["response"]["content"]["size"] > entry["response"]["bodySize"] > 0  # (decoded; the server's size)


def test_other_notes_keep_their_places():
    notes = ["n1", "Transfer-Encoding: chunked removed (x)", "n2", "Content-Length: 5 added"]
    assert repairs_said(notes) == ["n1", REPAIRED + "Transfer-Encoding: chunked removed (x) and Content-Length: 5 added",
                                   "n2"]
    assert repairs_said(["n1", "n2"]) == ["n1", "n2"]
