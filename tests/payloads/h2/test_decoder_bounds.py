"""H2PassiveDecoder's memory on a peer's endless header block: CONTINUATION frames without END_HEADERS are kept up
to a bound, and the block is then said over the header list limit, not decoded; the connection goes on."""

from __future__ import annotations

import tracemalloc

import hpack
from hyperframe.frame import ContinuationFrame, HeadersFrame, SettingsFrame

from ecq2pcap.payloads.h2 import PREFACE, H2PassiveDecoder
from ecq2pcap.payloads.h2.decoder import BLOCK_PER_LIST

from .test_decoder import C2S, S2C


def _request(path: str) -> bytes:
    return hpack.Encoder().encode([(":method", "GET"), (":scheme", "https"), (":authority", "h"), (":path", path)])


def test_a_header_block_that_never_ends_is_kept_up_to_its_bound():
    max_list = 1024
    dec = H2PassiveDecoder(max_header_list=max_list)
    opening = HeadersFrame(1, _request("/one"), flags=["END_STREAM"]).serialize()  # (no END_HEADERS)
    dec.feed(C2S, PREFACE + SettingsFrame(0).serialize() + opening, 1)
    dec.feed(S2C, SettingsFrame(0).serialize(), 2)
    fragment = ContinuationFrame(1, b"\x40\x01a\x01b" * 3000).serialize()  # fields "a: b", 15 KB a frame
    tracemalloc.start()
    for i in range(70):  # ~1 MB of them (all were kept)
        dec.feed(C2S, fragment, 3 + i)
    held = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert held < BLOCK_PER_LIST * max_list + 4 * len(fragment)
    assert dec.buffered() >= BLOCK_PER_LIST * max_list  # (what is kept is counted against the connection's buffer)
    out = dec.feed(C2S, ContinuationFrame(1, b"", flags=["END_HEADERS"]).serialize()
                   + HeadersFrame(3, _request("/three"), flags=["END_HEADERS", "END_STREAM"]).serialize(), 100)
    out += dec.close(101)
    one, three = sorted(out, key=lambda s: s.stream_id)
    assert one.request_headers == []
    assert f"header block over {BLOCK_PER_LIST * max_list:,} bytes not decoded (limit: --max-header-list)" in \
        " ".join(one.errors)
    assert dict(three.request_headers)[":path"] == "/three"
