"""The passive HPACK decoder against hpack's own encoder and decoder (the library is the reference)."""

from __future__ import annotations

import hpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecq2pcap.payloads.h2.tolerant_hpack import (HPACK_STATE_UNKNOWN, STATIC_TABLE, HpackBlockError, PassiveHpack,
                                                  decode_headers)


def test_static_table_is_the_one_hpack_encodes_with():
    for i, (name, value) in enumerate(STATIC_TABLE, 1):
        assert hpack.Encoder().encode([(name, value)], huffman=False) == bytes([0x80 | i]), (i, name, value)


_token = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-0123456789", min_size=1, max_size=12)
_value = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40)
_headers = st.lists(st.tuples(st.one_of(_token, st.sampled_from([":path", "cookie", "user-agent", ":status"])),
                              _value), min_size=1, max_size=8)


@settings(max_examples=60, derandomize=True, deadline=None)
@given(st.lists(st.tuples(_headers, st.booleans(), st.sampled_from([None, 0, 256, 4096, 1024])), min_size=1,
                max_size=8))
def test_decodes_what_hpack_encodes_as_hpack_does(blocks):
    enc, ref, ours = hpack.Encoder(), hpack.Decoder(), PassiveHpack()
    for headers, huffman, table_size in blocks:
        if table_size is not None:
            enc.header_table_size = table_size  # the next block starts with a size update
        block = enc.encode(headers, huffman=huffman)
        want = [(n.decode(), v.decode()) for n, v in ref.decode(block, raw=True)]
        got, misses, notes = ours.decode_block(block)
        assert (got, misses, notes) == (want, 0, [])
    assert ours.table_size == sum(32 + len(n) + len(v) for n, v in ref.header_table.dynamic_entries)


def test_a_capture_started_mid_connection_counts_unknown_entries_and_stays_aligned():
    enc = hpack.Encoder()
    missed = enc.encode([("x-a", "1"), (":path", "/one")])  # before the capture started: inserts x-a, :path
    seen = [enc.encode([("x-b", "2"), (":path", "/two")]), enc.encode([("x-b", "2"), ("x-a", "1"), (":path", "/one")])]
    assert missed
    dec = PassiveHpack()
    headers, misses, _ = dec.decode_block(seen[0])
    assert (headers, misses) == ([("x-b", "2"), (":path", "/two")], 0)
    # x-b and /two were inserted while we watched: they resolve; x-a and /one are older: unknown, left out
    headers, misses, _ = dec.decode_block(seen[1])
    assert (headers, misses) == ([("x-b", "2")], 2)
    assert decode_headers(dec, seen[1], start_known=False) == ([("x-b", "2")], HPACK_STATE_UNKNOWN)
    assert "2 unknown HPACK table entries" in decode_headers(dec, seen[1], start_known=True)[1]


def test_a_size_update_beyond_what_was_advertised_is_noted_and_the_table_clipped():
    enc = hpack.Encoder()
    enc.header_table_size = 1 << 20
    dec = PassiveHpack(max_table=8192)
    headers, _, notes = dec.decode_block(enc.encode([("x-big", "v" * 6000), ("x-more", "w" * 6000)]))
    assert ("x-big", "v" * 6000) in headers
    assert any("exceeds the advertised 4096" in n for n in notes)
    assert any("(limit: --max-hpack-table)" in n for n in notes)
    assert dec.table_limit == 8192 and dec.table_size <= 8192


def test_the_header_list_limit():
    dec = PassiveHpack(max_list=1000)
    block = hpack.Encoder().encode([("x-a", "v" * 600), ("x-b", "v" * 600)])
    headers, problem = decode_headers(dec, block, start_known=True)
    assert headers == [] and "header list over 1000 bytes" in problem and "--max-header-list" in problem


@pytest.mark.parametrize("block,why", [
    (b"\x80", "index 0"),
    (b"\xff", "ends inside an integer"),
    (b"\xff" + b"\xff" * 8 + b"\x01", "integer too long"),
    (b"\x40\x05ab", "ends inside a string"),
    (b"\x40", "ends before a string"),
])
def test_malformed_blocks_are_errors_with_a_reason(block, why):
    with pytest.raises(HpackBlockError, match=why):
        PassiveHpack().decode_block(block)
    headers, problem = decode_headers(PassiveHpack(), block, start_known=True)
    assert headers == [] and problem.startswith("headers not decodable: HPACK error") and why in problem


def test_a_bad_huffman_code_is_an_error_not_a_crash():
    block = b"\x00\x81\xff\x00"  # a name whose Huffman code is all padding-like ones: EOS, invalid
    headers, problem = decode_headers(PassiveHpack(), block, start_known=True)
    assert headers == [] and problem.startswith("headers not decodable: HPACK error")


def test_a_coded_string_seen_before_decodes_the_same_and_a_bad_one_fails_every_time():
    """Huffman-coded strings are kept once decoded (tolerant_hpack._HUFFMAN): the same value from another
    connection's block reads the same; a bad code is never kept, so it is an error each time."""
    enc = hpack.Encoder()
    enc.header_table_size = 0
    fields = [("content-type", "application/json"), ("x-agent", "Mozilla/5.0 (X11; Linux x86_64)"), ("x-empty", "")]
    first = enc.encode(fields, huffman=True)
    again = hpack.Encoder()
    again.header_table_size = 0
    for block in (first, again.encode(fields, huffman=True), first):
        assert PassiveHpack().decode_block(block)[0] == fields
    for _ in range(2):
        headers, problem = decode_headers(PassiveHpack(), b"\x00\x81\xff\x00", start_known=True)
        assert headers == [] and problem.startswith("headers not decodable: HPACK error")
