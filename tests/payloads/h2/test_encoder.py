"""Re-encoding eCapture HTTP/2 dumps into real frames, checked by independent decoders
(h2, hyperframe + hpack) and by tshark. Here the dumps re-encoded and the encoder's rules and
bounds; raw preface events, the sample's stream and tshark's dissection are in
test_encoder_peers.py, which uses the dumps and decoders here."""

from __future__ import annotations


import h2.config
import h2.connection
import h2.events
import hpack
import pytest
from hyperframe.frame import Frame

from ecq2pcap.model import Direction
from ecq2pcap.payloads.h2dump import parse_h2_dump
from ecq2pcap.payloads.h2 import PREFACE, SETTINGS_FRAME, H2Reencoder
from tests.payloads.test_h2dump import (continuation_block, data_block, frame_head, gzip_placeholder_block,
                                        headers_block, hpack_failed_block, merged_block)

C2S, S2C = Direction.C2S, Direction.S2C


def frames_of(wire: bytes) -> list:
    """Independent frame decoding with hyperframe."""
    out, pos, view = [], 0, memoryview(wire)
    while pos < len(wire):
        fr, length = Frame.parse_frame_header(view[pos:pos + 9])
        assert pos + 9 + length <= len(wire), "partial frame"
        fr.parse_body(view[pos + 9:pos + 9 + length])
        out.append(fr)
        pos += 9 + length
    return out


def decoded(wire: bytes, decoder: hpack.Decoder | None = None) -> list[tuple]:
    """(kind, stream, flags, payload) with HEADERS(+CONTINUATION) decoded as raw header tuples."""
    decoder = decoder or hpack.Decoder()
    out, block = [], None
    for fr in frames_of(wire):
        if fr.type in (1, 9):
            if fr.type == 1:
                block = (fr.stream_id, set(fr.flags), bytearray())
            block[2].extend(fr.data)
            if "END_HEADERS" in fr.flags:
                out.append(("HEADERS", block[0], block[1], decoder.decode(bytes(block[2]), raw=True)))
        elif fr.type == 0:
            out.append(("DATA", fr.stream_id, set(fr.flags), bytes(fr.data)))
        else:
            out.append((type(fr).__name__, fr.stream_id, set(fr.flags), None))
    return out


def h2_server(c2s: bytes) -> list:
    """Feed client→server bytes to an h2 server: the events it sees."""
    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=False, validate_inbound_headers=False))
    conn.initiate_connection()
    events = conn.receive_data(c2s)
    for ev in events:
        if isinstance(ev, h2.events.DataReceived) and ev.flow_controlled_length:
            conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
    return events


def h2_client(s2c: bytes, requests: dict[int, list]) -> list:
    """An h2 client that sent `requests` (stream → headers), then receives server→client bytes."""
    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True, validate_inbound_headers=False))
    conn.initiate_connection()
    for sid, hdrs in sorted(requests.items()):
        conn.send_headers(sid, hdrs, end_stream=True)
    conn.data_to_send()
    return conn.receive_data(s2c)


def by_stream(events) -> dict[int, dict]:
    out: dict[int, dict] = {}
    for ev in events:
        sid = getattr(ev, "stream_id", None)
        if sid is None:
            continue
        st = out.setdefault(sid, {"headers": None, "body": b"", "ended": False, "trailers": None})
        if isinstance(ev, (h2.events.RequestReceived, h2.events.ResponseReceived)):
            st["headers"] = [tuple(h) for h in ev.headers]
        elif isinstance(ev, h2.events.TrailersReceived):
            st["trailers"] = [tuple(h) for h in ev.headers]
        elif isinstance(ev, h2.events.DataReceived):
            st["body"] += ev.data
        if isinstance(ev, h2.events.StreamEnded) or getattr(ev, "stream_ended", None):
            st["ended"] = True
    return out


def b(fields) -> list[tuple[bytes, bytes]]:
    return [(k.encode(), v.encode()) for k, v in fields]


REQ1 = [(":method", "GET"), (":scheme", "https"), (":authority", "example.test"), (":path", "/index.html"),
        ("user-agent", "curl/8.5.0"), ("authorization", "Bearer s3cr3t"), ("accept", "*/*")]
