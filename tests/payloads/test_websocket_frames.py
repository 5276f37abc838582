"""WebSocket frames followed across captures (the rest of a frame eCapture lost is made up, so the frames
after it are read), and the 101 response that starts them."""

from __future__ import annotations

import pytest

from ecq2pcap.payloads.alignment import FrameAlignment
from ecq2pcap.payloads.websocket import unmask
from ecq2pcap.payloads.websocket_frames import WsFraming, websocket_start
from tests.support.frames import ws_frame

C2S, S2C = 0, 1
WS_FRAMING = WsFraming(deflate=False)
KEY = b"\x11\x22\x33\x44"


def frame(payload: bytes, opcode: int = 1, *, masked: bool) -> bytes:
    return ws_frame(payload, opcode, masked=masked, key=KEY)


def test_a_101_switching_to_websocket_starts_the_frames_after_its_head():
    head = b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUPGRADE:  WebSocket\r\n\r\n"
    assert websocket_start(head) == (len(head), False)
    assert websocket_start(head + b"\x81\x02hi") == (len(head), False)
    deflate = head[:-2] + b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=12\r\n\r\n"
    assert websocket_start(deflate) == (len(deflate), True)
    assert websocket_start(head.replace(b"WebSocket", b"h2c")) is None  # (HTTP/2 follows, not frames)
    assert websocket_start(b"HTTP/1.1 200 OK\r\nUpgrade: websocket\r\n\r\n") is None
    assert websocket_start(head[:-2]) is None  # (its head not whole)


def test_frames_are_plausible_only_masked_the_way_the_client_sends():
    client, server = frame(b"hello", masked=True), frame(b"hello", masked=False)
    assert WS_FRAMING.plausible(C2S, client + client) and WS_FRAMING.plausible(S2C, server)
    assert not WS_FRAMING.plausible(S2C, client) and not WS_FRAMING.plausible(C2S, server)
    assert not WS_FRAMING.plausible(S2C, b"\x83\x01x")  # an unknown opcode
    assert not WS_FRAMING.plausible(S2C, b"\x09\x01x")  # a fragmented ping
    assert not WS_FRAMING.plausible(S2C, b"\x81\x7e\x00\x05hello")  # a length not in its shortest form
    assert not WS_FRAMING.plausible(S2C, b"AAAAAAAA")  # (text: RSV1 set, and no permessage-deflate)
    assert not WS_FRAMING.plausible(S2C, server[:-1])  # one frame only, and it does not end with the bytes
    assert WS_FRAMING.plausible(S2C, server + server[:-1]) and WsFraming(deflate=True).plausible(S2C, b"\xc1\x01x")


@pytest.mark.parametrize("masked", [True, False])
def test_the_lost_end_of_a_message_is_made_up_so_the_next_frames_are_read(masked):
    direction = C2S if masked else S2C
    big = frame(b"A" * 40000, masked=masked)  # one call: eCapture keeps its first 16 KiB
    after = frame(b"after-big", masked=masked) + frame(b"last", masked=masked)
    a = FrameAlignment(WS_FRAMING)
    assert a.feed(direction, big[:16384]) == (b"", None)
    fill, note = a.feed(direction, after)
    assert len(fill) == len(big) - 16384
    assert note.startswith(f"a WebSocket text frame: its last {len(fill):,} bytes lost by eCapture")
    header = 4 + (4 if masked else 0)
    payload = big[header:16384] + fill
    assert (unmask(payload, KEY) if masked else payload) == b"A" * (16384 - header) + b"\0" * len(fill)
    assert a.feed(direction, frame(b"more", masked=masked)) == (b"", None)  # aligned on the frames after


@pytest.mark.parametrize("header, direction", [
    (b"<html>", S2C),  # text read as a header: a reserved opcode (0xC), RSV2 and RSV3
    (b"\x81\xfe\x7f\xff", S2C),  # a server's frame masked
    (b"\x81\x7e\x7f\xff", C2S),  # a client's frame unmasked
    (b"\x09\x7d", S2C),  # a ping without FIN
    (b"\x81\x7f\x00\x00\x00\x00\x00\x00\x01\x00", S2C),  # a length of 256 in 8 bytes (not its shortest form)
])
def test_no_rest_is_made_up_for_a_header_that_is_not_a_credible_frames(header, direction):
    """Bytes of another kind read as a frame header say up to 2 GiB: nothing is made up for them (they were made up
    as zeros, 16 MiB a frame at most), and the note says why; the frames that follow are followed again."""
    a = FrameAlignment(WS_FRAMING)
    a.feed(direction, header + b"x" * 20)
    masked = direction == C2S
    fill, note = a.feed(direction, frame(b"after", masked=masked) + frame(b"last", masked=masked))
    assert fill == b"" and "not a credible frame's" in note and "lost by eCapture" not in note
    assert a.feed(direction, frame(b"more", masked=masked)) == (b"", None)


