"""pcapng block framing: checked by hand-parsing, by scapy's reader and by tshark."""

from __future__ import annotations

import struct
import sys

import pytest
from scapy.layers.l2 import Ether  # noqa: F401  (registers link type 1 for rdpcap)
from scapy.utils import rdpcap

from ecq2pcap import __version__
from ecq2pcap.sinks.pcapng import blocks
from tests.conftest import run_tshark

E = "<" if sys.byteorder == "little" else ">"  # native order, spelled out independently


def split_blocks(data: bytes) -> list[tuple[int, bytes]]:
    """(type, body) of each block; checks both length fields and 32-bit alignment."""
    out, pos = [], 0
    while pos < len(data):
        btype, total = struct.unpack_from(E + "II", data, pos)
        assert total % 4 == 0 and total >= 12
        assert struct.unpack_from(E + "I", data, pos + total - 4)[0] == total
        out.append((btype, data[pos + 8 : pos + total - 4]))
        pos += total
    assert pos == len(data)
    return out


def split_options(buf: bytes) -> list[tuple[int, bytes]]:
    """Options up to opt_endofopt, which must end the buffer; padding must be zeros."""
    out, pos = [], 0
    while True:
        code, length = struct.unpack_from(E + "HH", buf, pos)
        pos += 4
        if code == 0:
            assert length == 0 and pos == len(buf)
            return out
        out.append((code, buf[pos : pos + length]))
        padded = (length + 3) & ~3
        assert buf[pos + length : pos + padded] == b"\0" * (padded - length)
        pos += padded


def test_section_header_native_order_and_options():
    data = blocks.section_header(os="Linux 6.1", hardware="x86_64")
    ((btype, body),) = split_blocks(data)
    assert btype == 0x0A0D0D0A
    magic, major, minor, length = struct.unpack_from(E + "IHHq", body)
    assert (magic, major, minor, length) == (0x1A2B3C4D, 1, 0, -1)
    opts = dict(split_options(body[16:]))
    assert opts == {4: f"ecq2pcap {__version__}".encode(), 3: b"Linux 6.1", 2: b"x86_64"}


def test_section_header_without_optional_fields():
    ((_, body),) = split_blocks(blocks.section_header())
    assert split_options(body[16:]) == [(4, f"ecq2pcap {__version__}".encode())]


@pytest.mark.parametrize("link_type", [blocks.LINKTYPE_ETHERNET, blocks.LINKTYPE_RAW])
def test_interface_description(link_type):
    ((btype, body),) = split_blocks(blocks.interface_description(link_type, description="TLS plaintext"))
    assert btype == 1
    assert struct.unpack_from(E + "HHI", body) == (link_type, 0, 0)
    assert dict(split_options(body[8:])) == {2: b"ecapture", 3: b"TLS plaintext", 9: b"\x09"}


@pytest.mark.parametrize("comment_len", range(0, 9))
@pytest.mark.parametrize("frame_len", [1, 2, 3, 4, 61])
def test_enhanced_packet_padding(comment_len, frame_len):
    frame = bytes(range(frame_len))
    comment = "c" * comment_len
    t = (7 << 32) + 12345
    ((btype, body),) = split_blocks(blocks.enhanced_packet(frame, t, comment=comment, flags=blocks.FLAG_OUTBOUND))
    assert btype == 6
    iface, hi, lo, caplen, origlen = struct.unpack_from(E + "5I", body)
    assert (iface, (hi << 32) | lo, caplen, origlen) == (0, t, frame_len, frame_len)
    assert body[20 : 20 + frame_len] == frame
    opt_at = 20 + ((frame_len + 3) & ~3)
    assert body[20 + frame_len : opt_at] == b"\0" * (opt_at - 20 - frame_len)
    assert split_options(body[opt_at:]) == [(1, comment.encode()), (2, struct.pack(E + "I", 2))]


def test_enhanced_packet_without_options_has_no_terminator():
    ((_, body),) = split_blocks(blocks.enhanced_packet(b"abcd", 5))
    assert len(body) == 20 + 4


def test_comment_any_text():
    # multi-byte characters, control characters, NUL (written as "\x00": Wireshark ends a comment at a NUL) and a
    # lone surrogate
    text = "naïve ✓ 😀\n\t\0 end \udcff"
    ((_, body),) = split_blocks(blocks.enhanced_packet(b"x", 0, comment=text))
    ((code, value),) = split_options(body[24:])
    assert code == 1
    assert value.decode("utf-8") == "naïve ✓ 😀\n\t\\x00 end ?"


def test_comment_too_long_is_cut_at_a_character_boundary():
    text = "é" * 40000  # 80000 bytes of UTF-8, more than a 16-bit length
    ((_, body),) = split_blocks(blocks.enhanced_packet(b"x", 0, comment=text))
    ((_, value),) = split_options(body[24:])
    assert len(value) <= 0xFFFF
    assert value.decode("utf-8") == "é" * (len(value) // 2)


def _sample_file(tmp_path):
    frame = bytes.fromhex("020000000002020000000001" "0800") + b"\x45" + b"\0" * 19  # Ethernet + stub IPv4
    data = (
        blocks.section_header()
        + blocks.interface_description(blocks.LINKTYPE_ETHERNET, description="test")
        + blocks.enhanced_packet(frame, 1_700_000_000_123_456_789, comment="first ✓", flags=blocks.FLAG_OUTBOUND)
        + blocks.enhanced_packet(frame[:-1], 1_700_000_000_123_456_790, flags=blocks.FLAG_INBOUND)
        + blocks.enhanced_packet(frame, 1_700_000_000_123_456_791, comment="x" * 5)
    )
    path = tmp_path / "blocks.pcapng"
    path.write_bytes(data)
    return path


def test_scapy_reads_blocks(tmp_path):
    pkts = rdpcap(str(_sample_file(tmp_path)))
    assert len(pkts) == 3
    assert [p.comments for p in pkts] == [["first ✓".encode()], None, [b"xxxxx"]]
    assert [p.direction for p in pkts] == [2, 1, None]
    assert str(pkts[0].time) == "1700000000.123456789"
    assert isinstance(pkts[0], Ether)


def test_tshark_reads_blocks(tshark, tmp_path):
    out = run_tshark(
        tshark,
        _sample_file(tmp_path),
        "-T", "fields", "-E", "separator=|",
        "-e", "frame.time_epoch", "-e", "frame.packet_flags_direction", "-e", "frame.comment", "-e", "frame.len",
        "-e", "frame.interface_name", "-e", "frame.interface_description",
    )  # fmt: skip
    assert out.splitlines() == [
        "1700000000.123456789|0x00000002|first ✓|34|ecapture|test",
        "1700000000.123456790|0x00000001||33|ecapture|test",
        "1700000000.123456791||xxxxx|34|ecapture|test",
    ]
