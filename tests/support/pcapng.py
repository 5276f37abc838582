"""pcapng blocks read here, independently of ecq2pcap (host byte order, as it writes them)."""

from __future__ import annotations

import struct
from pathlib import Path


def blocks(path: Path) -> list[tuple[int, bytes]]:
    """(block type, whole block) of every block in the file."""
    data = path.read_bytes()
    pos, out = 0, []
    while pos < len(data):
        btype, total = struct.unpack_from("=II", data, pos)
        out.append((btype, data[pos:pos + total]))
        pos += total
    return out


def epbs(path: Path) -> list[tuple[int, bytes, bytes]]:
    """(timestamp, packet, options) of every Enhanced Packet Block."""
    out = []
    for btype, block in blocks(path):
        if btype == 6:
            hi, lo, caplen = struct.unpack_from("=III", block, 12)
            out.append(((hi << 32) | lo, block[28:28 + caplen], block[28 + caplen + (-caplen % 4):-4]))
    return out


def textbook_sum(data: bytes) -> int:
    """The ones'-complement sum of ``data`` as 16-bit big-endian words (a zero byte after an odd length),
    with end-around carry."""
    if len(data) % 2:
        data += b"\0"
    s = 0
    for (w,) in struct.iter_unpack("!H", data):
        s += w
        s = (s & 0xFFFF) + (s >> 16)
    return s
