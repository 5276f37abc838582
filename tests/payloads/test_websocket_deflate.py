"""WebSocket parser, permessage-deflate per RFC 7692: the extension header's parameters, messages compressed with
and without context takeover (fragmented, BFINAL blocks, mixed with uncompressed ones), the size cap on a shared
window, and damaged messages that must never inflate to wrong bytes later. The frames are hand-built by
test_websocket.py's helpers, the compressed payloads by zlib here."""

from __future__ import annotations

import random
import zlib

import pytest

from ecq2pcap.model import Direction
from ecq2pcap.payloads.websocket import DeflateParams, WebSocketParser, parse_extensions

from .test_websocket import DEFLATE_12, TEXTS, client, deflate_messages, feed_all, frame

C2S, S2C = Direction.C2S, Direction.S2C


def inflates_alone(compressed: bytes, expect: bytes) -> bool:
    try:
        return zlib.decompressobj(-15).decompress(compressed + b"\x00\x00\xff\xff") == expect
    except zlib.error:
        return False



def test_parse_extensions():
    assert parse_extensions(None) == (None, [])
    assert parse_extensions(DEFLATE_12) == (DeflateParams(False, False, 12, 12), [])
    params, others = parse_extensions(
        'x-webkit-deflate-frame, permessage-deflate; client_no_context_takeover; server_max_window_bits="10"')
    assert params == DeflateParams(True, False, None, 10) and others == ["x-webkit-deflate-frame"]
    assert params.no_context_takeover(C2S) and not params.no_context_takeover(S2C)



def opcode_for(payload: bytes) -> int:
    return 2 if payload == TEXTS[12] else 1



@pytest.mark.parametrize("wbits", [-12, -15])
def test_deflate_with_context_takeover(wbits):
    c2s = deflate_messages(TEXTS, wbits)
    s2c = deflate_messages(list(reversed(TEXTS)), wbits)
    # context takeover is really exercised: later messages cannot be inflated on their own
    assert not inflates_alone(c2s[1], TEXTS[1]) and not inflates_alone(s2c[-1], TEXTS[0])
    feeds = []
    for i, (a, b) in enumerate(zip(c2s, s2c)):
        feeds.append((C2S, client(opcode_for(TEXTS[i]), a, rsv1=True)))
        feeds.append((S2C, frame(opcode_for(TEXTS[-1 - i]), b, rsv1=True)))
    p = WebSocketParser(DEFLATE_12)
    out = feed_all(p, feeds, sizes=random.Random(wbits))
    assert p.errors == []
    assert [m.data for m in out if m.direction is C2S] == TEXTS
    assert [m.data for m in out if m.direction is S2C] == list(reversed(TEXTS))
    assert all(m.compressed and m.errors == [] for m in out)
    assert out[0].text == TEXTS[0].decode()



def test_deflate_without_context_takeover_and_fragmented_compressed_message():
    header = "permessage-deflate; client_no_context_takeover; server_no_context_takeover"
    c2s = deflate_messages(TEXTS, takeover=False)
    p = WebSocketParser(header)
    feeds = [(C2S, client(1, c, rsv1=True)) for c in c2s[:5]]
    # one compressed message in three fragments: RSV1 on the first frame only
    third = len(c2s[5]) // 3
    feeds.append((C2S, client(1, c2s[5][:third], rsv1=True, fin=False) + client(9, b"hi")
                  + client(0, c2s[5][third : 2 * third], fin=False) + client(0, c2s[5][2 * third :])))
    out = feed_all(p, feeds)
    assert [m.data for m in out] == TEXTS[:5] + [b"hi", TEXTS[5]]
    assert p.errors == [] and all(m.errors == [] for m in out)
    # the same stream parsed as context takeover still works (no back references to break)
    p2 = WebSocketParser(DEFLATE_12)
    assert [m.data for m in feed_all(p2, feeds)] == TEXTS[:5] + [b"hi", TEXTS[5]]



