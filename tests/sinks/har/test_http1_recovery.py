"""Http1Parser when captures are lossy (eCapture's 16 KiB cap, dropped events, requests or answers never seen)
and when bytes do not parse: the pairing kept, what was lost said, resynchronisation. (Split from test_http1.py.)"""

from __future__ import annotations

import random

import pytest

from ecq2pcap.limits import Limits
from ecq2pcap.sinks.har.entries import build_entry
from ecq2pcap.sinks.har.exchange import Exchange
from ecq2pcap.sinks.har.http1 import REQUEST_NOT_CAPTURED, RESPONSE_NOT_CAPTURED, Http1Parser

from . import make_conn
from .test_http1 import MS, C, S, get, resp, run, summary


# -- lossy captures ---------------------------------------------------------------------


def test_response_without_request():
    out, _ = run([(S, 1, resp(200, b"orphan"))], close_at=50)
    assert summary(out) == [(None, (200, b"orphan"))]
    assert REQUEST_NOT_CAPTURED in out[0].errors
    assert out[0].response.start_ns == out[0].response.end_ns == 1 * MS  # its arrival, not the close
    assert out[0].http_version == "HTTP/1.1"


def test_lost_request_in_the_middle_does_not_shift_pairs():
    steps = [
        (C, 1, get(b"/a")), (S, 2, resp(200, b"A")),
        (S, 3, resp(200, b"B")),  # its request was lost
        (C, 4, get(b"/c")), (S, 5, resp(200, b"C")),
    ]  # fmt: skip
    out, _ = run(steps)
    assert summary(out) == [(("GET", "/a", b""), (200, b"A")), (None, (200, b"B")), (("GET", "/c", b""), (200, b"C"))]
    assert out[1].errors == [REQUEST_NOT_CAPTURED] and out[0].errors == out[2].errors == []


def test_response_fed_before_its_request_pairs_within_the_window():
    steps = [(S, 100, resp(200, b"early")), (C, 1100, get(b"/late"))]
    out, _ = run(steps, reorder_window_ns=2000 * MS)
    assert summary(out) == [(("GET", "/late", b""), (200, b"early"))] and out[0].errors == []
    out, _ = run(steps)  # default window 0: a later request does not claim it
    assert summary(out) == [(None, (200, b"early")), (("GET", "/late", b""), None)]


def test_response_with_same_timestamp_as_request_pairs_by_default():
    out, _ = run([(S, 5, resp(200, b"x")), (C, 5, get(b"/"))])
    assert summary(out) == [(("GET", "/", b""), (200, b"x"))]


def test_request_without_response():
    out, _ = run([(C, 1, get(b"/1")), (S, 2, resp(200, b"r1")), (C, 3, get(b"/2"))])
    assert summary(out) == [(("GET", "/1", b""), (200, b"r1")), (("GET", "/2", b""), None)]
    assert out[1].errors == [RESPONSE_NOT_CAPTURED]


def test_truncated_response_body():
    out, _ = run([(C, 1, get(b"/")), (S, 2, b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 300)])
    assert len(out) == 1
    assert out[0].response.body_size == 300 and not out[0].response.complete
    assert "response body truncated: 300 of 1000 bytes" in out[0].errors