BODY3 = bytes(range(256)) * 80  # 20480 bytes: two DATA frames on the wire
REQ3 = [(":method", "POST"), (":scheme", "https"), (":authority", "example.test"), (":path", "/upload"),
        ("content-type", "application/octet-stream"), ("content-length", str(len(BODY3)))]
REQ5 = [(":method", "GET"), (":scheme", "https"), (":authority", "example.test"), (":path", "/data.json")]


def request_dump() -> bytes:
    """What eCapture's HTTP2Request parser prints for the client's flush (preface discarded)."""
    return (frame_head("SETTINGS", 0) + frame_head("WINDOW_UPDATE", 0)
            + headers_block(1, REQ1, sensitive={5}) + headers_block(3, REQ3)
            + data_block(3, BODY3[:16384]) + data_block(3, BODY3[16384:]) + headers_block(5, REQ5))


GZ_BODY = b'{"hello": "world"}\n' * 50
RESP1 = [(":status", "200"), ("content-type", "text/html"), ("content-length", "11")]
RESP3 = [(":status", "201"), ("content-encoding", "gzip"), ("content-length", "57"), ("vary", "accept-encoding")]
RESP5 = [(":status", "200"), ("content-type", "application/json"), ("content-encoding", "gzip")]


def response_dump() -> bytes:
    return (frame_head("SETTINGS", 0) + frame_head("WINDOW_UPDATE", 0) + frame_head("SETTINGS", 0)
            + headers_block(1, RESP1) + data_block(1, b"hello\nworld")
            + headers_block(3, RESP3) + gzip_placeholder_block(3, 57) + headers_block(5, RESP5)
            + gzip_placeholder_block(5, 100) + gzip_placeholder_block(5, 0)
            + merged_block(5, GZ_BODY) + merged_block(3, b"created"))


# ---------------------------------------------------------------------------

def test_requests_round_trip_through_h2_server():
    r = H2Reencoder()
    out = r.encode(C2S, parse_h2_dump(request_dump()))
    assert out.preface == PREFACE + SETTINGS_FRAME
    assert "synthetic HTTP/2 connection preface added" in out.notes
    assert any("WINDOW_UPDATE×1" in n for n in out.notes)
    streams = by_stream(h2_server(out.preface + out.wire))
    assert streams[1] == {"headers": b(REQ1), "body": b"", "ended": True, "trailers": None}
    assert streams[3] == {"headers": b(REQ3), "body": BODY3, "ended": True, "trailers": None}
    assert streams[5] == {"headers": b(REQ5), "body": b"", "ended": True, "trailers": None}
    assert [len(f.data) for f in frames_of(out.wire) if f.type == 0] == [16384, 4096]


def test_sensitive_fields_are_never_indexed():
    out = H2Reencoder().encode(C2S, parse_h2_dump(request_dump()))
    (_, _, _, hdrs), = [d for d in decoded(out.wire) if d[0] == "HEADERS" and d[1] == 1]
    kinds = {h[0]: type(h).__name__ for h in hdrs}
    assert kinds[b"authorization"] == "NeverIndexedHeaderTuple"
    assert kinds[b":path"] == kinds[b"user-agent"] == "HeaderTuple"


def test_responses_round_trip_through_h2_client_with_merged_gzip():
    r = H2Reencoder()
    req = r.encode(C2S, parse_h2_dump(headers_block(1, REQ1) + headers_block(3, REQ5) + headers_block(5, REQ5)))
    assert req.preface
    resp = r.encode(S2C, parse_h2_dump(response_dump()))
    assert resp.preface == b"" and "synthetic HTTP/2 connection preface added" not in resp.notes
    streams = by_stream(h2_client(resp.wire, {1: b(REQ1), 3: b(REQ5), 5: b(REQ5)}))
    assert streams[1] == {"headers": b(RESP1), "body": b"hello\nworld", "ended": True, "trailers": None}
    # gzip placeholder + merged body → decoded body, content-encoding dropped, content-length fixed
    assert streams[3]["headers"] == [(b":status", b"201"), (b"content-length", b"7"), (b"vary", b"accept-encoding")]
    assert streams[3]["body"] == b"created" and streams[3]["ended"]
    assert streams[5]["headers"] == [(b":status", b"200"), (b"content-type", b"application/json")]
    assert streams[5]["body"] == GZ_BODY and streams[5]["ended"]
    assert any("stream 3" in n and "content-length 57 → 7" in n for n in resp.notes)
    assert any("stream 5" in n and "content-encoding: gzip dropped" in n for n in resp.notes)


