"""HTTP/2 whose bytes eCapture cut (v2.1+, one event per SSL call, at most 16 KiB of a call): the frames after
the cut are still read, by tshark from our pcapng and by our HAR, and the loss is said in both and in the
summary. Without the realignment, every frame after the cut was read from the wrong bytes."""

from __future__ import annotations

import json

import hpack
from hyperframe.frame import SettingsFrame

from ecq2pcap.cli import main
from ecq2pcap.payloads.h2 import PREFACE
from tests.support.dissect import bad_expert, dissect
from tests.support.frames import h2_data, h2_headers
from tests.support.har import validate_har
from tests.support.v2_stream import V2Stream

CAP = 16384  # eCapture keeps at most this much of one SSL call (protocol doc §10.16)


def build(path):
    client, server = hpack.Encoder(), hpack.Encoder()

    def headers(enc, sid, fields, end):
        return h2_headers(sid, enc.encode(fields), end)

    data = h2_data

    def req(path):
        return [(":method", "GET"), (":path", path), (":scheme", "https"), (":authority", "h2.example")]

    s = V2Stream()
    s.connect(61, 7, "fetch", ("10.7.0.2", 52000), ("10.7.0.1", 443))

    def call(write, wire):
        s.call(61, 7, "fetch", write, wire[:CAP])  # what eCapture keeps of the call

    call(True, PREFACE + SettingsFrame(0).serialize() + headers(client, 1, req("/big"), True))
    call(False, SettingsFrame(0).serialize() + headers(server, 1, [(":status", "200")], False))
    call(False, data(1, b"a" * 16384))  # one call of 16,393 bytes: its last 9 are lost
    call(False, data(1, b"b" * 100, end=True))
    call(True, headers(client, 3, req("/next"), True))
    call(False, headers(server, 3, [(":status", "201")], False) + data(3, b"next body", end=True))
    path.write_bytes(s.dump())


def converted(dump, pcap, har, capsys) -> tuple[str, dict]:
    """``dump`` converted to ``pcap`` and ``har``: the summary, and the HAR's entries (valid) by URL."""
    assert main(["convert", str(dump), "-w", str(pcap), "--har", str(har)]) == 0
    summary = capsys.readouterr().err
    doc = json.loads(har.read_text())
    validate_har(doc)
    return summary, {e["request"]["url"]: e for e in doc["log"]["entries"]}


def stream_3_read(tshark, pcap, path: str, status: str) -> list:
    """tshark reads ``pcap`` without a warning, stream 3's request for ``path`` and its ``status`` among its HTTP/2
    frames (what follows a frame eCapture cut); the frames, for more checks."""
    frames = dissect(tshark, pcap)
    assert bad_expert(frames) == []
    h2 = [(f["http2.streamid"], f["http2.headers.path"], f["http2.headers.status"]) for f in frames
          if f.has("http2.type")]
    assert any("3" in sids and path in paths for sids, paths, _ in h2)
    assert any("3" in sids and status in statuses for sids, _, statuses in h2)
    return frames


def test_frames_after_a_frame_ecapture_cut_are_read_and_the_loss_is_said(tmp_path, tshark, capsys):
    dump, pcap, har = tmp_path / "h2.jsonl", tmp_path / "h2.pcapng", tmp_path / "h2.har"
    build(dump)
    summary, entries = converted(dump, pcap, har, capsys)
    assert "1 × data lost by eCapture" in summary and "warnings            1" in summary  # (said once)
    assert "made up             9  bytes of zeros" in summary
    assert sorted(entries) == ["https://h2.example/big", "https://h2.example/next"]
    big, nxt = entries["https://h2.example/big"], entries["https://h2.example/next"]
    assert (nxt["response"]["status"], nxt["response"]["content"]["text"]) == (201, "next body")
    assert "_error" not in nxt
    assert big["response"]["content"]["text"] == "a" * 16375 + "\0" * 9 + "b" * 100
    assert "stream 1: an HTTP/2 DATA frame: its last 9 bytes lost by eCapture" in big["_error"]

    frames = stream_3_read(tshark, pcap, "/next", "201")
    (cut,) = [f for f in frames if any("lost by eCapture" in c for c in f["frame.comment"])]
    assert cut.first("tcp.len") == "9"


