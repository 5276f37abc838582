"""repair_rendered's fast exit in C (``_rendered.c``'s rendered_agrees, compiled here from source whatever the
install did) against the Python one: on random messages it says True exactly when the Python reaches its fast exit
with the framing agreeing (``_framing_agrees`` true), and a True is then the general rules' answer too (the message
as it is, no notes)."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ecq2pcap.limits import DEFAULT_LIMITS
from ecq2pcap.payloads import http1_render
from ecq2pcap.payloads.http1_render import repair_rendered
from tests.payloads.test_http1_render_fast import _BODY, _LINE_BYTES, _NAME, _START, _START_BYTES, _VALUE
from tests.support.speedups import compile_speedups

_METHODS = st.sampled_from([None, "HEAD", "head", "GET"])


@pytest.fixture(scope="module")
def c_agrees(tmp_path_factory):
    return compile_speedups(tmp_path_factory.mktemp("speedups")).rendered_agrees


def python_fast_exit(payload: bytes, method: str | None, max_head: int) -> bool:
    """Whether the Python repair_rendered answers ``payload`` at its fast exit (the C answer put aside)."""
    seen = []
    real = http1_render._framing_agrees
    saved = http1_render.AGREES
    http1_render._framing_agrees = lambda *args: seen.append(real(*args)) or seen[-1]
    http1_render.AGREES = None
    try:
        wire, notes = repair_rendered(payload, request_method=method, max_head=max_head)
    finally:
        http1_render._framing_agrees, http1_render.AGREES = real, saved
    if seen == [True]:
        assert (wire, notes) == (payload, ())
    return seen == [True]


def check(c_agrees, payload: bytes, method: str | None, max_head: int = DEFAULT_LIMITS.header_section_size):
    said = c_agrees(payload, method is not None and method.upper() == "HEAD", max_head)
    assert said is python_fast_exit(payload, method, max_head)
    if said:  # (and the general rules leave it as it is)
        http1_render.FAST = False
        try:
            assert repair_rendered(payload, request_method=method, max_head=max_head) == (payload, ())
        finally:
            http1_render.FAST = True


def test_messages_of_any_framing(c_agrees):
    @settings(max_examples=2000, deadline=None)
    @given(start=_START, fields=st.lists(st.tuples(_NAME, st.one_of(_VALUE, st.just(None))), max_size=5), body=_BODY,
           method=_METHODS, cut=st.booleans(), max_head=st.one_of(st.just(DEFAULT_LIMITS.header_section_size),
                                                                   st.integers(0, 80)))
    @example(start=b"HTTP/1.1 200 OK", fields=[(b"Content-Length", b" 2 , 2\t")], body=b"ok", method=None,
             cut=False, max_head=40)
    def run(start, fields, body, method, cut, max_head):
        fields = [(n, str(len(body)).encode() if v is None else v) for n, v in fields]
        head = b"\r\n".join([start, *(n + b":" + v for n, v in fields)])
        payload = head + (b"\r\n" if cut else b"\r\n\r\n") + body
        check(c_agrees, payload, method, max_head)

    run()


_STARTS = st.sampled_from([b"GET / HTTP/1.1", b"HTTP/1.1 200 OK", b"HTTP/1.1 200", b"HTTP/1.1 200 ", b"HTTP/1.0 204 x",
                           b"HTTP/1.1 101 Switching", b"HTTP/1.1 304 x", b"HTTP/1.1 199 x", b"HTTP/1.1 200 O\rK",
                           b"HTTP/1.1 200 O\nK", b"HTTP/1.1 2000 OK", b"HTTP/1.x 200 OK", b"HTTP/2 200 OK",
                           b"GET /\x7f HTTP/1.1", b"GET /\x80\xff HTTP/1.1", b"GET /\t HTTP/1.1", b"GE T / HTTP/1.1",
                           b"G(T / HTTP/1.1", b"GET / HTTP/1.12", b"GET  / HTTP/1.1", b"GET / HTTP/1.1 ", b"GET /",
                           b"M-SEARCH * HTTP/1.1", b"HTTP /x HTTP/1.1", b"GET / HTTP/2.0"])
_NAMES = st.sampled_from([b"Content-Length", b"content-LENGTH", b"Content-Lengthx", b"Content-Lengt", b"Host", b"",
                          b" Content-Length", b"Content-Length ", b"Bad Name", b"Transfer-Encoding",
                          b"CONTENT-ENCODING", b"X-Content-Length", b"A\x7f", b"\xe9"])


def _value(n: int, how: str) -> bytes:
    """A Content-Length value for length ``n``, written ``how``."""
    return {"plain": b"%d" % n, "padded": b" \t%d \x0b" % n, "list": b"%d, %d" % (n, n),
            "other": b"%d,%d" % (n, n + 1), "before": b"%d, %d" % (n + 1, n), "zeros": b"%019d" % n,
            "18": b"%018d" % n, "empty": b"", "comma": b"%d," % n, "sign": b"+%d" % n, "inner": b"%d %d" % (n, n)}[how]


_HOWS = st.sampled_from(["plain", "padded", "list", "other", "before", "zeros", "18", "empty", "comma", "sign",
                         "inner"])


def test_start_lines_and_lengths(c_agrees):
    @settings(max_examples=3000, deadline=None)
    @given(start=st.one_of(_STARTS, st.sampled_from([b"GET / HTTP/1.1", b"HTTP/1.1 200 OK"])),
           lengths=st.lists(st.tuples(st.sampled_from([b"Content-Length", b"content-LENGTH"]), _HOWS, st.booleans()),
                            max_size=2),
           others=st.lists(st.tuples(_NAMES, _HOWS, st.booleans()), max_size=2), at=st.integers(0, 4),
           body=st.sampled_from([b"", b"ok", b"hello world"]), method=_METHODS)
    def run(start, lengths, others, at, body, method):
        lines = [name + b":" + _value(len(body) if right else len(body) + 1, how) for name, how, right in lengths]
        lines[at:at] = [name + b":" + _value(len(body) if right else len(body) + 1, how) for name, how, right in others]
        check(c_agrees, b"\r\n".join([start, *lines]) + b"\r\n\r\n" + body, method)

    run()


def test_any_header_lines_and_start_lines(c_agrees):
    @settings(max_examples=2000, deadline=None)
    @given(start=st.lists(_START_BYTES, min_size=1, max_size=6).map(b"".join),
           lines=st.lists(st.lists(_LINE_BYTES, max_size=6).map(b"".join), max_size=4),
           tail=st.sampled_from([b"\r\n\r\n", b"\r\n\r\nab", b"\r\n", b"", b"\r\n\r\n\r\n\r\n"]), method=_METHODS)
    @example(start=b"HTTP /x HTTP/1.1", lines=[], tail=b"\r\n\r\n", method=None)
    @example(start=b"GET / HTTP/1.1", lines=[b"Content-Length: 2\r"], tail=b"\r\n\r\n\nab", method=None)
    def run(start, lines, tail, method):
        check(c_agrees, b"\r\n".join([start, *lines]) + tail, method)

    run()


def test_bytes_anywhere(c_agrees):
    @settings(max_examples=2000, deadline=None)
    @given(data=st.lists(st.sampled_from([b"GET / HTTP/1.1", b"HTTP/1.1 200 OK", b"HTTP/1.0 304 x", b"\r\n", b"\r",
                                          b"\n", b":", b"Content-Length", b"content-length:", b" ", b"0", b"1", b",",
                                          b"x", b"Transfer-Encoding: chunked", b"\x00", b"\xff"]), max_size=14)
           .map(b"".join), method=_METHODS)
    def run(data, method):
        check(c_agrees, data, method)

    run()


def test_what_it_refuses(c_agrees):
    assert c_agrees(bytearray(b"GET / HTTP/1.1\r\n\r\n"), False, 100) is False  # (not bytes: the Python answers)
    assert c_agrees(b"GET / HTTP/1.1\r\n\r\n", False, 100) is True
    for args in ((b"", False), (b"", False, "x"), (b"", False, 1, 2)):
        with pytest.raises(TypeError):
            c_agrees(*args)