def test_gzip_body_lost_keeps_headers():
    dump = headers_block(1, RESP3) + gzip_placeholder_block(1, 57)  # eCapture could not gunzip: no merged block
    out = H2Reencoder().encode(S2C, parse_h2_dump(dump))
    assert "stream 1: body lost by eCapture (it could not gunzip it)" in out.notes
    (h,) = decoded(out.wire)  # HEADERS only: no body to show
    assert h[0] == "HEADERS" and (b"content-encoding", b"gzip") in [tuple(x) for x in h[3]]


def test_truncated_merged_body_has_no_content_length_and_no_end():
    dump = headers_block(1, RESP3) + gzip_placeholder_block(1, 57) + merged_block(1, b"x" * 100)
    out = H2Reencoder().encode(S2C, parse_h2_dump(dump[:-30]))
    hdrs, data = decoded(out.wire)
    assert [tuple(x) for x in hdrs[3]] == [(b":status", b"201"), (b"vary", b"accept-encoding")]
    assert data[3] == b"x" * 71 and "END_STREAM" not in data[2]


def test_one_sided_server_dump_gets_the_preface_first():
    r = H2Reencoder()
    assert r.preface_needed
    out = r.encode(S2C, parse_h2_dump(headers_block(1, RESP1) + data_block(1, b"hello world")))
    assert out.preface.startswith(PREFACE) and not r.preface_needed
    assert out.notes[0] == "synthetic HTTP/2 connection preface added"
    assert r.take_preface() == b""
    later = r.encode(C2S, parse_h2_dump(headers_block(3, REQ5)))
    assert later.preface == b"" and "synthetic HTTP/2 connection preface added" not in later.notes
    # the c2s stream is the preface followed by the later request: valid for an h2 server
    assert by_stream(h2_server(out.preface + later.wire))[3]["headers"] == b(REQ5)


def test_take_preface_before_encode():
    r = H2Reencoder()
    pre = r.take_preface()
    assert pre == PREFACE + SETTINGS_FRAME and r.take_preface() == b""
    out = r.encode(C2S, parse_h2_dump(headers_block(1, REQ1)))
    assert out.preface == b"" and out.notes == []


def test_hpack_failure_drops_headers_keeps_data():
    dump = hpack_failed_block(1) + data_block(1, b"surviving body") + continuation_block(3) + frame_head("CONTINUATION", 3)
    r = H2Reencoder()
    r.take_preface()
    out = r.encode(S2C, parse_h2_dump(dump))
    assert decoded(out.wire) == [("DATA", 1, set(), b"surviving body")]
    assert "stream 1: response HEADERS lost (eCapture could not decode HPACK)" in out.notes
    assert any(n.startswith("stream 3: response HEADERS lost") and "CONTINUATION" in n for n in out.notes)


def _flags(wire: bytes) -> list[tuple[str, int, bool]]:
    return [(d[0], d[1], "END_STREAM" in d[2]) for d in decoded(wire) if d[0] in ("HEADERS", "DATA")]


