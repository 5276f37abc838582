"""End to end on small hand-built streams, for HTTP/2 items of the protocol doc only unit tests or the samples
covered (helpers and the other items: test_protocol_gaps2.py):

- §11.7: eCapture v1's HTTP/2 text dump of gzip responses: the placeholder DATA sections, then the gunzipped
  bodies as "Merged Data Frame" blocks, in any order, one holding the dump's own markers;
- §11.14: server-side HTTP/2 (nginx): the server writes its SETTINGS before it reads the client's preface.
  With the read of the preface lost, that SETTINGS alone tells which end the process is.

Each is converted through the CLI; the HAR is validated (schema and haralyzer), the pcapng read by tshark.
"""

from __future__ import annotations

import gzip

import hpack
from hyperframe.frame import SettingsFrame, WindowUpdateFrame

from tests.conftest import run_tshark
from tests.support.dissect import bad_expert, dissect, follow, syns
from tests.support.frames import h2_data, h2_headers
from tests.support.v2_stream import V2Stream
from tests.test_convert_e2e import body_of
from tests.test_protocol_gaps2 import S, T0, convert, proto_line, uuid


# -- §11.7: v1 HTTP/2 text dumps with gzip responses ---------------------------------------------------------------

def _frame_head(ftype: str, sid: int, length: int) -> bytes:
    return b"\nFrame Type\t=>\t%s\nFrame StreamID\t=>\t%d\nFrame Length\t=>\t%d\n" % (ftype.encode(), sid, length)


def _headers(sid: int, fields: list[tuple[str, str]]) -> bytes:
    """A HEADERS section (the fields %q-quoted as Go prints them: plain ASCII here)."""
    return _frame_head("HEADERS", sid, 30) + b"".join(b'header field "%s" = "%s"\n' % (k.encode(), v.encode())
                                                     for k, v in fields)


