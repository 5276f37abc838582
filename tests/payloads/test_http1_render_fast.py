"""repair_rendered's quick paths against its general rules (FAST off), by property: the fast exit for messages
whose framing already agrees (and that it is taken), the one regex over the header lines and the two over the
start line that the line-by-line checks must equal, the header section limit, and the two common repairs (a
de-chunked body, a gunzipped one) giving the general rules' bytes and notes."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from ecq2pcap.payloads import http1_render
from ecq2pcap.payloads.http1_render import NOT_HTTP1, repair_rendered


_START = st.sampled_from([b"GET / HTTP/1.1", b"POST /x?a=1 HTTP/1.0", b"HEAD / HTTP/1.1", b"HTTP/1.1 200 OK",
                          b"HTTP/1.1 101 Switching Protocols", b"HTTP/1.0 204 No Content", b"HTTP/1.1 304 Not Modified",
                          b"HTTP/1.1 404 ", b"HTTP/1.1 99 bad", b"GET  HTTP/1.1"])
_NAME = st.sampled_from([b"Content-Length", b"content-length", b"CONTENT-LENGTH", b"Transfer-Encoding",
                         b"Content-Encoding", b"Host", b"X-Content-Length", b"Content-Type", b"Bad Name"])
_VALUE = st.one_of(st.sampled_from([b"0", b"5", b"12", b" 12 ", b"12, 12", b"12,13", b"-1", b"1e2", b"chunked",
                                    b"gzip", b"br", b"x-gzip", b"", b"\xd9\xa1"]),
                   st.integers(0, 40).map(lambda n: str(n).encode()), st.binary(max_size=6))
_BODY = st.one_of(st.binary(max_size=40), st.sampled_from([b"", b"5\r\nhello\r\n0\r\n\r\n", b"\x1f\x8bxx",
                                                           b"0\r\n\r\n", b"c\r\nhello world!\r\n0\r\nA: b\r\n\r\n"]))


def assert_fast_is_general(payload: bytes, method: str | None) -> None:
    """repair_rendered's answer is the general rules' (FAST off): the same bytes and notes."""
    fast = repair_rendered(payload, request_method=method)
    try:
        http1_render.FAST = False
        general = repair_rendered(payload, request_method=method)
    finally:
        http1_render.FAST = True
    assert bytes(fast[0]) == bytes(general[0]) and fast[1] == general[1]


@settings(max_examples=1500, deadline=None)
@given(start=_START, fields=st.lists(st.tuples(_NAME, st.one_of(_VALUE, st.just(None))), max_size=5), body=_BODY,
       method=st.sampled_from([None, "HEAD", "get"]), cut=st.booleans())
def test_fast_exit_gives_what_the_general_rules_give(start, fields, body, method, cut):
    """repair_rendered's quick answer for messages whose framing already agrees is the general rules'
    answer, on any mix of framing headers, values (None: the body's length), bodies and start lines."""
    fields = [(n, str(len(body)).encode() if v is None else v) for n, v in fields]
    payload = b"\r\n".join([start, *(n + b":" + v for n, v in fields)]) + (b"\r\n" if cut else b"\r\n\r\n") + body
    assert_fast_is_general(payload, method)


def test_fast_exit_is_taken_for_agreeing_framing(monkeypatch):
    """The quick answer really answers the common shapes (the test above would pass without it). (The Python one:
    test_http1_render_c.py holds the C one to it.)"""
    monkeypatch.setattr(http1_render, "AGREES", None)
    calls = []
    monkeypatch.setattr(http1_render, "_framing_agrees", lambda *a: calls.append(a) or False)
    repair_rendered(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    repair_rendered(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    assert len(calls) == 2


_LINE_BYTES = st.sampled_from([b"Host", b"X-A", b"Bad Name", b":", b" ", b"\t", b"a", b"\r", b"\n", b"\r\n", b"\x00",
                               b"\xe9", b"v", b"Content-Length", b"1"])


@settings(max_examples=1500, deadline=None)
@given(lines=st.lists(st.lists(_LINE_BYTES, max_size=6).map(b"".join), min_size=1, max_size=4))
def test_header_lines_are_checked_as_one_regex_over_the_head_checks_them(lines):
    """repair_rendered checks each header line on its own (what it found kept by line); a head passes
    exactly when the one regex over all its lines, the straightforward check, accepts it."""
    import re

    from ecq2pcap.payloads.header_names import TOKEN

    value = rb"[^\r]*(?:\r(?!\n)[^\r]*)*"  # a field value: anything but CRLF
    block = re.compile(rb"%s:%s(?:\r\n%s:%s)*" % ((TOKEN, value) * 2))
    head = b"GET / HTTP/1.1\r\n" + b"\r\n".join(lines)
    payload = head + b"\r\n\r\n"
    end = payload.find(b"\r\n\r\n")
    eol = payload.find(b"\r\n", 0, end)
    expected = eol < 0 or block.fullmatch(payload, eol + 2, end) is not None
    for _ in range(2):  # the second time from what was kept
        assert (repair_rendered(payload)[1] != (http1_render.NOT_HTTP1,)) == expected


_START_BYTES = st.sampled_from([b"HTTP/", b"1.1", b"1.0", b"2", b" ", b"200", b"20", b"OK", b"\t", b"\r", b"GET",
                                b"/x", b"\xe9", b"\x00", b"HTTP/1.1 204", b"HTTP", b" HTTP/1.1", b"HTTPS"])


@settings(max_examples=1500, deadline=None)
@given(start=st.lists(_START_BYTES, min_size=1, max_size=6).map(b"".join))
@example(start=b"HTTP /x HTTP/1.1")  # (a method may start with "HTTP")
def test_start_lines_are_read_as_the_two_regexes_read_them(start):
    """repair_rendered reads a start line beginning "HTTP/" as a status line only (a method cannot hold a "/"),
    its status kept by line: it takes exactly the start lines the request-line or status-line regex takes, and
    reads the same status the first time and from what it kept."""
    payload = start + b"\r\nContent-Length: 0\r\n\r\n"
    status = http1_render._STATUS_LINE.fullmatch(start)
    expected = status is not None or http1_render._REQUEST_LINE.fullmatch(start) is not None
    for _ in range(2):  # the second time from what was kept
        wire, notes = repair_rendered(payload)
        assert (notes != (NOT_HTTP1,)) == expected
        if status is not None and int(status.group(1)) in (204, 304):  # bodiless: its Content-Length stays
            assert wire == payload


def test_a_head_over_the_header_section_limit_is_left_as_rendered():
    stale = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Pad: " + b"p" * 100 + b"\r\n\r\nhello"
    wire, notes = repair_rendered(stale, max_head=100)
    assert wire == stale and notes == ("header section of 156 bytes: framing left as eCapture rendered it "
                                       "(limit: --max-header-size)",)
    assert b"chunked" not in repair_rendered(stale, max_head=156)[0]  # (at the limit: repaired)


_OTHER_LINE = st.sampled_from([b"Host: a.test", b"Content-Type: text/plain", b"X-Content-Length: 5", b"Date: x",
                               b"content-encoding-x: gzip"])


@settings(max_examples=1500, deadline=None)
@given(start=_START, others=st.lists(_OTHER_LINE, max_size=4),
       framing=st.lists(st.tuples(st.sampled_from([b"Content-Encoding", b"content-encoding", b"Content-Length",
                                                   b"CONTENT-LENGTH", b"Transfer-Encoding"]),
                                  st.sampled_from([b" gzip", b"gzip", b" x-gzip", b" GZIP", b" br", b" chunked",
                                                   b" Chunked", b" 5", b" 7", b"x", b" 12, 12", None])),
                        min_size=1, max_size=2),
       body=st.sampled_from([b"hello", b"hello, world", b"5\r\nhello\r\n0\r\n\r\n", b"\x1f\x8b\x08\x00\x00\x00\x00"
                             b"\x00\x00\x03", b"\x1f\x8bxx", b"7, \"a\"", b""]),
       order=st.randoms(use_true_random=False), method=st.sampled_from([None, "HEAD"]))
def test_the_two_common_repairs_give_what_the_general_rules_give(start, others, framing, body, order, method):
    """repair_rendered's quick repairs of a de-chunked body (one Transfer-Encoding line) and of a gunzipped one (one
    Content-Encoding and one Content-Length line) are the general rules' answer, wherever the lines are and whatever
    they say (None: the body's length)."""
    lines = others + [name + b":" + (b" %d" % len(body) if value is None else value) for name, value in framing]
    order.shuffle(lines)
    payload = b"\r\n".join([start, *lines]) + b"\r\n\r\n" + body
    assert_fast_is_general(payload, method)