@pytest.mark.parametrize(("direction", "dump", "expected"), [
    # GET without body → END_STREAM on HEADERS
    (C2S, headers_block(1, REQ5), [("HEADERS", 1, True)]),
    # GET followed by DATA in the same dump: the DATA decides
    (C2S, headers_block(1, REQ5) + data_block(1, b"odd") + data_block(1, b""),
     [("HEADERS", 1, False), ("DATA", 1, False), ("DATA", 1, True)]),
    # POST with content-length: ends when reached
    (C2S, headers_block(3, REQ3) + data_block(3, BODY3[:100]) + data_block(3, BODY3[100:]),
     [("HEADERS", 3, False), ("DATA", 3, False), ("DATA", 3, False), ("DATA", 3, True)]),
    # response without content-length: the empty DATA ends it
    (S2C, headers_block(1, [(":status", "200")]) + data_block(1, b"chunk") + data_block(1, b""),
     [("HEADERS", 1, False), ("DATA", 1, False), ("DATA", 1, True)]),
    # 204 / 304 / content-length 0 → END_STREAM on HEADERS
    (S2C, headers_block(1, [(":status", "204")]) + headers_block(3, [(":status", "304"), ("etag", "x")])
     + headers_block(5, [(":status", "200"), ("content-length", "0")]),
     [("HEADERS", 1, True), ("HEADERS", 3, True), ("HEADERS", 5, True)]),
    # 1xx is informational; trailers end the stream, the DATA before them does not
    (S2C, headers_block(1, [(":status", "100")]) + headers_block(1, [(":status", "200"), ("content-length", "3")])
     + data_block(1, b"abc") + headers_block(1, [("grpc-status", "0")]),
     [("HEADERS", 1, False), ("HEADERS", 1, False), ("DATA", 1, False), ("HEADERS", 1, True)]),
    # body cut by the end of the dump: not ended
    (S2C, (headers_block(1, [(":status", "200"), ("content-length", "10")]) + data_block(1, b"0123456789"))[:-4],
     [("HEADERS", 1, False), ("DATA", 1, False)]),
], ids=["get", "get-with-data", "post-content-length", "no-content-length", "bodyless-status",
        "1xx-and-trailers", "cut-body"])
def test_end_stream_rule(direction, dump, expected):
    r = H2Reencoder()
    r.take_preface()
    assert _flags(r.encode(direction, parse_h2_dump(dump)).wire) == expected


def test_end_stream_across_dumps_and_head_requests():
    r = H2Reencoder()
    r.take_preface()
    head = [(":method", "HEAD"), (":scheme", "https"), (":authority", "a"), (":path", "/big")]
    assert _flags(r.encode(C2S, parse_h2_dump(headers_block(1, head))).wire) == [("HEADERS", 1, True)]
    resp = [(":status", "200"), ("content-length", "5000")]
    assert _flags(r.encode(S2C, parse_h2_dump(headers_block(1, resp))).wire) == [("HEADERS", 1, True)]
    # a body split over two flushes (two events)
    assert _flags(r.encode(S2C, parse_h2_dump(headers_block(3, [(":status", "200"), ("content-length", "5")])
                                              + data_block(3, b"abc"))).wire) == [("HEADERS", 3, False), ("DATA", 3, False)]
    assert _flags(r.encode(S2C, parse_h2_dump(data_block(3, b"de"))).wire) == [("DATA", 3, True)]
    late = r.encode(S2C, parse_h2_dump(data_block(3, b"more") + data_block(3, b"")))
    assert _flags(late.wire) == [("DATA", 3, False)]  # after the guessed end: kept, not re-ended, noted
    assert any("after the END_STREAM" in n for n in late.notes)


def test_large_data_and_header_blocks_are_split():
    import random
    big_value = "".join(random.Random(1).choice("abcdefghijklmnopqrstuvwxyz0123456789+/") for _ in range(40000))
    fields = REQ3[:4] + [("x-big", big_value), ("content-length", "40000")]
    body = bytes(random.Random(2).getrandbits(8) for _ in range(40000))
    r = H2Reencoder()
    out = r.encode(C2S, parse_h2_dump(headers_block(1, fields) + data_block(1, body)))
    frs = frames_of(out.wire)
    kinds = [type(f).__name__ for f in frs]
    n_cont = kinds.count("ContinuationFrame")  # (a 40 kB block: two or more, as the encoding's length goes)
    assert n_cont >= 2 and kinds == ["HeadersFrame"] + ["ContinuationFrame"] * n_cont + ["DataFrame"] * 3
    assert all(len(f.data) <= 16384 for f in frs)
    assert [set(f.flags) for f in frs[: n_cont + 1]] == [set()] * n_cont + [{"END_HEADERS"}]
    streams = by_stream(h2_server(out.preface + out.wire))
    assert streams[1]["headers"] == b(fields) and streams[1]["body"] == body and streams[1]["ended"]