def test_bytes_that_are_not_http2_on_an_http2_connection_are_not_made_up_to_megabytes(tmp_path, capsys):
    """Bytes of another kind read as a frame header ("<ht": 3.96 MB of a frame of type 'm') on an HTTP/2 connection,
    then plausible frames again: the frame's "rest" was made up, 3.96 MB of zeros for 112 bytes captured (a v2
    server dump of 4 MB wrote a 2.4 GB pcapng and took 740 MB). Nothing is made up for a header that is not a
    credible frame's, and the packet comment and the summary say why."""
    client = hpack.Encoder()
    s = V2Stream()
    s.connect(61, 7, "fetch", ("10.7.0.2", 52000), ("10.7.0.1", 443))
    s.call(61, 7, "fetch", True, PREFACE + SettingsFrame(0).serialize() + h2_headers(1, client.encode(
        [(":method", "GET"), (":path", "/"), (":scheme", "https"), (":authority", "h2.example")]), True))
    s.call(61, 7, "fetch", False, SettingsFrame(0).serialize() + h2_data(1, b"first"))
    s.call(61, 7, "fetch", False, b"<html><body>" + b"x" * 100)
    s.call(61, 7, "fetch", False, h2_data(1, b"after", end=True))
    dump, pcap = tmp_path / "mixed.jsonl", tmp_path / "mixed.pcapng"
    dump.write_bytes(s.dump())
    assert main(["convert", str(dump), "-w", str(pcap)]) == 0
    assert pcap.stat().st_size < 64 * 1024
    summary = capsys.readouterr().err
    assert "1 × bytes that are not frames on an HTTP/2 or WebSocket connection" in summary
    assert "not a credible frame's" in summary and "zero bytes put in their place" not in summary
    assert "  made up " not in summary  # (no summary line: nothing was)


def test_a_cut_frame_larger_than_16_kib_that_the_servers_settings_allow_is_made_up_and_what_follows_read(
        tmp_path, tshark, capsys):
    """httpx uploading to nginx: nginx's SETTINGS allow frames of up to 16 MiB - 1, and the client writes a
    40,000-byte DATA frame in one call, of which eCapture keeps 16 KiB. Its rest is made up (the frame is credible
    once the server's SETTINGS allowed it), so the request after it is read, by tshark and in the HAR."""
    client, server = hpack.Encoder(), hpack.Encoder()

    def req(method, path):
        return client.encode([(":method", method), (":path", path), (":scheme", "https"),
                              (":authority", "up.example")])

    s = V2Stream()
    s.connect(62, 9, "httpx", ("10.7.0.3", 52001), ("10.7.0.1", 443))

    def call(write, wire):
        s.call(62, 9, "httpx", write, wire[:CAP])

    call(True, PREFACE + SettingsFrame(0).serialize())
    call(False, SettingsFrame(0, settings={SettingsFrame.MAX_FRAME_SIZE: (1 << 24) - 1}).serialize())
    call(True, h2_headers(1, req("POST", "/upload"), False))
    call(True, h2_data(1, b"u" * 40000))  # one call of 40,009 bytes: eCapture keeps its first 16,384
    call(True, h2_data(1, b"end", end=True))
    call(False, h2_headers(1, server.encode([(":status", "204")]), True))
    call(True, h2_headers(3, req("GET", "/after"), True))
    call(False, h2_headers(3, server.encode([(":status", "200")]), False) + h2_data(3, b"after body", end=True))
    dump, pcap, har = tmp_path / "up.jsonl", tmp_path / "up.pcapng", tmp_path / "up.har"
    dump.write_bytes(s.dump())
    summary, entries = converted(dump, pcap, har, capsys)
    assert "1 × data lost by eCapture" in summary and "not a credible" not in summary
    assert "made up        23,625  bytes of zeros" in summary
    assert sorted(entries) == ["https://up.example/after", "https://up.example/upload"]
    up, after = entries["https://up.example/upload"], entries["https://up.example/after"]
    assert up["request"]["postData"]["text"] == "u" * (CAP - 9) + "\0" * (40000 - CAP + 9) + "end"
    assert up["response"]["status"] == 204 and "its last 23,625 bytes lost by eCapture" in up["_error"]
    assert (after["response"]["status"], after["response"]["content"]["text"]) == (200, "after body")

    stream_3_read(tshark, pcap, "/after", "200")
