"""H2PassiveDecoder on what real captures hold besides a clean connection: a start not captured, bytes that are
not frames, hand-built frames and settings, the v2 sample's connection, its bounds. (Split from test_decoder.py.)"""

from __future__ import annotations

import hashlib
import json
import random

import hpack
import pytest
from hyperframe.frame import (
    AltSvcFrame,
    ContinuationFrame,
    DataFrame,
    HeadersFrame,
    PingFrame,
    PriorityFrame,
    SettingsFrame,
    WindowUpdateFrame,
)

from ecq2pcap.model import Direction
from ecq2pcap.payloads.h2 import HPACK_STATE_UNKNOWN, PREFACE, H2PassiveDecoder, H2Stream, looks_like_h2

from .test_decoder import C2S, S2C, Pair, _frame_types, busy_connection, req, resp, v2_raw_streams


@pytest.fixture(scope="module")
def busy() -> Pair:
    return busy_connection()


def test_mid_connection_without_the_client_start():
    """First c2s chunk (preface + SETTINGS + the first HEADERS) not captured."""
    p = Pair()
    p.client.send_headers(1, req("/first"), end_stream=True)  # same chunk as the preface
    p.flush()
    p.server.send_headers(1, resp(200, [("content-type", "text/plain")]))
    p.server.send_data(1, b"first body", end_stream=True)
    p.client.send_headers(3, req("/second", "POST"))  # :authority, user-agent: indexed entries
    p.client.send_data(3, b"upload", end_stream=True)
    p.flush()
    p.server.send_headers(3, resp(201, [("content-type", "text/plain")]))
    p.server.send_data(3, b"second body", end_stream=True)
    p.flush()
    exp = p.expected()
    first = p.wire[0]
    assert first[0] is C2S and first[1].startswith(PREFACE) and 0x1 in _frame_types(first[1][len(PREFACE):])

    dec = H2PassiveDecoder()
    out = []
    for i, (d, data) in enumerate(p.wire[1:]):
        out += dec.feed(d, data, i)
    by_id = {s.stream_id: s for s in out}
    assert list(by_id) == [3]  # stream 1 never ends client→server as far as we know
    by_id.update({s.stream_id: s for s in dec.close(99)})
    assert dec.preface_seen is False
    assert any("connection start not captured" in e for e in dec.errors)
    one, three = by_id[1], by_id[3]
    # stream 1: request never seen, response complete (the server's HPACK state is intact)
    assert one.request_headers == [] and not one.request_complete
    assert one.response_headers == exp[1]["response_headers"] and one.response_body == b"first body"
    assert one.errors == []
    # stream 3: headers that reference entries inserted before the capture started are lost,
    # the rest is decoded and right; its DATA is kept
    assert HPACK_STATE_UNKNOWN in three.errors
    assert (":path", "/second") in three.request_headers and (":method", "POST") in three.request_headers
    assert ("user-agent", "test/1.0") not in three.request_headers
    assert set(three.request_headers) < set(exp[3]["request_headers"])
    assert three.request_body == b"upload" and three.response_body == b"second body"
    assert three.response_headers == exp[3]["response_headers"]


def test_mid_connection_data_without_headers_is_kept():
    p = Pair()
    p.flush()
    p.client.send_headers(1, req("/d", "POST"))
    p.flush()
    p.client.send_data(1, b"abc", end_stream=True)
    p.server.send_headers(1, resp(200))
    p.flush()
    p.server.send_data(1, b"xyz", end_stream=True)
    p.flush()
    headers_at = next(i for i, (d, data) in enumerate(p.wire) if d is C2S and 0x1 in _frame_types(data))
    assert p.wire[0][1].startswith(PREFACE) and headers_at > 0
    dec = H2PassiveDecoder()
    out = []
    for i, (d, data) in enumerate(p.wire[headers_at + 1 :]):  # capture starts after the request HEADERS
        out += dec.feed(d, data, i)
    out += dec.close(99)
    (s,) = out
    assert s.request_body == b"abc" and s.response_body == b"xyz"
    assert any("DATA without HEADERS" in e for e in s.errors)