def test_truncated_chunked_body_and_request_body():
    out, _ = run([(C, 1, b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc")])
    assert out[0].request.body == b"abc" and not out[0].request.complete
    assert "request body truncated: 3 of 10 bytes" in out[0].errors
    assert RESPONSE_NOT_CAPTURED in out[0].errors
    out, _ = run([(C, 1, get(b"/")), (S, 2, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")])
    assert out[0].response.body == b"abc"
    assert any(e.startswith("response body truncated") for e in out[0].errors)


def test_a_body_whose_end_was_lost_ends_where_the_next_message_begins():
    """eCapture loses bytes (its 16 KiB cap per call, dropped events: protocol doc §10.16): a response whose
    Content-Length is not met when the next capture starts with a status line ends there, said so, and the next
    response is read as its own (it was the first one's body, and the next request's answer was lost). Likewise
    an upload cut short before the next request. A body that only arrives in pieces is still read whole."""
    big = b"HTTP/1.1 200 OK\r\nContent-Length: 20000\r\n\r\n" + b"y" * 16000
    out, _ = run([(C, 1, get(b"/big")), (S, 2, big), (C, 3, get(b"/small")), (S, 4, resp(200, b"ok"))])
    assert summary(out) == [(("GET", "/big", b""), (200, b"y" * 16000)), (("GET", "/small", b""), (200, b"ok"))]
    assert not out[0].response.complete and out[1].response.complete
    assert out[0].errors == ["response body truncated: 16000 of 20000 bytes, then the next response began "
                             "(eCapture lost the rest: its 16 KiB cap per call, or a dropped event)"]
    upload = b"POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 50\r\n\r\n" + b"z" * 20
    out, _ = run([(C, 1, upload), (C, 2, get(b"/next")), (S, 3, resp(200, b"a")), (S, 4, resp(200, b"b"))])
    assert summary(out) == [(("POST", "/up", b"z" * 20), (200, b"a")), (("GET", "/next", b""), (200, b"b"))]
    assert "request body truncated: 20 of 50 bytes, then the next request began" in out[0].errors[0]
    # chunked, after a capture of eCapture's cap (16 KiB): a chunk cut inside (the next response was read as the
    # rest of its 20,000 bytes, and every answer after it was lost), a chunk cut at its end, an upload's chunk cut
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    for size, data in ((0x4E20, 16384 - len(head) - 6), (16384 - len(head) - 8, 16384 - len(head) - 8)):
        cut = b"%x\r\n" % size + b"y" * data + (b"\r\n" if data == size else b"")
        assert len(head + cut) == 16384
        out, _ = run([(C, 1, get(b"/big")), (S, 2, head + cut), (C, 3, get(b"/small")), (S, 4, resp(200, b"ok")),
                      (C, 5, get(b"/last")), (S, 6, resp(201, b"!"))])
        assert summary(out) == [(("GET", "/big", b""), (200, b"y" * data)), (("GET", "/small", b""), (200, b"ok")),
                                (("GET", "/last", b""), (201, b"!"))]
        assert out[0].errors == [f"response body truncated: chunked, {data} bytes read, then the next response "
                                 "began (eCapture lost the rest: its 16 KiB cap per call, or a dropped event)"]
    upload = b"POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5000\r\n"
    body = b"z" * (16384 - len(upload))
    out, _ = run([(C, 1, upload + body), (C, 2, get(b"/next")), (S, 3, resp(200, b"a")), (S, 4, resp(200, b"b"))])
    assert summary(out) == [(("POST", "/up", body), (200, b"a")), (("GET", "/next", b""), (200, b"b"))]
    assert f"request body truncated: chunked, {len(body)} bytes read, then the next request began" in out[0].errors[0]
    # a chunk whose data, written apart from its size line, is an HTTP request (nothing lost: audit 41's review)
    upload = b"POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
    out, _ = run([(C, 1, upload), (C, 2, b"12\r\n"), (C, 3, b"GET / HTTP/1.1\r\n\r\n"),
                  (C, 4, b"\r\n0\r\n\r\n" + get(b"/last")), (S, 5, resp(200, b"a")), (S, 6, resp(201, b"b"))])
    assert summary(out) == [(("POST", "/up", b"GET / HTTP/1.1\r\n\r\n"), (200, b"a")),
                            (("GET", "/last", b""), (201, b"b"))]
    # a body in pieces, one of which starts like a status line, is not cut when no later request waits for an
    # answer
    body = b"HTTP/1.1 200 OK is what this body says"
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (len(body) + 4)
    out, _ = run([(C, 1, get(b"/")), (S, 2, head + b"abcd"), (S, 3, body)])
    assert summary(out) == [(("GET", "/", b""), (200, b"abcd" + body))] and out[0].response.complete


def test_truncated_response_head_at_close():
    out, _ = run([(C, 1, get(b"/")), (S, 2, b"HTTP/1.1 200 OK\r\nContent-Ty")])
    assert len(out) == 1 and out[0].response is None
    assert RESPONSE_NOT_CAPTURED in out[0].errors
    assert any("incomplete" in e for e in out[0].errors)


def test_interim_response_without_final_response():
    out, _ = run([(C, 1, b"POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi"),
                  (S, 2, b"HTTP/1.1 100 Continue\r\n\r\n")])  # fmt: skip
    assert summary(out) == [(("POST", "/", b"hi"), (100, b""))]
    assert any("final response not captured" in e for e in out[0].errors)


# -- garbage and resynchronisation ------------------------------------------------------


def test_garbage_before_a_request_is_skipped_and_reported():
    out, p = run([(C, 1, b"\x00\x17garbage bytes\r\nmore junk\r\n" + get(b"/ok")), (S, 2, resp(200, b"fine"))])
    assert summary(out) == [(("GET", "/ok", b""), (200, b"fine"))]
    assert any("bytes of unparsable client→server data skipped" in e for e in out[0].errors)
    assert p.take_diagnostics() == []


def test_garbage_between_responses():
    rsp = resp(200, b"one") + b"\x16\x03\x01 binary junk \xff\xfe\r\n" + resp(200, b"two")
    out, _ = run([(C, 1, get(b"/1") + get(b"/2")), (S, 2, rsp)])
    assert summary(out) == [(("GET", "/1", b""), (200, b"one")), (("GET", "/2", b""), (200, b"two"))]
    assert out[0].errors == []
    assert any("server→client data skipped" in e for e in out[1].errors)


def test_capture_starting_mid_body():
    rsp = b"tail of an earlier body\r\n</html>\r\n" + resp(200, b"real")
    out, _ = run([(C, 1, get(b"/")), (S, 2, rsp)])
    assert summary(out) == [(("GET", "/", b""), (200, b"real"))]


def test_bad_header_block_resyncs_inside_it():
    rsp = b"HTTP/1.1 200 OK\r\nBad Header Name: x\r\n" + resp(200, b"good")
    out, _ = run([(C, 1, get(b"/")), (S, 2, rsp)])
    assert summary(out) == [(("GET", "/", b""), (200, b"good"))]
    assert any("unparsable response head" in e for e in out[0].errors)


@pytest.mark.parametrize("bad", [b"Server : legacy\r\n", b"Transfer-Encoding: gzip, chunked\r\n"])
def test_a_response_whose_head_did_not_parse_answers_its_own_request_not_the_next(bad):
    """A final status line whose header section h11 refuses (whitespace before a colon, a coding h11 does not
    frame) is a response all the same: it answered the request waiting. It was skipped as unparsable bytes and the
    next response was paired with that request, every answer after it one request early (audit 41, finding 4)."""
    first = b"HTTP/1.1 200 OK\r\n" + bad + b"Content-Length: 5\r\n\r\nfirst"
    out, _ = run([(C, 1, get(b"/first")), (S, 2, first), (C, 3, get(b"/second")), (S, 4, resp(404, b"second"))])
    assert summary(out) == [(("GET", "/first", b""), (200, b"")), (("GET", "/second", b""), (404, b"second"))]
    assert not out[0].response.complete and out[0].response.http_version == "HTTP/1.1"
    assert len(out[0].errors) == 1 and out[0].errors[0].startswith("response head not parsed (unparsable response ")
    assert out[1].errors == []  # (the bytes skipped are said once, on the exchange they were)
    assert build_entry(out[0])["response"]["status"] == 200


def test_a_final_response_whose_head_did_not_parse_after_a_100_continue_is_its_requests_answer():
    """The same after a ``100 Continue``: the 100 was taken for all of the answer ("final response not captured"),
    the refused head's bytes said on the next exchange (the second audit of stop 41, a case older than it)."""
    post = b"POST /first HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"
    final = b"HTTP/1.1 200 OK\r\nServer : legacy\r\nContent-Length: 5\r\n\r\nfirst"
    out, _ = run([(C, 1, post), (S, 2, b"HTTP/1.1 100 Continue\r\n\r\n"), (C, 3, b"hello"), (S, 4, final),
                  (C, 5, get(b"/second")), (S, 6, resp(404, b"second"))])
    assert summary(out) == [(("POST", "/first", b"hello"), (200, b"")), (("GET", "/second", b""), (404, b"second"))]
    assert out[0].response.interim == [100] and out[0].errors[0].startswith("response head not parsed")
    assert out[1].errors == []


def test_a_request_whose_head_did_not_parse_is_answered_by_the_next_response():
    """The same of a request (a server answers it, often with 400): its answer is not the next request's."""
    bad = b"GET /bad HTTP/1.1\r\nHost: h\r\nBad Name: x\r\n\r\n"
    out, _ = run([(C, 1, bad), (S, 2, resp(400, b"no")), (C, 3, get(b"/good")), (S, 4, resp(200, b"yes"))])
    assert summary(out) == [(("GET", "/bad", b""), (400, b"no")), (("GET", "/good", b""), (200, b"yes"))]
    assert not out[0].request.complete
    assert out[0].errors[0].startswith("request head not parsed (unparsable request head: ")
    assert build_entry(out[0])["request"]["url"].endswith("/bad")


def test_bad_chunked_body_ends_that_response_and_parsing_continues():
    rsp = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nnope\r\n" + resp(200, b"next")
    out, _ = run([(C, 1, get(b"/1") + get(b"/2")), (S, 2, rsp)])
    assert [s for s in summary(out)] == [(("GET", "/1", b""), (200, b"")), (("GET", "/2", b""), (200, b"next"))]
    assert any("response body did not frame" in e for e in out[0].errors)


@pytest.mark.parametrize("case", [(d, label, after) for d, label in ((C, "client→server"), (S, "server→client"))
                                  for after in (False, True)])
def test_garbage_only_goes_to_diagnostics(case):
    """(Also after exchanges that all ended: what close says of a connection with nothing else left.)"""
    direction, label, after_exchange = case
    before = [(C, 1, get(b"/a")), (S, 1, resp(200, b"ok"))] if after_exchange else []
    out, p = run([*before, (direction, 2, b"\x00\x01\x02 not http at all")])
    assert len(out) == len(before) // 2
    diags = p.take_diagnostics()
    assert diags and label in diags[0]


def test_random_garbage_never_raises():
    rng = random.Random(1234)
    pieces = [get(b"/x"), resp(200, b"abc"), b"HTTP/1.1 100 Continue\r\n\r\n", b"\r\n", b"0\r\n\r\n",
              b"Transfer-Encoding: chunked\r\n", b"Content-Length: 5\r\n", b"HTTP/1.1 101 S\r\n\r\n",
              b"CONNECT a:1 HTTP/1.1\r\n\r\n", b"HEAD / HTTP/1.1\r\nHost: h\r\n\r\n"]  # fmt: skip
    for _ in range(300):
        p = Http1Parser(make_conn(), limits=Limits(body_size=64))
        t = 0
        for _ in range(rng.randint(1, 12)):
            t += rng.randint(0, 3)
            if rng.random() < 0.5:
                data = rng.choice(pieces)
                cut = rng.randint(0, len(data))
                data = data[:cut] + bytes(rng.randrange(256) for _ in range(rng.randint(0, 4))) + data[cut:]
            else:
                data = bytes(rng.randrange(256) for _ in range(rng.randint(1, 40)))
            for ex in p.feed(rng.choice((C, S)), data, t):
                assert isinstance(ex, Exchange)
        for ex in p.close(t + 1):
            assert isinstance(ex, Exchange)
            assert ex.request is not None or ex.response is not None
