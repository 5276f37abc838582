"""Raw HTTP/2 frames followed from one capture to the next: the rest of a frame eCapture lost (its 16 KiB
cap on a call) is completed with zero bytes, a frame merely continued in the next capture never is."""

from __future__ import annotations

import pytest
from hyperframe.frame import Frame, SettingsFrame

from ecq2pcap.payloads.h2 import PREFACE
from ecq2pcap.payloads.alignment import FrameAlignment
from ecq2pcap.payloads.h2.alignment import H2Framing
from tests.support.frames import h2_data, h2_headers

C2S, S2C = 0, 1


def data(sid, payload, end=False):
    return h2_data(sid, payload, end)


def headers(sid, block=b"\x88"):
    return h2_headers(sid, block)


def frames_of(wire: bytes) -> list[tuple[str, int, int]]:
    """(type, stream, payload length) of every frame, read as a peer would (whole frames only)."""
    out, pos = [], 0
    while pos + 9 <= len(wire):
        f, length = Frame.parse_frame_header(memoryview(wire)[pos:pos + 9])
        out.append((type(f).__name__, f.stream_id, length))
        pos += 9 + length
    assert pos == len(wire), "frames do not end where the bytes do"
    return out


def test_the_lost_end_of_a_frame_is_completed_with_zeros_and_said():
    big = data(1, b"a" * 16384)  # written in one call of 16,393 bytes: eCapture keeps 16,384
    nxt = data(1, b"b" * 100, end=True) + headers(3)
    a = FrameAlignment(H2Framing())
    assert a.feed(S2C, big[:16384]) == (b"", None)
    fill, note = a.feed(S2C, nxt)
    assert fill == b"\0" * 9
    assert note.startswith("stream 1: an HTTP/2 DATA frame: its last 9 bytes lost by eCapture")
    assert frames_of(big[:16384] + fill + nxt) == [("DataFrame", 1, 16384), ("DataFrame", 1, 100),
                                                   ("HeadersFrame", 3, 1)]
    assert a.feed(S2C, data(3, b"ok", end=True)) == (b"", None)  # aligned again


