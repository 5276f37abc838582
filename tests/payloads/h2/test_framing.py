"""The bodies of most frames are read by ecq2pcap (``framing.frame_data``), GOAWAY's, PUSH_PROMISE's and unknown types'
by hyperframe: what it keeps of each must be what hyperframe's ``parse_body`` keeps, and a body it refuses refused
with its message (of a frame whose length ``sniff.layout_problem`` let through: the decoder reads no other)."""

from __future__ import annotations

from hyperframe.exceptions import HyperframeError
from hyperframe.frame import Frame
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ecq2pcap.payloads.h2.framing import (_READ_HERE, CONTINUATION, DATA, HEADERS, PADDED, PING, PRIORITY,
                                          PRIORITY_FRAME, RST_STREAM, SETTINGS, WINDOW_UPDATE, frame_data)
from ecq2pcap.payloads.h2.settings import _SETTING
from ecq2pcap.payloads.h2.sniff import FRAME_HEADER, layout_problem

_STREAM = {SETTINGS: 0, PING: 0}  # (the others: stream 1)


def _hyperframe(ftype: int, flags: int, body: bytes):
    header = FRAME_HEADER.pack(len(body) >> 8, len(body) & 0xFF, ftype, flags, _STREAM.get(ftype, 1))
    frame, _ = Frame.parse_frame_header(memoryview(header))
    try:
        frame.parse_body(memoryview(body))
    except HyperframeError as exc:
        return ("refused", str(exc))
    kept = {SETTINGS: lambda: frame.settings, RST_STREAM: lambda: frame.error_code, WINDOW_UPDATE: lambda: None,
            PRIORITY_FRAME: lambda: None, PING: lambda: None}
    return ("kept", kept.get(ftype, lambda: frame.data)())


def _ours(ftype: int, flags: int, body: bytes):
    try:
        data = frame_data(ftype, flags, memoryview(body))
    except ValueError as exc:
        return ("refused", str(exc))
    kept = {SETTINGS: lambda: dict(_SETTING.iter_unpack(data)), RST_STREAM: lambda: int.from_bytes(data, "big"),
            WINDOW_UPDATE: lambda: None, PRIORITY_FRAME: lambda: None, PING: lambda: None}
    return ("kept", kept.get(ftype, lambda: data)())


@settings(max_examples=3000, deadline=None)
@given(ftype=st.sampled_from([DATA, HEADERS, CONTINUATION]), flags=st.integers(0, 255),
       body=st.one_of(st.binary(max_size=12), st.binary(min_size=1, max_size=300)))
@example(ftype=DATA, flags=PADDED, body=b"")  # (no pad length byte)
@example(ftype=DATA, flags=PADDED, body=b"\x03abc")  # (padding as long as the rest: refused)
@example(ftype=DATA, flags=PADDED, body=b"\x02abc")
@example(ftype=HEADERS, flags=PADDED | PRIORITY, body=b"\x02\x00\x00\x00\x03\x10ab")  # (padding over the priority)
@example(ftype=HEADERS, flags=PADDED | PRIORITY, body=b"\x01\x00\x00\x00\x03\x10abc")
@example(ftype=HEADERS, flags=PRIORITY, body=b"\x00\x00\x00")  # (priority cut short)
@example(ftype=HEADERS, flags=PADDED, body=b"\x03abc")  # (HEADERS' pad length byte is not counted: refused)
@example(ftype=HEADERS, flags=PADDED, body=b"\x02abc")
@example(ftype=CONTINUATION, flags=PADDED | PRIORITY, body=b"\x05ab")  # (CONTINUATION has neither)
def test_frame_bodies_are_read_as_hyperframe_reads_them(ftype, flags, body):
    assert _ours(ftype, flags, body) == _hyperframe(ftype, flags, body)


_LENGTHS = {PRIORITY_FRAME: st.just(5), RST_STREAM: st.just(4), SETTINGS: st.integers(0, 5).map(lambda n: 6 * n),
            PING: st.just(8), WINDOW_UPDATE: st.just(4)}


@st.composite
def _other_frames(draw):
    """A frame of another type read here, its length one layout_problem lets through."""
    ftype = draw(st.sampled_from(sorted(_LENGTHS)))
    flags = draw(st.integers(0, 255))
    length = draw(_LENGTHS[ftype])
    if ftype == SETTINGS and flags & 1:
        length = 0  # (an ACK carries nothing)
    body = draw(st.one_of(st.binary(min_size=length, max_size=length),
                          st.sampled_from([b"\0" * length, b"\xff" * length, b"\x80" + b"\0" * (length - 1)])
                          if length else st.just(b"")))
    assert layout_problem(len(body), ftype, flags, _STREAM.get(ftype, 1), 1 << 20) is None
    return ftype, flags, body


@settings(max_examples=2000, deadline=None)
@given(frame=_other_frames())
@example(frame=(SETTINGS, 0, _SETTING.pack(1, 4096) + _SETTING.pack(1, 0)))  # (a name twice: the last value)
@example(frame=(WINDOW_UPDATE, 0, b"\0\0\0\0"))  # (an increment of 0: refused)
@example(frame=(WINDOW_UPDATE, 0, b"\x80\0\0\x01"))  # (the reserved bit: over 2^31-1, refused)
@example(frame=(WINDOW_UPDATE, 0, b"\x7f\xff\xff\xff"))
def test_other_frames_are_read_as_hyperframe_reads_them(frame):
    assert _ours(*frame) == _hyperframe(*frame)


def test_every_type_read_here_is_held_to_hyperframe():
    assert _READ_HERE == {DATA, HEADERS, CONTINUATION, *_LENGTHS}
