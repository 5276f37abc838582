"""Merge the outputs of ``convert -j N``'s workers into one pcapng and one HAR, streaming.

Each worker converted the same input and wrote the connections of its share (see
:mod:`ecq2pcap.commands.parallel`), so a connection's packets and entries are all in one worker's files, in
their order. Merging keeps that order within each file and interleaves the files by time:

* pcapng: the first file's section header and interface, then every other block in the order of the
  Enhanced Packet Blocks' timestamps (ties: the earlier worker first). A block that is not a packet (a Name
  Resolution Block) goes with the packet that follows it in its file.
* HAR: the first file's log header, then the entries by ``startedDateTime`` (ties: the earlier worker first),
  each copied byte for byte (the writer puts one entry per line).

Memory holds one pending unit per worker, whatever the size of the files.
"""

from __future__ import annotations

import heapq
import re
import struct
from collections.abc import Iterator
from typing import BinaryIO

import msgspec

from .har.writer import HarWriter
from .pcapng.blocks import EPB_TYPE, IDB_TYPE, SHB_TYPE

__all__ = ["merge_har", "merge_pcapng"]

_BLOCK_HDR = struct.Struct("=II")
_EPB_TIME = struct.Struct("=II")  # after type, length and interface id: timestamp high, low
_STARTED = re.compile(rb'"startedDateTime":"([^"]*)"')
_WRITE_SIZE = 1 << 20


def _blocks(f: BinaryIO) -> Iterator[tuple[int, bytes]]:
    while True:
        head = f.read(8)
        if len(head) < 8:
            return
        btype, total = _BLOCK_HDR.unpack(head)
        if total < 12:
            raise ValueError(f"{getattr(f, 'name', 'pcapng')}: malformed block of length {total}")
        yield btype, head + f.read(total - 8)


def _packet_units(f: BinaryIO, keep_header: bool) -> Iterator[tuple[int, bytes]]:
    """(timestamp, bytes) of each packet with the non-packet blocks before it."""
    pending = bytearray()
    for btype, block in _blocks(f):
        if btype in (SHB_TYPE, IDB_TYPE):
            if keep_header:
                yield -1, block  # before everything
            continue
        pending += block
        if btype == EPB_TYPE:
            hi, lo = _EPB_TIME.unpack_from(block, 12)
            yield (hi << 32) | lo, bytes(pending)
            pending.clear()
    if pending:
        yield 1 << 64, bytes(pending)  # blocks after the last packet


def _tagged(i: int, units: Iterator[tuple]) -> Iterator[tuple]:
    """(key, worker, value): heapq.merge's order is the key, then the worker."""
    for key, value in units:
        yield key, i, value


def merge_pcapng(parts: list[BinaryIO], out: BinaryIO) -> int:
    """Write the merged capture to ``out``; returns the number of packets."""
    packets = 0
    buf = bytearray()
    streams = [_tagged(i, _packet_units(f, i == 0)) for i, f in enumerate(parts)]
    for t, _, unit in heapq.merge(*streams):
        buf += unit  # whole blocks only: a file cut short by a kill still ends at a block boundary
        packets += 0 <= t < 1 << 64
        if len(buf) >= _WRITE_SIZE:
            out.write(buf)
            buf.clear()
    out.write(buf)
    return packets


def _entries(f: BinaryIO) -> Iterator[tuple[bytes, bytes]]:
    """(startedDateTime, entry bytes) of a HAR written by :class:`HarWriter` (one entry per line)."""
    f.readline()  # the log header
    for line in f:
        if line.startswith(b"]}}"):
            return
        entry = line.rstrip(b"\r\n")
        if entry.endswith(b","):
            entry = entry[:-1]
        m = _STARTED.search(entry)
        yield (m.group(1) if m else b""), entry


def har_comment(f: BinaryIO) -> str | None:
    """The log comment of a HAR written by :class:`HarWriter` (read from its first line)."""
    head = f.readline().rstrip(b"\r\n")
    f.seek(0)
    try:
        return msgspec.json.decode(head + b"]}}")["log"].get("comment")
    except (msgspec.DecodeError, KeyError, TypeError):
        return None


def merge_har(parts: list[BinaryIO], writer: HarWriter) -> int:
    """Write the merged entries through ``writer`` (the caller closes it); returns how many."""
    n = 0
    for _, _, entry in heapq.merge(*(_tagged(i, _entries(f)) for i, f in enumerate(parts))):
        writer.write_encoded(entry)
        n += 1
    return n
