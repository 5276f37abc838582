"""What an input is from its first bytes (sources/formats.py): the compressions read through, the files that are no
eCapture dump, and the zstd frame walker that tells a stream cut short from one that ended."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma

import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from ecq2pcap.sources.formats import ZstdFrames, compression, decompressing, foreign
from ecq2pcap.sources.recording import header_line

EVENT = b'{"log_type":2,"payload":{"timestamp":1,"uuid":"1_1_c_5_1_10.0.0.1:1-10.0.0.2:443","payload_base64":""}}\n'


@pytest.mark.parametrize("compress, kind", [(gzip.compress, "gzip"), (zstandard.compress, "zstd"),
                                            (lzma.compress, "xz"), (bz2.compress, "bzip2")])
@pytest.mark.parametrize("data", [EVENT * 50, b""])
def test_each_compression_is_told_and_read_through(compress, kind, data):
    packed = compress(data)
    assert compression(packed[:64]) == kind
    assert decompressing(kind, io.BufferedReader(io.BytesIO(packed)), 1 << 16).read() == data


@pytest.mark.parametrize("head", [
    EVENT, b" \n" + EVENT, b"\xef\xbb\xbf" + EVENT, header_line("ws://127.0.0.1:28257/", 1.5) + b"\n",
    b"\x08\x02\x12\x05hello",  # (length-delimited protobuf: a varint length, then field 1)
    b"BZh9 not bzip2", b"PK\x03", b'{"logs": 1}', b'{"log_type":0}', b"", b"\x0a\x0d\x0d",
])
def test_what_may_be_a_dump_is_neither_compressed_nor_foreign(head):
    assert compression(head) is None
    assert foreign(head) is None


@pytest.mark.parametrize("head, said", [
    (b"\x0a\x0d\x0d\x0a\x1c\x00\x00\x00", "a pcapng capture file"),
    (b"\xd4\xc3\xb2\xa1\x02\x00", "a pcap capture file"),  # little-endian, microseconds
    (b"\xa1\xb2\x3c\x4d\x00\x02", "a pcap capture file"),  # big-endian, nanoseconds
    (b"PK\x03\x04\x14\x00", "a zip archive"),
    (b'{"log":{"version":"1.2"', "a HAR file"),
    (b'\xef\xbb\xbf{\n  "log" : {\n', "a HAR file"),
])
def test_files_taken_for_a_dump_are_named(head, said):
    what = foreign(head)
    assert what is not None and what.startswith(said + ", not an eCapture dump")


def _walked(data: bytes, pieces: list[int]) -> ZstdFrames:
    frames, at = ZstdFrames(), 0
    for size in pieces:
        frames.feed(data[at:at + size])
        at += size
    frames.feed(data[at:])
    return frames


_FRAMES = st.lists(st.tuples(st.binary(max_size=3000), st.sampled_from([
    {}, {"write_checksum": True}, {"write_content_size": False}, {"write_dict_id": False, "level": 19},
])), min_size=1, max_size=3)


@settings(max_examples=200, deadline=None)
@given(frames=_FRAMES, skippable=st.binary(max_size=20), pieces=st.lists(st.integers(0, 700), max_size=8),
       data=st.data())
def test_the_walker_tells_where_frames_end(frames, skippable, pieces, data):
    """Whole: every frame's end (zstd's own frames of any options, a skippable frame, fed in any pieces); cut
    anywhere else: not whole. (What zstandard's reader does not say: it ends a cut stream as if it were whole.)"""
    stream = b"".join(zstandard.ZstdCompressor(**options).compress(body) for body, options in frames)
    stream += (0x184D2A5A).to_bytes(4, "little") + len(skippable).to_bytes(4, "little") + skippable
    ends = set()
    at = 0
    for body, options in frames:
        at += len(zstandard.ZstdCompressor(**options).compress(body))
        ends.add(at)
    ends.add(len(stream))
    assert _walked(stream, pieces).whole
    cut = data.draw(st.integers(1, len(stream) - 1))
    assert _walked(stream[:cut], pieces).whole is (cut in ends)
    assert not _walked(stream[:cut], pieces).lost


def test_the_walker_stops_at_what_is_no_frame():
    frames = ZstdFrames()
    frames.feed(b"not zstd at all")
    assert frames.lost and frames.whole  # (the decompressor says what is wrong with it)


def test_a_cut_zstd_stream_is_an_eof_error():
    packed = zstandard.compress(EVENT * 2000)
    reader = decompressing("zstd", io.BufferedReader(io.BytesIO(packed[: len(packed) // 2])), 1 << 16)
    with pytest.raises(EOFError, match="ended before the end-of-stream marker"):
        reader.read()


def test_a_zstd_bomb_is_read_in_bounded_pieces():
    """200 MB of zeros in ~6 KB: read a piece at a time, never whole (bounded memory on hostile bytes)."""
    reader = decompressing("zstd", io.BufferedReader(io.BytesIO(zstandard.compress(bytes(200 << 20), 19))), 1 << 20)
    total, largest = 0, 0
    while piece := reader.read1(1 << 20):
        total, largest = total + len(piece), max(largest, len(piece))
    assert total == 200 << 20 and largest <= 1 << 20


def test_eCaptures_own_pcapng_is_named_for_what_it_is():
    """eCapture's -m pcap output (protocol doc §6): its section header's hardware option names eCapture."""
    option = "eCapture (旁观者) Hardware".encode()
    shb = b"\x0a\x0d\x0d\x0a\x40\x00\x00\x00\x4d\x3c\x2b\x1a\x01\x00\x00\x00" + b"\xff" * 8 + b"\x02\x00" + \
        len(option).to_bytes(2, "little") + option
    what = foreign(shb)
    assert what is not None and what.startswith("an eCapture pcapng file") and "open it in Wireshark" in what