def test_deflate_no_context_takeover_resets_the_window():
    """With takeover-compressed data, a parser told 'no context takeover' must fail:
    proves the per-message reset really happens."""
    c2s = deflate_messages(TEXTS[:4])
    p = WebSocketParser("permessage-deflate; client_no_context_takeover")
    out = feed_all(p, [(C2S, client(1, c, rsv1=True)) for c in c2s])
    assert out[0].data == TEXTS[0]
    assert any(m.data != t or m.errors for m, t in zip(out[1:], TEXTS[1:4]))



def test_deflate_bfinal_blocks_and_uncompressed_messages_mixed():
    p = WebSocketParser("permessage-deflate")
    finished = zlib.compressobj(6, zlib.DEFLATED, -15)
    whole = finished.compress(b"final block message") + finished.flush()  # BFINAL set, no tail to strip
    plain = b"not compressed"
    # a sender that keeps its window after BFINAL: the next stream refers back to the first message
    primed = zlib.compressobj(6, zlib.DEFLATED, -15, zdict=b"final block message")
    again = (primed.compress(b"final block message, again") + primed.flush(zlib.Z_SYNC_FLUSH))[:-4]
    assert not inflates_alone(again, b"final block message, again")
    out = p.feed(S2C, frame(1, whole, rsv1=True) + frame(1, plain) + frame(1, again, rsv1=True), 1)
    assert [(m.text, m.compressed) for m in out] == [
        ("final block message", True), ("not compressed", False), ("final block message, again", True)]
    assert all(m.errors == [] for m in out)



def test_deflate_cap_keeps_the_shared_window():
    big = random.Random(5).randbytes(3000)
    msgs = [big, b"short", big]  # the third message is a back reference to the first
    comp = deflate_messages(msgs)
    assert len(comp[2]) < 100
    p = WebSocketParser(DEFLATE_12, max_message_size=1000)
    out = p.feed(S2C, b"".join(frame(2, c, rsv1=True) for c in comp), 1)
    assert [len(m.data) for m in out] == [1000, 5, 1000]
    assert out[0].data == big[:1000] and out[2].data == big[:1000]
    assert out[0].errors == out[2].errors == ["message truncated at 1000 bytes (limit: --max-ws-message-size)"] and out[1].errors == []



def test_deflate_broken_message_never_yields_wrong_bytes_later():
    rnd = random.Random(9).randbytes(1000)
    alpha = b"alpha " * 20
    comp = deflate_messages([alpha, b"beta " * 20, rnd, rnd, alpha])
    comp[1] = bytes([0xFF]) * 8  # damaged on the way: invalid block type
    p = WebSocketParser(DEFLATE_12)
    out = p.feed(S2C, b"".join(frame(2, c, rsv1=True) for c in comp), 1)
    assert out[0].data == alpha and out[0].errors == []
    assert out[1].errors[0].startswith("cannot inflate")
    # after the gap: self-contained data and references to data decoded since then work...
    assert out[2].data == rnd and out[2].errors == []
    assert out[3].data == rnd and out[3].errors == []
    # ...a reference back across the gap fails loudly
    assert out[4].errors and out[4].errors[0].startswith("cannot inflate") and out[4].data != alpha



def test_deflate_gap_is_never_decoded_silently():
    """A back reference spanning a message that failed to inflate must not land on the
    wrong (known) bytes: the window restarts empty after an error."""
    rng = random.Random(11)
    y, x = rng.randbytes(500), rng.randbytes(300)
    comp = deflate_messages([y, x, b"zz", x])
    comp[2] = bytes([0xFF]) * 4  # the real message was 2 bytes long: the reference is 302 back
    p = WebSocketParser(DEFLATE_12)
    out = p.feed(C2S, b"".join(client(2, c, rsv1=True) for c in comp), 1)
    assert [m.data for m in out[:2]] == [y, x]
    assert out[2].errors and out[3].errors and out[3].data != x



def test_rsv1_without_negotiation_is_inflated_with_a_note():
    p = WebSocketParser(None)
    (m,) = p.feed(S2C, frame(1, deflate_messages([b"surprise"])[0], rsv1=True), 1)
    assert m.text == "surprise" and m.compressed
    assert m.errors == ["RSV1 set without negotiated permessage-deflate (inflated anyway)"]
