"""WebSocket parser: hand-built frames (the test's own per-byte masking is the oracle) and the real WebSocket
session of the v2 sample; permessage-deflate (RFC 7692) is in test_websocket_deflate.py, which builds its frames
with the helpers here."""

from __future__ import annotations

import hashlib
import json
import os
import random
import zlib

import pytest

from ecq2pcap.model import Direction
from ecq2pcap.payloads.websocket import WebSocketParser, WsMessage, unmask

from .h2.test_decoder import v2_raw_streams

C2S, S2C = Direction.C2S, Direction.S2C
DEFLATE_12 = "permessage-deflate; client_max_window_bits=12; server_max_window_bits=12"


def frame(opcode: int, payload: bytes, *, fin: bool = True, rsv1: bool = False, mask: bytes | None = None,
          long_form: int | None = None) -> bytes:
    """One RFC 6455 frame, built independently of the module under test."""
    b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    n = len(payload)
    form = long_form or (7 if n < 126 else 16 if n < 65536 else 64)
    mbit = 0x80 if mask is not None else 0
    if form == 7:
        head = bytes([b0, mbit | n])
    elif form == 16:
        head = bytes([b0, mbit | 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([b0, mbit | 127]) + n.to_bytes(8, "big")
    if mask is None:
        return head + payload
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def client(opcode: int, payload: bytes, **kw) -> bytes:
    return frame(opcode, payload, mask=kw.pop("mask", os.urandom(4)), **kw)


def feed_all(parser: WebSocketParser, feeds, sizes=None) -> list[WsMessage]:
    """Feed [(direction, bytes)] in order; `sizes` re-chunks each feed (a random.Random)."""
    out = []
    for i, (d, data) in enumerate(feeds):
        if sizes is None:
            out += parser.feed(d, data, 1000 + i)
            continue
        pos = 0
        while pos < len(data):
            n = sizes.choice((1, 2, 3, 5, 14, 100, 4096))
            out += parser.feed(d, data[pos : pos + n], 1000 + i)
            pos += n
    return out


def summary(msgs):
    return [(m.direction, m.opcode, m.data, m.text, m.compressed, m.close_code, m.close_reason, m.errors) for m in msgs]


def deflate_messages(payloads: list[bytes], wbits: int = -12, takeover: bool = True) -> list[bytes]:
    """RFC 7692 §7.2.1: compress, Z_SYNC_FLUSH, strip the trailing 00 00 ff ff."""
    out, comp = [], None
    for p in payloads:
        if comp is None or not takeover:
            comp = zlib.compressobj(9, zlib.DEFLATED, wbits)
        data = comp.compress(p) + comp.flush(zlib.Z_SYNC_FLUSH)
        assert data.endswith(b"\x00\x00\xff\xff")
        out.append(data[:-4])
    return out


TEXTS = [f"message {i}: the quick brown fox jumps over the lazy dog {'#' * i}".encode() for i in range(12)] + [
    random.Random(12).randbytes(3000), b"message 1: the quick brown fox jumps over the lazy dog #" * 50]


# ---------------------------------------------------------------------------
# framing


def test_unmask_matches_per_byte_xor():
    rng = random.Random(1)
    for n in (0, 1, 3, 4, 5, 127, 1000):
        data, mask = rng.randbytes(n), rng.randbytes(4)
        for off in range(5):
            expect = bytes(b ^ mask[(i + off) % 4] for i, b in enumerate(data))
            assert unmask(data, mask, off) == expect


def basic_feeds():
    big = bytes(range(256)) * 300  # 76800 bytes: 64-bit length
    mid = ("é" * 150).encode()  # 300 bytes: 16-bit length
    return [
        (C2S, client(1, b"hello")),
        (S2C, frame(1, b"world")),
        (C2S, client(2, big)),
        (S2C, frame(1, mid)),
        (S2C, frame(2, b"\x00\x01", long_form=64)),  # a small payload in the 64-bit form is legal
        (C2S, client(1, b"Hel", fin=False) + client(9, b"ping!") + client(0, b"lo", fin=False)
              + client(10, b"") + client(0, b" there", fin=True)),
        (S2C, frame(10, b"ping!")),
        (C2S, client(1, b"")),  # empty text message
        (C2S, client(8, (1000).to_bytes(2, "big") + "bye ✓".encode())),
        (S2C, frame(8, (1001).to_bytes(2, "big"))),
        (S2C, frame(8, b"")),
    ]


def expected_basic():
    big = bytes(range(256)) * 300
    mid = "é" * 150
    return [
        (C2S, 1, b"hello", "hello", False, None, None, []),
        (S2C, 1, b"world", "world", False, None, None, []),
        (C2S, 2, big, None, False, None, None, []),
        (S2C, 1, mid.encode(), mid, False, None, None, []),
        (S2C, 2, b"\x00\x01", None, False, None, None, []),
        (C2S, 9, b"ping!", None, False, None, None, []),  # control frames inside a fragmented message
        (C2S, 10, b"", None, False, None, None, []),
        (C2S, 1, b"Hello there", "Hello there", False, None, None, []),
        (S2C, 10, b"ping!", None, False, None, None, []),
        (C2S, 1, b"", "", False, None, None, []),
        (C2S, 8, (1000).to_bytes(2, "big") + "bye ✓".encode(), None, False, 1000, "bye ✓", []),
        (S2C, 8, (1001).to_bytes(2, "big"), None, False, 1001, "", []),
        (S2C, 8, b"", None, False, None, None, []),
    ]


def test_frames_lengths_masking_fragmentation_and_control_frames():
    p = WebSocketParser(None)
    out = feed_all(p, basic_feeds())
    assert summary(out) == expected_basic()
    assert p.errors == [] and p.close(5000) == []
    assert [m.time_ns for m in out[:3]] == [1000, 1001, 1002]


@pytest.mark.parametrize("seed", range(5))
def test_random_chunking_gives_the_same_messages(seed):
    p = WebSocketParser(None)
    out = feed_all(p, basic_feeds(), sizes=random.Random(seed))
    assert summary(out) == expected_basic()
    assert p.errors == []


def test_message_time_is_the_feed_that_completed_it():
    p = WebSocketParser(None)
    data = frame(1, b"x" * 1000)
    assert p.feed(S2C, data[:500], 10) == []
    (m,) = p.feed(S2C, data[500:], 20)
    assert m.time_ns == 20 and m.text == "x" * 1000


def test_masking_violations_are_noted_not_fatal():
    p = WebSocketParser(None)
    out = p.feed(C2S, frame(1, b"unmasked"), 1) + p.feed(S2C, client(1, b"masked"), 2)
    assert [m.text for m in out] == ["unmasked", "masked"]
    assert len(p.errors) == 2 and all("RFC 6455" in e for e in p.errors)


@pytest.mark.parametrize("bad, why", [
    (bytes([0x83, 0x00]), "unknown opcode 3"),
    (bytes([0xA1, 0x00]), "RSV2/RSV3"),
    (bytes([0x89, 126, 0, 200]) + b"x" * 200, "longer than 125"),
    (bytes([0x09, 0x00]), "fragmented"),
    (b"HTTP/1.1 200 OK\r\n\r\n", "not WebSocket"),
    (bytes([0x82, 127]) + (1 << 63).to_bytes(8, "big"), "frame length"),
])
def test_garbage_stops_one_direction_only(bad, why):
    p = WebSocketParser(None)
    assert p.feed(S2C, frame(1, b"before"), 1)[0].text == "before"
    assert p.feed(S2C, bad + frame(1, b"after"), 2) == []
    assert p.feed(S2C, frame(1, b"later"), 3) == []
    assert [m.text for m in p.feed(C2S, client(1, b"other way"), 4)] == ["other way"]
    assert any(why in e and e.startswith("s2c") for e in p.errors), p.errors
    assert p.close(5) == []


def test_capture_starting_anywhere_never_breaks_the_parser():
    stream = b"".join(data for _, data in basic_feeds() if _ is S2C)
    comp = b"".join(frame(1, c, rsv1=True) for c in deflate_messages(TEXTS))
    rng = random.Random(4)
    for blob in (stream, comp, rng.randbytes(5000)):
        for cut in [0, 1, 2, *rng.sample(range(len(blob)), 30)]:
            p = WebSocketParser(DEFLATE_12)
            feed_all(p, [(S2C, blob[cut:]), (C2S, blob[cut:])], sizes=random.Random(cut))
            p.close(1)
            # feed() swallows exceptions (recorded as "internal error"): there must be none
            assert not any("internal error" in e for e in p.errors), p.errors


def test_bad_close_payload_and_invalid_utf8_are_noted():
    p = WebSocketParser(None)
    a, b = p.feed(S2C, frame(8, b"\x03") + frame(1, b"\xff\xfeok"), 1)
    assert a.opcode == 8 and a.close_code is None and a.errors
    assert b.text == "\ufffd\ufffdok" and b.errors == ["invalid UTF-8 in text message"]


def test_capture_started_inside_a_fragmented_message():
    p = WebSocketParser(None)
    out = p.feed(S2C, frame(0, b"tail of it", fin=True) + frame(1, b"next"), 1)
    assert [m.text for m in out] == ["next"]
    assert any("continuation frame without a message start" in e for e in p.errors)


def test_a_repeated_error_is_said_once_and_counted():
    """A stream of 2-byte pings with RSV1 set said its error for each: 4 million strings, 500 MB (found by an audit
    of hostile inputs). Said once, counted; a message's continuation frames with RSV1 say it once for the message."""
    p = WebSocketParser(None)
    out = p.feed(S2C, frame(9, b"", rsv1=True) * 1000 + frame(2, b"a", fin=False)
                 + frame(0, b"b", fin=False, rsv1=True) * 3 + frame(0, b"c", rsv1=True), 1)
    assert len(out) == 1001 and out[-1].data == b"abbbc" and out[-1].errors == ["RSV1 set on a continuation frame"]
    assert p.errors == ["s2c: control frame with RSV1 set"] and p.times == {"s2c: control frame with RSV1 set": 1000}


def test_incomplete_at_close_and_interrupted_messages():
    p = WebSocketParser(None)
    out = p.feed(S2C, frame(2, b"first", fin=False) + frame(1, b"new") + frame(1, b"unfinished", fin=False), 1)
    assert [(m.opcode, m.data) for m in out] == [(2, b"first"), (1, b"new")]
    assert out[0].errors == ["message interrupted by a new message (incomplete)"]
    p.feed(C2S, client(2, b"0123456789")[:-3], 2)  # frame cut short
    partial, m = p.close(3)
    assert (partial.direction, partial.opcode, partial.data) == (C2S, 2, b"0123456")
    assert (m.direction, m.data, m.time_ns) == (S2C, b"unfinished", 3)
    assert m.errors == partial.errors == ["message incomplete at end of capture"]
    assert any("c2s: frame incomplete" in e for e in p.errors)
    assert p.feed(S2C, frame(1, b"after close"), 4) == [] and p.close(5) == []


def test_size_cap_truncates_with_a_note():
    p = WebSocketParser(None, max_message_size=1000)
    (m, n) = p.feed(S2C, frame(2, b"a" * 600, fin=False) + frame(0, b"b" * 600) + frame(1, b"fine"), 1)
    assert m.data == b"a" * 600 + b"b" * 400 and m.errors == ["message truncated at 1000 bytes (limit: --max-ws-message-size)"]
    assert n.text == "fine" and n.errors == []


# ---------------------------------------------------------------------------
# HAR


# ---------------------------------------------------------------------------
# the real WebSocket session of the v2 sample (python websockets ↔ nginx)


def test_v2_sample_websocket_session(samples_dir):
    streams = v2_raw_streams(samples_dir / "v2_client.frames.jsonl.gz")
    expected = json.loads((samples_dir / "v2_client.expected.json").read_text())["websocket_messages"]
    (key,) = [k for k, chunks in streams.items() if chunks[0][2].startswith(b"GET /ws ")]
    # strip the HTTP/1 upgrade (request and 101 response) off the front of each direction
    handshake = {C2S: b"", S2C: b""}
    done = {C2S: False, S2C: False}
    feeds = []
    for d, t, data in streams[key]:
        if not done[d]:
            handshake[d] += data
            if b"\r\n\r\n" not in handshake[d]:
                continue
            head, _, data = handshake[d].partition(b"\r\n\r\n")
            handshake[d], done[d] = head, True
        if data:
            feeds.append((d, t, data))
    assert handshake[S2C].startswith(b"HTTP/1.1 101 ")
    ext = next((line.split(b":", 1)[1].strip().decode() for line in handshake[S2C].split(b"\r\n")
                if line.lower().startswith(b"sec-websocket-extensions:")), None)
    p = WebSocketParser(ext)
    got = []
    for d, t, data in feeds:
        got += p.feed(d, data, t)
    got += p.close(feeds[-1][1])
    assert p.errors == []
    for label, d in (("c2s", C2S), ("s2c", S2C)):
        exp = sorted((m for m in expected if m["dir"] == label), key=lambda m: m["index"])
        mine = [m for m in got if m.direction is d]
        assert len(mine) == len(exp) == 22
        for m, e in zip(mine, exp):
            assert (m.opcode, len(m.data), hashlib.sha256(m.data).hexdigest(), m.compressed) == \
                   (e["opcode"], e["length"], e["sha256"], e["compressed"])
            if "text" in e:
                assert m.text == e["text"]
            assert m.errors == []
            assert m.direction is d and m.opcode == e["opcode"]
    closes = [m for m in got if m.opcode == 8]
    assert len(closes) == 2 and all(m.close_code is not None for m in closes)
