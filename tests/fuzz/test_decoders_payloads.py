"""Property-based fuzzing of the payload decoders (issue 7), as test_decoders.py does for the dialects, uuids
and hex dumps: eCapture's HTTP/1 renderings and raw HTTP/1, v1's HTTP/2 text dumps and passive HTTP/2,
WebSocket frames with permessage-deflate, content codings, and the HAR built from requests and whole HTTP/2
connections. On any input a decoder returns its result or raises its one documented error type; nothing else
escapes, and what comes out is well formed. The mutations are test_decoders.py's ``either``."""

from __future__ import annotations

import json
import zlib

from hypothesis import given
from hypothesis import strategies as st

from ecq2pcap.model import Direction
from ecq2pcap.payloads.h2dump import parse_h2_dump
from ecq2pcap.payloads.h2 import H2PassiveDecoder
from ecq2pcap.payloads.http1 import Http1Decoder
from ecq2pcap.payloads.http1_render import repair_rendered
from ecq2pcap.payloads.websocket import WebSocketParser, parse_extensions
from ecq2pcap.sinks.har.content import decode_content

from .test_decoders import HTTP, either


# -- HTTP/1 ----------------------------------------------------------------------------

RENDERED = [b"GET /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n\r\nbody",
            b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\nshort", b"HTTP/1.1 101 Switching Protocols\r\n\r\n"]


def _fed(decoder, chunks) -> list:
    """What a passive decoder returns for ``chunks`` ((client to server?, bytes), each at its index as its time),
    then at its close."""
    out = []
    for i, (c2s, data) in enumerate(chunks):
        out += decoder.feed(Direction.C2S if c2s else Direction.S2C, data, i)
    return out + decoder.close(len(chunks))


@given(either(st.sampled_from(RENDERED)))
def test_http1_framing_repair(data):
    wire, notes = repair_rendered(data)
    assert isinstance(wire, bytes) and all(isinstance(n, str) for n in notes)


@given(st.lists(st.tuples(st.booleans(), either(st.sampled_from(RENDERED + HTTP))), max_size=8))
def test_http1_decoder(chunks):
    for ex in _fed(Http1Decoder(body_cap=1 << 16), chunks):
        assert ex.request is not None or ex.response is not None or ex.errors


# -- HTTP/2 ------------------------------------------------------------------------------

DUMP = (b"\nFrame Type\t=>\tHEADERS\nFrame StreamID\t=>\t1\nFrame Length\t=>\t20\n"
        b'header field ":method" = "GET"\nheader field ":path" = "/x"\n'
        b"\nFrame Type\t=>\tDATA\nFrame StreamID\t=>\t1\nFrame Length\t=>\t5\nhello\n"
        b"\nMerged Data Frame, StreamID\t=>\t1\nMerged Data Frame, Final Length\t=>\t3\n\nabc\n")


@given(either(st.just(DUMP), 800))
def test_http2_text_dump_parser(data):
    parsed = parse_h2_dump(data)
    assert parsed is not None


def _h2_bytes() -> st.SearchStrategy[bytes]:
    import hpack
    from hyperframe.frame import DataFrame, HeadersFrame, SettingsFrame

    def build(path: str) -> bytes:
        enc = hpack.Encoder()
        head = [(":method", "GET"), (":scheme", "https"), (":authority", "x"), (":path", path)]
        return (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + SettingsFrame(0).serialize()
                + HeadersFrame(1, data=enc.encode(head), flags={"END_HEADERS"}).serialize()
                + DataFrame(1, data=b"body", flags={"END_STREAM"}).serialize())

    return st.sampled_from(["/", "/a?b=c", "/" + "x" * 300]).map(build)


@given(st.lists(st.tuples(st.booleans(), either(_h2_bytes(), 600)), min_size=1, max_size=6))
def test_passive_http2_decoder(chunks):
    for s in _fed(H2PassiveDecoder(max_body=1 << 16), chunks):
        assert isinstance(s.request_headers, list) and isinstance(s.errors, list)


# -- WebSocket, content codings ------------------------------------------------------------

def _ws_frames() -> st.SearchStrategy[bytes]:
    def build(payload: bytes, deflate: bool) -> bytes:
        if deflate:
            c = zlib.compressobj(9, zlib.DEFLATED, -15)
            payload = (c.compress(payload) + c.flush(zlib.Z_SYNC_FLUSH))[:-4]
        first = 0xC1 if deflate else 0x81
        n = len(payload)
        head = bytes([first, n]) if n < 126 else bytes([first, 126]) + n.to_bytes(2, "big")
        return head + payload

    return st.builds(build, st.binary(max_size=200), st.booleans())


EXTENSIONS = st.one_of(st.text(max_size=60), st.sampled_from([
    "permessage-deflate", "permessage-deflate; client_max_window_bits=12; server_max_window_bits=12",
    "permessage-deflate; server_max_window_bits=0", "permessage-deflate; client_max_window_bits=99",
    "permessage-deflate; server_max_window_bits=8; server_no_context_takeover", None]))


@given(EXTENSIONS, st.lists(st.tuples(st.booleans(), either(_ws_frames(), 300)), max_size=6))
def test_websocket_frames_and_permessage_deflate(extensions, chunks):
    parse_extensions(extensions)
    ws = WebSocketParser(extensions, max_message_size=1 << 16)
    msgs = []
    for i, (c2s, data) in enumerate(chunks):
        msgs += ws.feed(Direction.C2S if c2s else Direction.S2C, data, i)
    msgs += ws.close(len(chunks))
    assert not [e for e in ws.errors if "internal error" in e], ws.errors
    assert all(len(m.data) <= 1 << 16 for m in msgs)


def _encoded() -> st.SearchStrategy[tuple[bytes, str]]:
    import brotli
    import zstandard

    codings = {"gzip": lambda b: zlib.compress(b, wbits=31), "deflate": zlib.compress, "br": brotli.compress,
               "zstd": lambda b: zstandard.ZstdCompressor().compress(b), "identity": lambda b: b}
    return st.tuples(st.binary(max_size=300), st.sampled_from(sorted(codings))).map(
        lambda t: (codings[t[1]](t[0]), t[1]))


@given(st.one_of(_encoded(), st.tuples(st.binary(max_size=300), st.text(max_size=30))),
       st.integers(0, 4096))
def test_content_decoding(encoded, cap):
    body, coding = encoded
    decoded = decode_content(body, coding, cap=cap)
    assert len(decoded.data) <= max(cap, len(body))


# -- HAR URLs ------------------------------------------------------------------------------

_URL_ALPHABET = st.sampled_from(list("ab0:/?#[]@%&=. ") + ["::1", "é", "http://", "https://", "\x00"])
_URL_TEXT = st.lists(_URL_ALPHABET, max_size=24).map("".join)


@given(st.sampled_from(["GET", "CONNECT", "OPTIONS"]),
       st.one_of(_URL_TEXT, _URL_TEXT.map(lambda t: "http://" + t), _URL_TEXT.map(lambda t: "/" + t)),
       st.one_of(st.none(), _URL_TEXT), st.one_of(st.none(), _URL_TEXT))
def test_har_entry_urls(method, target, host, authority):
    """Whatever the target, Host and :authority, the entry's URL is a URI the HAR validator accepts."""
    from ecq2pcap.payloads.http import HttpRequest, HttpResponse
    from ecq2pcap.sinks.har.entries import build_entry
    from ecq2pcap.sinks.har.exchange import Exchange
    from tests.sinks.har import make_conn, validate_entry

    t0 = 1_795_715_800 * 1_000_000_000
    req = HttpRequest(method=method, target=target, headers=[("Host", host)] if host is not None else [],
                      body=b"", body_size=0, start_ns=t0, end_ns=t0, header_size=10, complete=True,
                      authority=authority)
    resp = HttpResponse(status=200, reason="OK", headers=[], body=b"", body_size=0, start_ns=t0 + 1, end_ns=t0 + 1,
                        header_size=10, complete=True)
    validate_entry(build_entry(Exchange(make_conn(1), request=req, response=resp)))


# -- HAR from whole connections -----------------------------------------------------------


def _h2_exchange(authority: str, informational: list[str], status: str, end_on_info: bool) -> tuple[bytes, bytes]:
    import hpack

    from ecq2pcap.payloads.h2.encoder import frame_bytes

    req = hpack.Encoder().encode([(":method", "GET"), (":scheme", "https"), (":authority", authority),
                                  (":path", "/p?a=1")])
    enc = hpack.Encoder()
    s2c = frame_bytes(4, 0, 0)
    for code in informational:
        s2c += frame_bytes(1, 0x4 | (0x1 if end_on_info else 0), 1, enc.encode([(":status", code)]))
    s2c += frame_bytes(1, 0x4, 1, enc.encode([(":status", status), ("content-encoding", "gzip")]))
    s2c += frame_bytes(0, 0x1, 1, b"\x1f\x8b\x08\x00body")
    return b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame_bytes(4, 0, 0) + frame_bytes(1, 0x5, 1, req), s2c


_H2_CONN = st.builds(_h2_exchange, st.sampled_from(["ex.test", "[::1]:8443", "[x", "a]b", "", " ", "h/p#f"]),
                     st.lists(st.sampled_from(["100", "103", "199", "101", "1", "abc"]), max_size=3),
                     st.sampled_from(["200", "204", "103", "600", "-1", ""]), st.booleans())


@given(st.data())
def test_har_from_mutated_http2_connections(data):
    """HTTP/2 connections (1xx informational responses, odd :authority and :status, mutated bytes, any
    delivery boundaries) through the HAR sink: the HAR validates and no internal error is counted."""
    import io

    from ecq2pcap.model import Closed, Opened, Protocol
    from ecq2pcap.report import Count, Report
    from ecq2pcap.sinks.har import HarSink
    from tests.sinks.har import make_chunk, make_conn
    from tests.support.har import validate_har

    c2s, s2c = data.draw(_H2_CONN)
    c2s, s2c = data.draw(either(st.just(c2s), 10)), data.draw(either(st.just(s2c), 10))
    out, report = io.BytesIO(), Report()
    sink = HarSink(out, report=report)
    conn = make_conn(1)
    t0 = 1_795_715_800 * 1_000_000_000
    sink.handle(Opened(conn, t0))
    cuts = [data.draw(st.integers(0, len(c2s))), data.draw(st.integers(0, len(s2c)))]
    parts = [(Direction.C2S, c2s[:cuts[0]]), (Direction.S2C, s2c[:cuts[1]]),
             (Direction.C2S, c2s[cuts[0]:]), (Direction.S2C, s2c[cuts[1]:])]
    for i, (d, part) in enumerate(parts):
        if part:
            sink.handle(make_chunk(conn, d, t0 + i * 1_000_000, part, protocol=Protocol.HTTP2))
    sink.handle(Closed(conn, t0 + 9_000_000, "end of input"))
    sink.finish()
    assert report.counts[Count.INTERNAL_ERRORS] == 0, report.warnings
    validate_har(json.loads(out.getvalue()))