def test_header_strings_are_plain_literals():
    # not Huffman-coded (the module doc says why: half the encoding and decoding time); decoders read both
    fields = REQ3[:4] + [("x-trace", "trace-value-0123456789"), ("user-agent", "curl/8.5.0")]
    out = H2Reencoder().encode(C2S, parse_h2_dump(headers_block(1, fields)))
    assert b"trace-value-0123456789" in out.wire and b"curl/8.5.0" in out.wire
    assert decoded(out.wire)[0][3] == b(fields)


def test_non_utf8_header_bytes_survive():
    dump = headers_block(1, [(":method", "GET"), (":path", "/"), ("x-raw", b"\xff\x00caf\xc3\xa9 \xc3")])
    out = H2Reencoder().encode(C2S, parse_h2_dump(dump))
    hdrs = decoded(out.wire)[0][3]
    assert (b"x-raw", b"\xff\x00caf\xc3\xa9 \xc3") in [tuple(h) for h in hdrs]


def test_stateless_hpack_blocks_decode_in_any_order():
    r = H2Reencoder()
    r.take_preface()
    outs = [r.encode(C2S, parse_h2_dump(headers_block(sid, REQ1))).wire for sid in (1, 3, 5)]
    for wire in reversed(outs):  # a fresh decoder, blocks in reverse order
        assert [tuple(h) for h in decoded(wire)[0][3]] == b(REQ1)
    # with the dynamic table the output is smaller, and correct when read in order
    rd = H2Reencoder(hpack_dynamic_table=True)
    rd.take_preface()
    outs_d = [rd.encode(C2S, parse_h2_dump(headers_block(sid, REQ1))).wire for sid in (1, 3, 5)]
    assert sum(map(len, outs_d)) < sum(map(len, outs))
    streams = by_stream(h2_server(PREFACE + SETTINGS_FRAME + b"".join(outs_d)))
    assert [streams[s]["headers"] for s in (1, 3, 5)] == [b(REQ1)] * 3


def test_invalid_stream_ids_and_other_frames():
    dump = (headers_block(0, REQ1) + data_block(0, b"x") + frame_head("PING", 0) + frame_head("RST_STREAM", 1)
            + frame_head("GOAWAY", 0) + frame_head("UNKNOWN_FRAME_TYPE_12", 0) + frame_head("SETTINGS", 0))
    r = H2Reencoder()
    r.take_preface()
    out = r.encode(C2S, parse_h2_dump(dump))
    assert out.wire == SETTINGS_FRAME
    assert sum("invalid stream id" in n for n in out.notes) == 2
    assert any("PING×1, GOAWAY×1, UNKNOWN_FRAME_TYPE_12×1" in n for n in out.notes)
    # a reset is said on its stream (its HAR entry looked complete): who reset it, not with what code
    assert ("stream 1: reset by the client (an RST_STREAM in eCapture's dump, which gives no error code: not "
            "re-encoded)") in out.notes


def test_a_connection_of_many_streams_keeps_a_bounded_state(monkeypatch):
    """A connection lives for days with millions of streams (a gRPC channel): the re-encoder kept every
    stream's state and every request's method (~0.5 KB a stream, for the connection's life). Ended streams
    are forgotten past a bound; open ones are kept, and what their END_STREAM rule reads still holds."""
    from ecq2pcap.payloads.h2 import encoder
    monkeypatch.setattr(encoder, "STREAM_STATES", 100)
    enc = H2Reencoder()
    enc.encode(Direction.C2S, parse_h2_dump(headers_block(1, [(":method", "POST"), (":path", "/open")])))
    for sid in range(3, 2001, 2):  # each request and its answer, a whole exchange each
        enc.encode(Direction.C2S, parse_h2_dump(headers_block(sid, [(":method", "HEAD"), (":path", "/")])))
        wire = enc.encode(Direction.S2C, parse_h2_dump(headers_block(sid, [(":status", "200"),
                                                                          ("content-length", "9")]))).wire
        assert wire[4] & 0x1, sid  # END_STREAM: an answer to a HEAD has no body, its method still known
        assert len(enc._streams) <= 2 * 100 + 2 and len(enc._methods) <= 2 * 100
    assert (Direction.C2S, 1) in enc._streams  # (still open: a POST without its body yet)
    tail = enc.encode(Direction.C2S, parse_h2_dump(data_block(1, b"body"))).wire
    assert tail.endswith(b"body") and not tail[4] & 0x1  # its state kept: no content-length, not ended