def test_mid_connection_chunks_never_raise(busy):
    """Start the capture at chunk boundaries and inside frames: never an exception."""
    c2s = b"".join(d for dd, d in busy.wire if dd is C2S)
    s2c = b"".join(d for dd, d in busy.wire if dd is S2C)
    rng = random.Random(3)
    for cut in [0, 1, 24, 33, *rng.sample(range(len(c2s)), 40)]:
        dec = H2PassiveDecoder()
        out = dec.feed(C2S, c2s[cut:], 1) + dec.feed(S2C, s2c[cut // 2 :], 2) + dec.close(3)
        assert all(isinstance(s, H2Stream) for s in out)
        # feed() swallows exceptions (recorded as "internal error"): there must be none
        assert not any("internal error" in e for e in dec.errors), dec.errors


def test_garbage_stops_one_direction():
    dec = H2PassiveDecoder()
    assert dec.feed(C2S, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 1) == []
    assert dec.feed(C2S, b"more", 2) == []
    assert dec.close(3) == []
    assert dec.preface_seen is False
    assert any("not HTTP/2" in e and "c2s" in e for e in dec.errors)


def partly_answered(path: str) -> tuple[Pair, H2PassiveDecoder]:
    """Peers whose stream 1 asked ``path`` and got 200 and 7 bytes of body so far, and a decoder fed those bytes
    (the peers' wire emptied)."""
    p = Pair()
    p.client.send_headers(1, req(path), end_stream=True)
    p.flush()
    p.server.send_headers(1, resp(200))
    p.server.send_data(1, b"partial")
    p.flush()
    dec = H2PassiveDecoder()
    for d, data in p.wire:
        dec.feed(d, data, 1)
    p.wire.clear()
    return p, dec


def test_garbage_after_valid_frames_keeps_what_was_decoded():
    _, dec = partly_answered("/ok")
    dec.feed(S2C, b"\x16\x03\x01\x02\x00" + b"\xff" * 600, 2)  # a TLS record: length 0x160301 is absurd
    (s,) = dec.close(3)
    assert s.response_body == b"partial" and not s.response_complete and s.request_complete
    assert any(e.startswith("s2c: not HTTP/2") for e in dec.errors)


def test_a_direction_stopped_by_bytes_that_are_not_frames_goes_on_at_a_capture_that_starts_with_frames():
    """eCapture dropped an event inside a 200 KB response: the next capture started inside a frame, its bytes read
    as a header said 3 MB, and the decoder stopped reading that direction: the streams after it, each written in a
    capture of its own that starts with frames, were lost (audit 41, finding 2). It goes on there now; a capture
    that does not start with frames is still skipped, and the stream whose frames were lost stays incomplete."""
    p, dec = partly_answered("/big")
    dec.feed(S2C, b"\x30\x30\x30" + b"\xff" * 600, 2)  # (inside a frame: 0x303030 bytes, a frame of type 0xff)
    p.client.send_headers(3, req("/after"), end_stream=True)
    p.flush()
    p.server.send_headers(3, resp(201))
    p.server.send_data(3, b"after", end_stream=True)
    p.flush()
    (c2s,), (s2c,) = [data for d, data in p.wire if d is C2S], [data for d, data in p.wire if d is S2C]
    assert dec.feed(S2C, b"\x30" * 40, 3) == []  # (not frames: skipped)
    assert dec.feed(C2S, c2s, 4) == []
    (three,) = dec.feed(S2C, s2c, 5)
    assert (three.stream_id, three.response_body, three.response_complete) == (3, b"after", True)
    assert dict(three.response_headers)[":status"] == "201"
    (one,) = dec.close(6)
    assert one.response_body == b"partial" and not one.response_complete and one.open_at_end
    assert [e for e in dec.errors if "s2c" in e] == [
        "s2c: not HTTP/2 (frame length 3158064 exceeds 1048576); stopped decoding this direction until a capture "
        "starts with frames",
        "s2c: decoding resumed at a capture that starts with HTTP/2 frames (the bytes before it were skipped)"]


def test_hand_built_padding_priority_continuation_and_unknown_frames():
    enc_c, enc_s = hpack.Encoder(), hpack.Encoder()
    block = enc_c.encode(req("/hand", "POST") + [("x-long", "L" * 300)])
    h = HeadersFrame(1, data=block[:100], pad_length=7, flags={"PADDED", "PRIORITY"},
                     depends_on=0, stream_weight=42, exclusive=True)
    cont1 = ContinuationFrame(1, data=block[100:200])
    cont2 = ContinuationFrame(1, data=block[200:], flags={"END_HEADERS"})
    c2s = (PREFACE + SettingsFrame(0, settings={SettingsFrame.HEADER_TABLE_SIZE: 4096}).serialize()
           + h.serialize() + cont1.serialize() + cont2.serialize()
           + b"\x00\x00\x07\xfa\x03\x00\x00\x00\x01ignored"  # unknown type 0xfa (hyperframe won't serialize it)
           + PriorityFrame(3, depends_on=1, stream_weight=1).serialize()
           + DataFrame(1, data=b"padded body", pad_length=30, flags={"PADDED"}).serialize()
           + DataFrame(1, data=b"", flags={"END_STREAM"}).serialize())
    s2c = (SettingsFrame(0).serialize() + SettingsFrame(0, flags={"ACK"}).serialize()
           + AltSvcFrame(0, origin=b"example.com", field=b'h3=":443"').serialize()
           + WindowUpdateFrame(0, window_increment=1000).serialize()
           + HeadersFrame(1, data=enc_s.encode(resp(200)), flags={"END_HEADERS"}).serialize()
           + PingFrame(0, opaque_data=b"12345678").serialize()
           + DataFrame(1, data=b"ok", pad_length=3, flags={"PADDED", "END_STREAM"}).serialize())
    assert looks_like_h2(c2s[:40], s2c[:40])
    dec = H2PassiveDecoder()
    out = []
    for i in range(0, max(len(c2s), len(s2c)), 5):  # 5-byte feeds, alternating
        out += dec.feed(C2S, c2s[i : i + 5], i)
        out += dec.feed(S2C, s2c[i : i + 5], i)
    (s,) = out
    assert s.request_headers == req("/hand", "POST") + [("x-long", "L" * 300)]
    assert s.request_body == b"padded body" and s.request_body_size == len(b"padded body")
    assert s.response_headers == resp(200) and s.response_body == b"ok"
    assert s.request_complete and s.response_complete and s.errors == [] and dec.errors == []
    assert dec.close(1) == []


def test_interrupted_header_block_and_table_size_violation_are_noted():
    enc = hpack.Encoder()
    block = enc.encode(req("/x"))
    c2s = (PREFACE + SettingsFrame(0).serialize()
           + HeadersFrame(1, data=block[:5]).serialize()  # no END_HEADERS, then something else
           + DataFrame(1, data=b"d").serialize())
    dec = H2PassiveDecoder()
    dec.feed(C2S, c2s, 1)
    (s,) = dec.close(2)
    assert any("interrupted before END_HEADERS" in e for e in s.errors)
    # an encoder growing its table beyond what was advertised: decoded anyway, noted
    dec = H2PassiveDecoder()
    enc = hpack.Encoder()
    enc.header_table_size = 8192  # emits a size update above the default 4096
    c2s = (PREFACE + SettingsFrame(0).serialize()
           + HeadersFrame(1, data=enc.encode(req("/y")), flags={"END_HEADERS", "END_STREAM"}).serialize())
    dec.feed(C2S, c2s, 1)
    (s,) = dec.close(2)
    assert s.request_headers == req("/y")
    assert any("exceeds the advertised 4096" in e for e in s.errors)


def test_table_size_setting_binds_the_other_direction():
    """SETTINGS_HEADER_TABLE_SIZE sent by the server governs the client's header blocks
    (from the moment it is seen: an encoder may use it before its ACK), not the server's."""
    def run(settings_dir: Direction, encoder_dir: Direction) -> list[str]:
        enc = hpack.Encoder()
        enc.header_table_size = 8192  # the next block starts with a size update to 8192
        prefaces = {C2S: PREFACE + SettingsFrame(0).serialize(), S2C: SettingsFrame(0).serialize()}
        dec = H2PassiveDecoder()
        dec.feed(C2S, prefaces[C2S], 1)
        dec.feed(S2C, prefaces[S2C], 1)
        dec.feed(settings_dir, SettingsFrame(0, settings={SettingsFrame.HEADER_TABLE_SIZE: 8192}).serialize(), 2)
        sid, headers = (1, req("/z")) if encoder_dir is C2S else (1, resp(200))
        if encoder_dir is S2C:
            dec.feed(C2S, HeadersFrame(1, data=hpack.Encoder().encode(req("/z")),
                                       flags={"END_HEADERS", "END_STREAM"}).serialize(), 3)
        out = dec.feed(encoder_dir, HeadersFrame(sid, data=enc.encode(headers),
                                                 flags={"END_HEADERS", "END_STREAM"}).serialize(), 4)
        out += dec.close(5)
        assert len(out) == 1
        got = out[0].request_headers if encoder_dir is C2S else out[0].response_headers
        assert got == headers
        return out[0].errors

    assert run(S2C, C2S) == []
    assert run(C2S, S2C) == []
    assert any("exceeds the advertised 4096" in e for e in run(C2S, C2S))
    assert any("exceeds the advertised 4096" in e for e in run(S2C, S2C))


def test_looks_like_h2(busy):
    c2s = b"".join(d for dd, d in busy.wire if dd is C2S)
    s2c = b"".join(d for dd, d in busy.wire if dd is S2C)
    assert looks_like_h2(c2s[:100], s2c[:100])
    assert looks_like_h2(b"PRI * HTTP/2", b"")
    assert looks_like_h2(b"", s2c[:50])  # server preface only
    # mid-connection: frames on both sides, no preface
    mid = next(i for i, (d, data) in enumerate(busy.wire) if d is C2S and i > 3)
    later_c2s = b"".join(d for dd, d in busy.wire[mid:] if dd is C2S)
    later_s2c = b"".join(d for dd, d in busy.wire[mid:] if dd is S2C)
    assert looks_like_h2(later_c2s[:200], later_s2c[:200])
    assert not looks_like_h2(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", b"HTTP/1.1 200 OK\r\n")
    assert not looks_like_h2(b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", b"")
    assert not looks_like_h2(b"", b"")
    rng = random.Random(7)
    false_positives = sum(looks_like_h2(rng.randbytes(64), rng.randbytes(64)) for _ in range(2000))
    assert false_positives <= 2


def test_v2_sample_http2_connection(samples_dir):
    streams = v2_raw_streams(samples_dir / "v2_client.frames.jsonl.gz")
    expected = json.loads((samples_dir / "v2_client.expected.json").read_text())
    conns = [k for k, chunks in streams.items() if any(d is C2S and b.startswith(PREFACE) for d, _, b in chunks)]
    assert len(conns) == 1
    chunks = streams[conns[0]]
    assert looks_like_h2(next(b for d, _, b in chunks if d is C2S), next(b for d, _, b in chunks if d is S2C))
    dec = H2PassiveDecoder()
    out = []
    for d, t, data in chunks:
        out += dec.feed(d, data, t, meta=t)
    out += dec.close(chunks[-1][1])
    assert dec.errors == [] and dec.preface_seen
    by_id = {s.stream_id: s for s in out}
    h2_exchanges = [e for e in expected["exchanges"] if e["http_version"] == "HTTP/2"]
    assert len(h2_exchanges) == 6 and sorted(by_id) == sorted(e["h2_stream_id"] for e in h2_exchanges)
    for e in h2_exchanges:
        s = by_id[e["h2_stream_id"]]
        rq, rs = dict(s.request_headers), dict(s.response_headers)
        assert s.errors == [] and s.request_complete and s.response_complete
        assert (rq[":method"], rq[":authority"], rq[":path"]) == (e["method"], e["authority"], e["path"])
        assert int(rs[":status"]) == e["status"] and rs.get("content-type") == e["content_type"]
        if e["body"] == "intact":
            assert len(s.response_body) == e["response_body_length"]
            assert hashlib.sha256(s.response_body).hexdigest() == e["response_body_sha256"]
        assert s.request_start_ns <= s.response_end_ns and s.request_meta is not None


def test_body_cap_and_data_cut_short_at_the_end():
    enc_c, enc_s = hpack.Encoder(), hpack.Encoder()
    c2s = (PREFACE + SettingsFrame(0).serialize()
           + HeadersFrame(1, data=enc_c.encode(req("/cap", "POST")), flags={"END_HEADERS"}).serialize()
           + DataFrame(1, data=b"a" * 60).serialize() + DataFrame(1, data=b"b" * 60, flags={"END_STREAM"}).serialize())
    s2c = (SettingsFrame(0).serialize()
           + HeadersFrame(1, data=enc_s.encode(resp(200)), flags={"END_HEADERS"}).serialize()
           + DataFrame(1, data=b"c" * 50, pad_length=10, flags={"PADDED", "END_STREAM"}).serialize()[:-20])
    dec = H2PassiveDecoder(max_body=100)
    assert dec.feed(C2S, c2s, 1) + dec.feed(S2C, s2c, 2) == []
    (s,) = dec.close(3)
    assert s.request_body == b"a" * 60 + b"b" * 40 and s.request_body_size == 120
    assert "c2s body truncated at 100 bytes (limit: --max-body-size)" in s.errors
    assert s.response_body == b"c" * 40 and s.response_body_size == 40 and not s.response_complete
    assert "s2c body incomplete: last DATA frame cut short at end of capture" in s.errors
    assert dec.errors == []
    # a header block still waiting for CONTINUATION at the end
    dec = H2PassiveDecoder()
    dec.feed(C2S, PREFACE + HeadersFrame(3, data=enc_c.encode(req("/x"))[:3]).serialize(), 1)
    (s,) = dec.close(2)
    assert s.stream_id == 3 and s.errors == ["c2s header block incomplete at end of capture (no END_HEADERS)"]


def test_before_one_more_stream_opens_past_the_buffer_the_one_open_longest_ends():
    """Streams whose end never came (a peer's, or ends eCapture's dumps did not show) made a connection hold
    every one: 120,000 of them ~220 MB. Each open stream counts 2 KiB of the connection's buffer; past it,
    the stream open longest ends there, saying so, and what comes for it later is an entry of its own."""
    from ecq2pcap.payloads.h2.bounds import REOPENED

    enc = hpack.Encoder()
    c2s = PREFACE + SettingsFrame(0).serialize() + b"".join(
        HeadersFrame(2 * i + 1, data=enc.encode(req(f"/{i}")), flags={"END_HEADERS"}).serialize() for i in range(12))
    dec = H2PassiveDecoder(max_buffer=10 * 2048)
    early = dec.feed(C2S, c2s, 1)
    assert [s.stream_id for s in early] == [1, 3]
    assert all("ended early: 10 streams open at once" in s.errors[0] and "--max-connection-buffer" in s.errors[0]
               for s in early)
    # stream 1's late body opens it again (making room in turn), an entry of its own that says so
    assert [s.stream_id for s in dec.feed(C2S, DataFrame(1, data=b"late", flags={"END_STREAM"}).serialize(), 2)] == [5]
    assert dec.errors == []
    rest = dec.close(3)
    assert [s.stream_id for s in rest] == [1, *range(7, 24, 2)]
    assert rest[0].request_body == b"late" and rest[0].errors[0] == REOPENED and not any(s.errors for s in rest[1:])


def test_a_connection_of_many_streams_remembers_a_bounded_number_of_ended_ones(monkeypatch):
    """Every ended stream's id was kept for the connection's life, to say that a frame came after its end."""
    from ecq2pcap.payloads.h2 import bounds
    monkeypatch.setattr(bounds, "DONE_KEPT", 100)
    enc, srv = hpack.Encoder(), hpack.Encoder()
    dec = H2PassiveDecoder()
    dec.feed(C2S, PREFACE + SettingsFrame(0).serialize(), 1)
    done = 0
    for sid in range(1, 1001, 2):
        dec.feed(C2S, HeadersFrame(sid, data=enc.encode(req("/")), flags={"END_HEADERS", "END_STREAM"}).serialize(), 2)
        done += len(dec.feed(S2C, HeadersFrame(sid, data=srv.encode(resp(204)),
                                               flags={"END_HEADERS", "END_STREAM"}).serialize(), 3))
        assert len(dec._done) <= 100
    assert done == 500
    dec.feed(C2S, DataFrame(999, data=b"late").serialize(), 4)  # a recent one: still known to have ended
    assert dec.errors == ["c2s: frame on stream 999 after it ended (ignored)"]