@pytest.mark.parametrize("parts", [2, 3])
def test_frames_continued_over_captures_are_never_completed(parts):
    wire = headers(1) + data(1, bytes(range(256)) * 70) + data(1, b"tail", end=True) + SettingsFrame(0).serialize()
    for cut in range(1, len(wire), 37):
        cuts = [0, cut, len(wire)] if parts == 2 else [0, cut // 2, cut, len(wire)]
        a = FrameAlignment(H2Framing())
        got = [a.feed(S2C, wire[i:j]) for i, j in zip(cuts, cuts[1:])]
        assert all(g == (b"", None) for g in got), cut
        assert a.complete(S2C) == (b"", None), cut


def test_a_frame_header_cut_by_a_capture_end_is_followed():
    wire = data(1, b"x" * 50) + data(3, b"y" * 60)
    for cut in range(len(wire) + 1):
        a = FrameAlignment(H2Framing())
        assert (a.feed(C2S, PREFACE), a.feed(C2S, wire[:cut]), a.feed(C2S, wire[cut:])) == ((b"", None),) * 3
        assert a.complete(C2S) == (b"", None)


def test_the_client_preface_is_not_read_as_a_frame():
    a = FrameAlignment(H2Framing())
    assert a.feed(C2S, PREFACE[:10]) == (b"", None)  # (its start only: the rest comes next)
    assert a.feed(C2S, PREFACE[10:] + SettingsFrame(0).serialize() + headers(1)) == (b"", None)
    assert a.complete(C2S) == (b"", None)
    a = FrameAlignment(H2Framing())
    assert a.feed(C2S, PREFACE + headers(1) + data(1, b"z" * 40)[:20]) == (b"", None)
    fill, note = a.complete(C2S)  # an HTTP/2 dump's frames follow: the cut DATA frame cannot go on
    assert fill == b"\0" * 29 and "stream 1: an HTTP/2 DATA frame: its last 29 bytes lost" in note


def test_bytes_inside_a_long_frame_that_are_not_frames_continue_it():
    a = FrameAlignment(H2Framing())
    long = data(5, b"text body " * 5000)
    for i in range(0, len(long), 16384):
        assert a.feed(S2C, long[i:i + 16384]) == (b"", None)
    assert a.complete(S2C) == (b"", None)


def test_the_rest_of_a_cut_frame_made_a_frame_keeps_the_frames_after_it_readable():
    """A ring file that starts inside a frame (pcapng's FrameFollower): a DATA frame's rest is a DATA frame of its
    stream (END_STREAM kept), another's a frame of an undefined type (a receiver ignores it); the frames after it
    are read from their own headers."""
    data, headers = h2_data(5, b"D" * 5000, True), h2_headers(7, b"\x88" * 3000)
    after = h2_data(9, b"next")
    for frame, ftype, flags in ((data, 0, 1), (headers, 0xF7, 0)):
        a = FrameAlignment(H2Framing())
        a.feed(1, frame[:1234])
        need, info, head = a.pending(1)
        assert (need, head) == (len(frame) - 1234, b"")
        made = H2Framing().rest_as_frame(1, info, need)
        assert (int.from_bytes(made[:3], "big"), made[3], made[4], int.from_bytes(made[5:9], "big")) == (
            need, ftype, flags, 5 if frame is data else 7)
        b = FrameAlignment(H2Framing())  # (the new file's bytes, read from its start: ends where a frame does)
        b.feed(1, made + frame[1234:] + after)
        assert b.pending(1) == (0, (0, 9, 0, 4), b"")


@pytest.mark.parametrize("header, credible", [
    (b"HTTP/1.1 200 OK\r\n", False),  # an HTTP/1 response read as a header: 4.7 MB of a frame of type 'P'
    (h2_data(1, b"d" * 20000)[:9], False),  # over the default maximum, and no SETTINGS allowed more
    (bytes([0, 0, 50, 0xF7, 0, 0, 0, 0, 1]), False),  # a type no one defined
    (bytes([0, 0, 50, 0, 0x20, 0, 0, 0, 1]), False),  # DATA with a flag DATA does not define
    (bytes([0, 0, 50, 0, 0, 0, 0, 0, 0]), False),  # DATA on stream 0
    (h2_data(1, b"d" * 16384)[:9], True),
    (h2_headers(3, b"\x88" * 50)[:9], True),
])
def test_only_a_credible_frames_lost_rest_is_made_up(header, credible):
    """The rest of a frame is made up only when its header is a credible frame's: bytes of another kind read as a
    header say up to 16 MiB, which were made up as zeros. Either way the note says what happened."""
    a = FrameAlignment(H2Framing())
    a.feed(S2C, header[:9] + b"\0" * 41)
    fill, note = a.feed(S2C, h2_data(1, b"after", end=True) + headers(3))
    need = int.from_bytes(header[:3], "big") - 41
    if credible:
        assert fill == b"\0" * need and "zero bytes put in their place" in note
    else:
        assert fill == b"" and f"its header says {need:,} bytes more than came, but it is not a credible" in note
    assert a.feed(S2C, data(3, b"ok", end=True)) == (b"", None)  # aligned again either way


def settings(*pairs, ack=False):
    f = SettingsFrame(0, settings=dict(pairs))
    if ack:
        f.flags.add("ACK")
    return f.serialize()


MAX_FRAME_SIZE = SettingsFrame.MAX_FRAME_SIZE


@pytest.mark.parametrize("advertised, same_way", [
    (settings((MAX_FRAME_SIZE, (1 << 24) - 1)), False),  # nginx's, sent by the server: the client's frames grow
    (settings((0x4, 65535), (MAX_FRAME_SIZE, 1 << 20)), False),  # Go's, after another setting
    (settings((MAX_FRAME_SIZE, 1 << 20)), True),  # sent the same way as the frame: allows nothing that way
    (settings((MAX_FRAME_SIZE, 1 << 24)), None),  # over 2^24 - 1: an error, ignored
    (settings((MAX_FRAME_SIZE, 1 << 20), ack=True)[:9] + settings((MAX_FRAME_SIZE, 1 << 20))[9:], None),  # (an ACK)
])
def test_a_larger_frame_that_the_receivers_settings_allow_has_its_lost_rest_made_up(advertised, same_way):
    """httpx, say, sends DATA frames as large as nginx's SETTINGS_MAX_FRAME_SIZE allows (16 MiB - 1): a 40,000-byte
    frame written in one call loses all but its first 16 KiB, and the frames that follow are read again only
    when its rest is made up. SETTINGS allow larger frames the other way only (RFC 9113 §6.5.2)."""
    big = data(1, b"u" * 40000)
    a = FrameAlignment(H2Framing())
    a.feed(C2S, PREFACE + settings())
    a.feed(C2S if same_way else S2C, advertised)
    a.feed(C2S, headers(1) + big[:16384 - 10])
    fill, note = a.feed(C2S, big[:16384])  # (the next frame is as large, and cut as much)
    fill2, note2 = a.feed(C2S, data(1, b"end", end=True) + headers(3))
    if same_way is False:
        assert fill == b"\0" * (len(big) - 16384 + 10) and "zero bytes put in their place" in note
        assert fill2 == b"\0" * (len(big) - 16384) and "zero bytes put in their place" in note2
    else:  # (the second frame's bytes read as the first one's rest)
        assert (fill, note, fill2) == (b"", None, b"") and "not a credible frame's" in note2
    assert a.feed(C2S, data(3, b"ok", end=True)) == (b"", None)  # aligned again


def test_settings_cut_by_a_captures_end_are_read_as_far_as_they_came():
    whole = settings((0x1, 4096), (MAX_FRAME_SIZE, 1 << 20), (0x3, 100))
    for cut, allowed in ((9 + 6, 16384), (9 + 11, 16384), (9 + 12, 1 << 20), (len(whole), 1 << 20)):
        framing = H2Framing()
        FrameAlignment(framing).feed(S2C, whole[:cut])
        assert framing.max_frame == [allowed, 16384], cut


@pytest.mark.parametrize("kept", range(1, 9))
@pytest.mark.parametrize("cut", ["headers", "settings"])
def test_a_frame_header_whose_rest_was_lost_is_completed_as_a_frame_no_receiver_acts_on(kept, cut):
    """eCapture's 16 KiB cap fell inside a frame header: the next capture, a call of its own, starts with frames.
    The header was completed with that capture's first bytes, a frame of a stream that never was (stream 590085 in
    the HAR and in Wireshark), and the frames after it were lost (audit 41). The header's rest is made up instead:
    a type no one defined when its type byte was lost, else a stream its type may not be on (flags 0), and its
    length in zeros."""
    lost = headers(3, b"\x88" * 10) if cut == "headers" else settings((MAX_FRAME_SIZE, 1 << 20))
    first = data(1, b"d" * (16384 - 9 - kept)) + lost[:kept]  # (what eCapture kept of a call: 16 KiB)
    after = headers(5) + data(5, b"body", end=True)
    a = FrameAlignment(H2Framing())
    assert a.feed(C2S, PREFACE) == a.feed(C2S, first) == (b"", None)
    fill, note = a.feed(C2S, after)
    length = int.from_bytes((lost[:kept] + bytes(3))[:3], "big")
    assert len(fill) == 9 - kept + length and "lost by eCapture" in note and "no receiver acts on" in note
    got = raw_frames(first + fill + after)
    assert got[0] == (0, 1, 16384 - 9 - kept) and got[-2:] == [(1, 5, 1), (0, 5, 4)]
    made = (first + fill)[len(first) - kept:]
    kind, stream = made[3], int.from_bytes(made[5:9], "big")
    assert (kind, stream) == ((0xF7, 0) if kept < 4 else (1, 0) if cut == "headers" else (4, 1))
    assert made[4] == (lost[4] if kept > 4 else 0) and not made[9:].strip(b"\0")  # (flags: those that came)
    assert a.feed(C2S, data(5, b"more")) == (b"", None)  # aligned
    # the same after a capture shorter than the cap: a call (or read) of its own, not cut: nothing made up
    a = FrameAlignment(H2Framing())
    assert a.feed(C2S, PREFACE) == a.feed(C2S, data(1, b"d" * (16383 - 9 - kept)) + lost[:kept]) == (b"", None)
    assert a.feed(C2S, after) == (b"", None)


def raw_frames(wire: bytes) -> list[tuple[int, int, int]]:
    """(type, stream, payload length) of every frame, read from the headers alone (whatever their layout)."""
    out, pos = [], 0
    while pos + 9 <= len(wire):
        length = int.from_bytes(wire[pos:pos + 3], "big")
        out.append((wire[pos + 3], int.from_bytes(wire[pos + 5:pos + 9], "big") & 0x7FFFFFFF, length))
        pos += 9 + length
    assert pos == len(wire), "frames do not end where the bytes do"
    return out


@pytest.mark.parametrize("capped", [False, True], ids=["a short read", "a read of 16 KiB"])
def test_a_frame_header_cut_and_continued_is_not_made_up(capped):
    """The same cut with nothing lost: the next capture starts with the header's rest. Also when what follows the
    rest reads as frames (a short read of a DATA frame that ends its stream: audit 41's review, 'made up 93 bytes'
    and a body cut short), unless the capture before was cut where eCapture's cap cuts one."""
    for kept in range(1, 9):
        for rest in (data(3, b"x" * 50, end=True), data(3, b"x" * 1078, end=True)[:18], headers(3, b"\x88" * 10)):
            body = 16384 - 9 - kept if capped else 100
            wire = data(1, b"d" * body) + rest
            cut = body + 9 + kept
            a = FrameAlignment(H2Framing())
            assert a.feed(C2S, PREFACE) == a.feed(C2S, wire[:cut]) == (b"", None)
            if cut < len(wire):
                assert a.feed(C2S, wire[cut:]) == (b"", None), (kept, rest[:9])


def test_the_servers_settings_read_when_it_speaks_first():
    """§11.14: nginx writes its SETTINGS before it reads the client's preface (a server-side capture's first bytes
    are server→client). Its SETTINGS_MAX_FRAME_SIZE still lets the client's large frame's lost rest be made up."""
    big = data(1, b"u" * 40000)
    a = FrameAlignment(H2Framing())
    a.feed(S2C, settings((MAX_FRAME_SIZE, (1 << 24) - 1)) + settings(ack=True))
    opening = PREFACE + settings() + headers(1)
    kept = 16384 - len(opening)  # (what eCapture kept of the call)
    a.feed(C2S, opening + big[:kept])
    fill, note = a.feed(C2S, data(1, b"end", end=True))
    assert len(fill) == len(big) - kept and "zero bytes put in their place" in note
