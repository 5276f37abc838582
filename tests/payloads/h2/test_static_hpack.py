"""The re-encoder's own HPACK blocks (no dynamic table): the bytes hpack's Encoder writes with a table of size 0 and
no Huffman coding, and what a decoder reads back."""

from __future__ import annotations

import random

import hpack
import pytest

from ecq2pcap.payloads.h2.static_hpack import StaticTableEncoder
from ecq2pcap.payloads.h2.tolerant_hpack import STATIC_TABLE


def _fields(rng: random.Random, n: int) -> list[tuple[bytes, bytes, bool]]:
    out = []
    for _ in range(n):
        kind = rng.random()
        if kind < 0.3:  # a whole field of the static table
            name, value = rng.choice(STATIC_TABLE)
        elif kind < 0.6:  # its name, another value (long ones need more than one length byte)
            name = rng.choice(STATIC_TABLE)[0]
            value = bytes(rng.randrange(32, 127) for _ in range(rng.choice((0, 1, 5, 126, 127, 128, 300, 20000))))
        else:  # a name of its own
            name = b"x-" + bytes(rng.randrange(97, 123) for _ in range(rng.choice((1, 10, 124, 125, 126, 200))))
            value = bytes(rng.randrange(256) for _ in range(rng.choice((0, 3, 127, 16400))))
        out.append((name, value, rng.random() < 0.2))
    return out


@pytest.mark.parametrize("seed", range(40))
def test_the_same_bytes_as_hpack_with_a_table_of_size_zero(seed):
    rng = random.Random(seed)
    ours, theirs = StaticTableEncoder(), hpack.Encoder()
    theirs.header_table_size = 0
    for _ in range(4):  # (the size update only at the start of the first block)
        fields = _fields(rng, rng.choice((0, 1, 7, 30)))
        assert ours.encode(fields) == theirs.encode(fields, huffman=False)


def test_a_decoder_reads_every_field_back_and_keeps_no_table():
    rng = random.Random(7)
    enc, dec = StaticTableEncoder(), hpack.Decoder()
    dec.max_header_list_size = 1 << 24
    for _ in range(20):
        fields = _fields(rng, 25)
        block = enc.encode(fields)
        got = dec.decode(block, raw=True)
        assert [(bytes(k), bytes(v)) for k, v in got] == [(k, v) for k, v, _ in fields]
        assert [isinstance(h, hpack.NeverIndexedHeaderTuple) for h in got] == [
            s and (k, v) not in STATIC_TABLE for k, v, s in fields]
        assert dec.header_table_size == 0 and not dec.header_table.dynamic_entries


def test_the_first_block_alone_announces_the_size():
    enc = StaticTableEncoder()
    assert enc.encode([]) == b"\x20" and enc.encode([]) == b""
    assert enc.encode([(b":method", b"GET", False)]) == b"\x82"