def _placeholders(sid: int, sent: int) -> bytes:
    """The DATA sections of a gzip body of ``sent`` bytes, framed 8192 at a time by the sender."""
    sizes = [8192] * (sent // 8192) + ([sent % 8192] if sent % 8192 else [])
    return b"".join(_frame_head("DATA", sid, n) + b"Partial entity body with gzip encoding ... \n" for n in sizes)


def _merged(sid: int, body: bytes) -> bytes:
    return b"\nMerged Data Frame, StreamID\t=>\t%d\nMerged Data Frame, Final Length\t=>\t%d\n\n" % (sid, len(body)) \
        + body + b"\n"


H2_BODIES = {
    1: b'{"rows":[' + b",".join(b'{"id":%d,"name":"row %d"}' % (i, i) for i in range(2000)) + b"]}",
    # a body holding the dump's own markers, blank line and all: only Final Length tells where it ends
    3: b"text\n\nMerged Data Frame, StreamID\t=>\t1\nMerged Data Frame, Final Length\t=>\t4\n\nfake\n"
       b"\nFrame Type\t=>\tDATA\nFrame StreamID\t=>\t3\nFrame Length\t=>\t2\n" * 40,
}


def h2_gzip_lines() -> list[str]:
    """v1.5 openssl client: a type 2 dump of two requests, then a type 4 dump of both gzip responses, their bodies
    gunzipped at the end, stream 3's block first."""
    sent = {sid: len(gzip.compress(body, mtime=0)) for sid, body in H2_BODIES.items()}
    request = b"".join(_headers(sid, [(":method", "GET"), (":path", f"/s{sid}"), (":scheme", "https"),
                                      (":authority", "h2.example")]) for sid in H2_BODIES)
    request = b"\nFrame Type\t=>\tSETTINGS\nFrame StreamID\t=>\t0\n" + request
    response = b"\nFrame Type\t=>\tSETTINGS\nFrame StreamID\t=>\t0\n"
    for sid in H2_BODIES:
        response += _headers(sid, [(":status", "200"), ("content-type", "application/json"),
                                   ("content-encoding", "gzip"), ("content-length", str(sent[sid]))])
        response += _placeholders(sid, sent[sid])
    response += _merged(3, H2_BODIES[3]) + _merged(1, H2_BODIES[1])
    return [proto_line(T0 + 1.2, T0 * S, uuid(7, 7, "curl", 5, True), "curl", 2, request),
            proto_line(T0 + 1.3, T0 * S + S // 10, uuid(7, 7, "curl", 5, False), "curl", 4, response)], sent


def test_v1_h2_gzip_bodies_come_from_the_merged_blocks_in_any_order(tmp_path, tshark):
    """§11.7: the HAR shows each body decoded, with the fields the server sent and the size it sent; the pcapng
    carries the decoded body as real DATA frames, content-encoding dropped and content-length its length."""
    lines, sent = h2_gzip_lines()
    pcap, doc, err = convert(tmp_path, lines)
    entries = {e["request"]["url"]: e for e in doc["log"]["entries"]}
    assert sorted(entries) == ["https://h2.example/s1", "https://h2.example/s3"]
    for sid, body in H2_BODIES.items():
        e = entries[f"https://h2.example/s{sid}"]
        assert "_error" not in e, e.get("_error")
        r = e["response"]
        assert (r["status"], r["httpVersion"], e["_streamId"]) == (200, "HTTP/2", sid)
        assert body_of(e) == body and r["content"]["size"] == len(body)
        fields = {h["name"]: h["value"] for h in r["headers"]}
        assert fields["content-encoding"] == "gzip" and fields["content-length"] == str(sent[sid])
        assert r["bodySize"] == sent[sid] and r["content"]["compression"] == len(body) - sent[sid]
    frames = dissect(tshark, pcap)
    assert not bad_expert(frames)
    assert sorted(p for f in frames for p in f["http2.headers.path"]) == ["/s1", "/s3"]
    assert [s for f in frames for s in f["http2.headers.status"]] == ["200", "200"]
    pairs = [(n, v) for f in frames for n, v in zip(f["http2.header.name"], f["http2.header.value"])]
    assert ("content-encoding", "gzip") not in pairs
    assert sorted(int(v) for n, v in pairs if n == "content-length") == sorted(map(len, H2_BODIES.values()))
    for sid, body in H2_BODIES.items():  # Wireshark's own HTTP/2 stream follow: the DATA frames hold the body
        out = run_tshark(tshark, pcap, "-q", "-z", f"follow,http2,raw,0,{sid}")
        pieces = [bytes.fromhex(line[1:]) for line in out.split("=" * 67)[1].splitlines()
                  if line.startswith("\t") and line[1:].strip()]
        data = [p for p in pieces if p[3] == 0 and len(p) == 9 + int.from_bytes(p[:3], "big")]  # (type DATA)
        assert b"".join(p[9:] for p in data) == body, sid
        assert data[-1][4] & 1  # END_STREAM


# -- §11.14: server-side HTTP/2, the server speaks first -----------------------------------------------------------

def h2_server_side_stream(preface_lost: bool = False) -> tuple[bytes, bytes, bytes]:
    """eCapture v2 on nginx (pid 80, fd 9): its 40-byte SETTINGS (+ WINDOW_UPDATE) written before it reads the
    client's preface, then a SETTINGS ACK; the preface and the client's SETTINGS read in one 63-byte read, its
    HEADERS in another; the answer. (the dump, the client's bytes, the server's)"""

    server_settings = SettingsFrame(0, settings={3: 128, 4: 65536, 5: 16777215}).serialize() \
        + WindowUpdateFrame(0, window_increment=2147418112).serialize()
    assert len(server_settings) == 40
    client_settings = SettingsFrame(0, settings={1: 65536, 2: 0, 3: 100, 4: 131072, 6: 262144}).serialize()
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    req = h2_headers(1, hpack.Encoder().encode([(":method", "GET"), (":path", "/first"), (":scheme", "https"),
                                                (":authority", "ng.example")]), end=True)
    ack = SettingsFrame(0, flags=["ACK"]).serialize()
    answer = h2_headers(1, hpack.Encoder().encode([(":status", "200"), ("content-type", "text/plain")])) \
        + h2_data(1, b"server spoke first", end=True)
    s = V2Stream(start=T0)
    s.connect(80, 9, "nginx", ("10.0.0.9", 50000), ("10.0.0.1", 443))  # (the accept: the client's tuple first)
    s.call(80, 9, "nginx", True, server_settings)
    if not preface_lost:  # (else the read eCapture lost: a perf buffer drop)
        s.call(80, 9, "nginx", False, preface + client_settings)
    s.call(80, 9, "nginx", True, ack)
    s.call(80, 9, "nginx", False, ack + req)
    s.call(80, 9, "nginx", True, answer)
    return s.dump(), (b"" if preface_lost else preface + client_settings) + ack + req, server_settings + ack + answer


def test_server_side_http2_whose_server_speaks_first(tmp_path, tshark):
    """§11.14: the process writes before it reads: it is still the server (the tuple's acceptor), the request is
    the client's, and Wireshark reads HTTP/2 both ways."""
    dump, c2s, s2c = h2_server_side_stream()
    pcap, doc, _ = convert(tmp_path, dump.decode().splitlines())
    [entry] = doc["log"]["entries"]
    assert (entry["request"]["url"], entry["response"]["status"], body_of(entry)) == \
        ("https://ng.example/first", 200, b"server spoke first")
    assert entry["request"]["httpVersion"] == "HTTP/2" and "_error" not in entry
    frames = dissect(tshark, pcap, payload=True)
    assert not bad_expert(frames)
    [syn] = syns(frames)
    assert (syn.first("ip.src"), syn.first("tcp.srcport")) == ("10.0.0.9", "50000")
    assert follow(frames, 0) == (c2s, s2c)
    assert [f.first("ip.src") for f in frames if f.has("http2.magic")] == ["10.0.0.9"]
    assert [p for f in frames for p in f["http2.headers.path"]] == ["/first"]
    assert [(f.first("ip.src"), s) for f in frames for s in f["http2.headers.status"]] == [("10.0.0.1", "200")]


def test_server_side_http2_whose_preface_read_was_lost_is_told_by_the_servers_settings(tmp_path, tshark):
    """§11.14 with the read of the preface lost: the only sign of which end the process is, is its first write, a
    SETTINGS frame (a client's bytes open with the preface). The request stays client→server, after a synthetic
    preface, and Wireshark reads it."""
    dump, c2s, s2c = h2_server_side_stream(preface_lost=True)
    pcap, doc, _ = convert(tmp_path, dump.decode().splitlines())
    [entry] = doc["log"]["entries"]
    assert (entry["request"]["url"], entry["response"]["status"], body_of(entry)) == \
        ("https://ng.example/first", 200, b"server spoke first")
    frames = dissect(tshark, pcap, payload=True)
    assert not bad_expert(frames)
    [syn] = syns(frames)
    assert (syn.first("ip.src"), syn.first("tcp.srcport")) == ("10.0.0.9", "50000")
    sent, answered = follow(frames, 0)
    assert sent.endswith(c2s) and answered == s2c
    assert [(f.first("ip.src"), p) for f in frames for p in f["http2.headers.path"]] == [("10.0.0.9", "/first")]
    assert [(f.first("ip.src"), s) for f in frames for s in f["http2.headers.status"]] == [("10.0.0.1", "200")]