def test_frames_continued_over_captures_are_never_made_up():
    wire = frame(b"x" * 300, masked=False) + frame(b"", 9, masked=False) + frame(b"y" * 70000, 2, masked=False)
    for cut in range(1, len(wire), 97):
        for second in (cut + 1, cut + 5000, len(wire)):
            cuts = sorted({0, cut, min(second, len(wire)), len(wire)})
            a = FrameAlignment(WS_FRAMING)
            assert all(a.feed(S2C, wire[i:j]) == (b"", None) for i, j in zip(cuts, cuts[1:])), (cut, second)
            assert a.complete(S2C) == (b"", None)


@pytest.mark.parametrize("masked", [True, False])
def test_random_bytes_inside_a_long_frame_are_not_taken_for_frames(masked):
    """A binary message's bytes, cut into captures anywhere, are never taken for frames after a loss (the
    made-up bytes would then corrupt a message nothing was lost from)."""
    import random

    rng = random.Random(9)
    for _ in range(40):
        body = rng.randbytes(rng.randrange(20_000, 300_000))
        wire = frame(body, 2, masked=masked) + frame(b"next", masked=masked)
        a, pos = FrameAlignment(WsFraming(deflate=True)), 0
        while pos < len(wire):
            step = rng.choice((16384, rng.randrange(1, 40_000)))
            assert a.feed(C2S if masked else S2C, wire[pos:pos + step]) == (b"", None)
            pos += step


@pytest.mark.parametrize("size", [10, 300, 70000])
@pytest.mark.parametrize("masked", [False, True])
def test_the_rest_of_a_cut_frame_made_a_frame_reads_as_the_bytes_sent(size, masked):
    """A ring file that starts inside a frame (pcapng's FrameFollower): a made-up header makes the rest a frame of
    its own, whose payload reads as the rest of what was sent (a client's: unmasked with the key turned to where
    the rest starts), a data frame's as binary, a control frame's with its opcode; at every cut."""
    payload = bytes(range(256)) * (size // 256 + 1)
    payload = payload[:size]
    for opcode in (1, 2, 0, 9):
        body = payload[:100] if opcode == 9 else payload
        frame = ws_frame(body, opcode, masked=masked, key=b"\x11\x22\x33\x44")
        for cut in sorted({1, 2, len(frame) // 3, len(frame) - 1}):
            a = FrameAlignment(WsFraming(False))
            a.feed(1 - masked, frame[:cut])  # (a client's frames go C2S, 0)
            need, info, head = a.pending(1 - masked)
            if head:  # (the cut is inside the header: its first bytes go again, the rest completes them)
                assert frame.startswith(head) and need == 0
                continue
            made = WsFraming(False).rest_as_frame(1 - masked, info, need) + frame[cut:]
            (whole, (op, length, size_, key, credible)) = WsFraming(False).header(1 - masked, made, 0)
            assert whole == len(made) and op == (opcode if opcode >= 8 else 2) and made[0] & 0x80 and credible
            rest = made[size_:]
            got = unmask(rest, key) if masked else rest
            assert bool(key) == masked and got == body[len(body) - len(rest):]


def ws_frames(wire: bytes, direction: int) -> list[tuple[int, bytes]]:
    """(opcode, unmasked payload) of every frame, read from the headers (whole frames only)."""
    out, pos = [], 0
    while pos < len(wire):
        got = WS_FRAMING.header(direction, wire, pos)
        assert got is not None, "frames do not end where the bytes do"
        opcode, whole, size, mask = got[1][:4]
        payload = wire[pos + size:pos + whole]
        out.append((opcode, unmask(payload, mask) if mask else payload))
        pos += whole
    assert pos == len(wire)
    return out


@pytest.mark.parametrize("masked", [True, False], ids=["a client's", "a server's"])
def test_a_frame_header_whose_rest_was_lost_is_completed_as_its_frame_of_zeros(masked):
    """eCapture's 16 KiB cap fell inside a frame header (the audit of stop 41: a client's 12-byte message, its
    header's first 2 bytes kept): the header was completed with the next call's bytes, a frame that swallowed the
    message 'after' and the server's 'ok'. Its rest is made up instead, as the frame its bytes say, its payload
    bytes that unmask to zeros; the frames after it are read."""
    direction = C2S if masked else S2C
    lost, after = frame(b"lost message", masked=masked), frame(b"after", masked=masked)
    for kept in range(1, len(lost) - 12):
        first = frame(b"\x01" * (16384 - kept - (8 if masked else 4)), 2, masked=masked) + lost[:kept]
        assert len(first) == 16384
        a = FrameAlignment(WS_FRAMING)
        assert a.feed(direction, first) == (b"", None)
        fill, note = a.feed(direction, after)
        assert "lost by eCapture" in note and "its payload zeros" in note, kept
        got = ws_frames(first + fill + after, direction)
        assert got[1] == (1, bytes(12 if kept >= 2 else 0)) and got[2] == (1, b"after")
        assert a.feed(direction, frame(b"next", masked=masked)) == (b"", None)  # aligned
        # the same cut with nothing lost: the next capture starts with the header's rest
        a = FrameAlignment(WS_FRAMING)
        assert a.feed(direction, first) == a.feed(direction, lost[kept:] + after) == (b"", None)
