"""The zeros made up for frames' lost rests are bounded by what was captured (``--max-made-up-ratio``): each way of
a connection makes up at most ``ratio`` times the bytes it was fed, whichever kind of loss (a frame's rest, a frame
header's rest), and what it does not make up it says."""

from __future__ import annotations

import pytest
from hyperframe.frame import SettingsFrame

from ecq2pcap.limits import DEFAULT_LIMITS
from ecq2pcap.payloads.alignment import FrameAlignment
from ecq2pcap.payloads.h2 import PREFACE
from ecq2pcap.payloads.h2.alignment import H2Framing
from ecq2pcap.payloads.websocket_frames import WsFraming
from tests.support.frames import h2_data, h2_headers

C2S, S2C = 0, 1
MAX_FRAME_SIZE = 0x5
LIMIT = "(limit: --max-made-up-ratio)"


def settings(*pairs):
    f = SettingsFrame(0)
    for key, value in pairs:
        f.settings[key] = value
    return f.serialize()


def test_the_default_completes_the_largest_frame_eCapture_cut_to_its_16_KiB():
    """nginx lets a client's DATA frames be 16 MiB - 1: one written in one call is kept to 16 KiB, the rest lost,
    and all of it is made up (16,760,832 + 9 bytes for 16,384 + 14 captured: within 1024 times)."""
    assert DEFAULT_LIMITS.made_up_ratio == 1024
    big = h2_data(1, b"u" * ((1 << 24) - 1))
    a = FrameAlignment(H2Framing())
    a.feed(C2S, PREFACE)
    a.feed(S2C, settings((MAX_FRAME_SIZE, (1 << 24) - 1)))
    assert a.feed(C2S, big[:16384]) == (b"", None)
    fill, note = a.feed(C2S, h2_headers(3, b"\x88"))
    assert len(fill) == len(big) - 16384 and "zero bytes put in their place" in note and LIMIT not in note


def _ws_frame(length: int) -> bytes:
    return bytes([0x82, 127]) + length.to_bytes(8, "big")


def _cut_ws(ratio: int, length: int = 100_000, kept: int = 90) -> tuple[FrameAlignment, bytes, str | None, int]:
    """A server's WebSocket frame of ``length`` bytes of which ``kept`` came, then a whole frame: (the alignment,
    the fill, its note, the bytes fed that way when it was decided)."""
    a = FrameAlignment(WsFraming(False), ratio)
    first = _ws_frame(length) + b"x" * (kept - 10)
    nxt = bytes([0x81, 5]) + b"hello"
    a.feed(S2C, first)
    fill, note = a.feed(S2C, nxt)
    return a, fill, note, len(first) + len(nxt)


@pytest.mark.parametrize("margin", [-1, 0, 1])
def test_a_frames_rest_is_made_up_exactly_up_to_the_ratio(margin):
    need = 100_000 - 80  # (10 bytes of header, 80 of payload came)
    fed = 90 + 7
    ratio = -(-need // fed) + margin  # the least that allows it, one less, one more
    a, fill, note, _ = _cut_ws(ratio)
    if ratio * fed >= need:
        assert fill == b"\0" * need and LIMIT not in note
    else:
        assert fill == b"" and note.endswith(LIMIT) and "its last 99,920 bytes lost by eCapture" in note
        assert f"not made up, as 99,920 bytes more would be over {ratio:,} times the 97 bytes captured" in note
    assert a.feed(S2C, bytes([0x81, 2]) + b"ok") == (b"", None)  # (read on from the whole frame either way)


def test_the_bytes_made_up_add_up_each_way():
    """A second cut frame that alone would be within the ratio is not completed when with the first it would pass
    it; the other way keeps its own count."""
    ratio = 1100
    a = FrameAlignment(WsFraming(False), ratio)
    whole = bytes([0x81, 5]) + b"hello"
    a.feed(S2C, _ws_frame(70_000) + b"x" * 50)  # 60 bytes came of 70,010
    fill1, note1 = a.feed(S2C, whole)  # 69,950 made up <= 1100 * 67
    a.feed(S2C, _ws_frame(100_000) + b"x" * 50)
    fill2, note2 = a.feed(S2C, whole)  # 99,950 <= 1100 * 134, but 69,950 + 99,950 > it
    assert len(fill1) == 69_950 and LIMIT not in note1
    assert fill2 == b"" and note2.endswith(LIMIT) and "the 134 bytes captured this way" in note2
    masked = bytes([0x82, 0x80 | 127]) + (70_000).to_bytes(8, "big") + b"\0" * 4 + b"y" * 46  # a client's
    a.feed(C2S, masked)
    fill3, note3 = a.feed(C2S, bytes([0x81, 0x85]) + b"\0" * 4 + b"hello")  # (69,954 <= 1100 * 71: its own count)
    assert len(fill3) == 70_000 - 46 and LIMIT not in note3


def test_a_frame_headers_lost_rest_is_bounded_too():
    """eCapture's cap fell inside an HTTP/2 frame header whose length (its first 3 bytes, all that came) says
    16 MiB - 100 (the server's SETTINGS allow it): made up as a frame no receiver acts on within the ratio; past it said and not made up, and the
    bytes read on as they came."""
    first = h2_data(1, b"d" * (16384 - 9 - 3)) + ((1 << 24) - 100).to_bytes(3, "big")  # (a capture of 16 KiB)
    after = h2_headers(5, b"\x88") + h2_data(5, b"body", end=True)
    for ratio, made in ((1024, True), (1000, False)):  # (16,777,122 bytes to make up for 16,431 captured)
        a = FrameAlignment(H2Framing(), ratio)
        a.feed(S2C, settings((MAX_FRAME_SIZE, (1 << 24) - 1)))  # (nginx's: a client's frames may be that large)
        assert a.feed(C2S, PREFACE) == a.feed(C2S, first) == (b"", None)
        fill, note = a.feed(C2S, after)
        if made:
            assert len(fill) == 6 + (1 << 24) - 100 and "no receiver acts on" in note and LIMIT not in note
        else:
            assert fill == b"" and note.endswith(LIMIT) and "the first 3 bytes of a frame header" in note
            assert "16,777,122 bytes more would be over 1,000 times the 16,431 bytes captured" in note
            assert a.pending(C2S)[2] == b""  # (no header held: the bytes read on from where they came)
