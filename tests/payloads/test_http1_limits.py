"""HTTP/1 header limits: a head over the line or section limit is skipped, said where it
bites (the next exchange's error names the flag), memory stays bounded and nothing hangs."""

from __future__ import annotations

import tracemalloc

from ecq2pcap.model import Direction
from ecq2pcap.payloads.http1 import Http1Decoder
from ecq2pcap.payloads.http1.decoder import MAX_HEADER_LINE

C, S = Direction.C2S, Direction.S2C
GOOD = b"GET /next HTTP/1.1\r\nHost: example.test\r\n\r\n"
RESP = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def _decode(chunks, **kw):
    d = Http1Decoder(**kw)
    out = []
    for i, data in enumerate(chunks):
        out += d.feed(C, data, i)
    out += d.feed(S, RESP, len(chunks))
    out += d.close(len(chunks) + 1)
    return out, d.take_diagnostics()


def test_ten_megabyte_header_line_is_skipped_in_bounded_memory():
    piece = b"a" * 65536
    chunks = [b"GET /big HTTP/1.1\r\nHost: example.test\r\nX-Long: "] + [piece] * 160 + [b"\r\n\r\n" + GOOD]
    tracemalloc.start()
    out, diags = _decode(chunks)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 8 * 1024 * 1024  # far below the 10 MiB line: it is never held whole
    assert [x.request.target for x in out] == ["/next"]
    assert out[0].response.status == 200
    (err,) = [e for e in out[0].errors if "skipped" in e]
    assert f"request header line longer than {MAX_HEADER_LINE} bytes (limit: --max-header-line)" in err
    assert diags == []


def test_ten_megabyte_header_line_in_one_chunk():
    data = b"GET /big HTTP/1.1\r\nX-Long: " + b"a" * (10 << 20) + b"\r\n\r\n" + GOOD
    out, _ = _decode([data])
    assert [x.request.target for x in out] == ["/next"]
    assert any("(limit: --max-header-line)" in e for e in out[0].errors)


def test_header_section_limit_and_a_smaller_line_limit():
    many = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 100) for i in range(50))  # ~5 KiB, lines of ~107 bytes
    head = b"GET /many HTTP/1.1\r\nHost: h\r\n" + many + b"\r\n"
    out, _ = _decode([head + GOOD], max_head=4096)
    assert [x.request.target for x in out] == ["/next"]
    assert any("request header section larger than 4096 bytes (limit: --max-header-size)" in e for e in out[0].errors)
    out, _ = _decode([head + GOOD], max_line=64)
    assert [x.request.target for x in out] == ["/next"]
    assert any("request header line longer than 64 bytes" in e for e in out[0].errors)
    out, _ = _decode([head + GOOD])  # within the defaults: both requests are parsed
    assert [x.request.target for x in out] == ["/many", "/next"]


def test_overlong_start_line_is_named():
    out, _ = _decode([b"GET /" + b"p" * 70000, b" HTTP/1.1\r\nHost: h\r\n\r\n" + GOOD])
    assert [x.request.target for x in out] == ["/next"]
    assert any("request start line longer than" in e and "--max-header-line" in e for e in out[0].errors)


def test_response_header_limit_is_said_on_the_exchange_it_bites():
    d = Http1Decoder(max_line=100)
    d.feed(C, GOOD, 1)
    out = d.feed(S, b"HTTP/1.1 200 OK\r\nX-Long: " + b"b" * 200 + b"\r\nContent-Length: 0\r\n\r\n" + RESP, 2)
    out += d.close(3)
    assert [x.response.status for x in out] == [200]
    assert any("response header line longer than 100 bytes" in e for e in out[0].errors)
