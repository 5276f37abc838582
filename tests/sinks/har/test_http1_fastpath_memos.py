"""Http1Parser fast path: the header, status and request lines it keeps (its memos) read as they were the first
time, and bounded. (Split from test_http1_fastpath.py.)"""

from __future__ import annotations


def test_kept_header_lines_are_bounded_and_read_as_the_first_time():
    """The fast path keeps header lines it has read (clients repeat them); a flood of distinct
    lines keeps at most its max_entries, none longer than its max_size, and a kept line gives what
    reading it afresh gives, Content-Length and framing included."""
    from ecq2pcap.payloads.http1 import fast
    from ecq2pcap.payloads.http1.grammar import text

    def plain(whole):  # a WholeMessage as data: its head (msgspec Structs compare by value), body, size and texts
        if whole is not None:  # (its fields as text, kept with the lines: what decoding them gives)
            assert whole.texts == [(text(n), text(v)) for n, v in whole.head.headers]
        return None if whole is None else ((whole.head, whole.body, whole.texts), whole.unconsumed)

    def request(lines: list[bytes]) -> bytearray:
        return bytearray(b"GET / HTTP/1.1\r\n" + b"".join(line + b"\r\n" for line in lines) + b"\r\n")

    fast._LINES.known.clear()
    for i in range(3 * fast._LINES.max_entries // 10):
        head = request([b"Host: h%d" % i, *(b"X-%d-%d: %s" % (i, j, b"v" * (j * 60)) for j in range(10))])
        assert fast.fast_request(head, 0, 65536, 65536) is not None
        assert len(fast._LINES.known) <= fast._LINES.max_entries
    assert max(map(len, fast._LINES.known)) <= fast._LINES.max_size
    shapes = [[b"Host: a", b"Content-Length: 2"], [b"Host: a", b"Content-Length: 2", b"content-length: 2"],
              [b"Host: a", b"Content-Length: x2"], [b"Host: a", b"Transfer-Encoding: chunked"], [b"Host: a", b" fold"],
              [b"Host: a", b"host: a"], [b"Accept: */*", b"HOST: a"]]
    for lines in shapes:
        fast._LINES.known.clear()
        first = fast.fast_request(request(lines) + b"ok", 0, 65536, 65536)
        again = fast.fast_request(request(lines) + b"ok", 0, 65536, 65536)  # every line kept by now
        assert plain(first) == plain(again)
    assert plain(fast.fast_request(request([b"Host: a", b"Content-Length: 2"]) + b"ok", 0, 65536, 65536))[0][1] == b"ok"


def test_kept_status_lines_read_as_the_first_time():
    """A server's status lines are kept too: a kept one gives what reading it afresh gives, and one the fast
    path leaves to h11 (1xx, 204, 304, HTTP/2.0, a bad line) is left to it again."""
    from ecq2pcap.payloads.http1 import fast

    def response(line: bytes) -> bytearray:
        return bytearray(line + b"\r\nContent-Length: 2\r\n\r\nok")

    taken = (b"HTTP/1.1 200 OK", b"HTTP/1.0 404 Not Found", b"HTTP/1.1 500", b"HTTP/1.1 201 ")
    left = (b"HTTP/1.1 100 Go", b"HTTP/1.1 204 No Content", b"HTTP/1.1 304 Not Modified", b"HTTP/2.0 200 OK",
            b"HTTP/1.1 2000 OK", b"HTTP/1.1 200 O\x7fK")
    for line in taken + left:
        fast._STATUS_LINES.known.clear()
        first = fast.fast_response(response(line), 0, 65536, 65536)
        again = fast.fast_response(response(line), 0, 65536, 65536)  # (kept by now, when taken)
        if line in left:
            assert first is None and again is None, line
            continue
        assert (first.head, first.body, first.unconsumed) == (again.head, again.body, again.unconsumed)
        assert (first.head.status, first.head.reason) == (int(line[9:12]), line[13:]), line


def test_kept_request_lines_read_as_the_first_time():
    """A client's request lines are kept too: a kept one gives what reading it afresh gives (method, target,
    version), and one the fast path leaves to h11 (CONNECT, HTTP/2.0, HTTP/1.1 without Host, a bad line) is
    left to it again."""
    from ecq2pcap.payloads.http1 import fast

    def request(line: bytes, host: bool = True) -> bytearray:
        return bytearray(line + (b"\r\nHost: a" if host else b"") + b"\r\nContent-Length: 2\r\n\r\nok")

    taken = (b"GET / HTTP/1.1", b"POST /a?b=c HTTP/1.0", b"OPTIONS * HTTP/1.1", b"GET http://h/x HTTP/1.1")
    left = (b"CONNECT h:443 HTTP/1.1", b"GET / HTTP/2.0", b"GET  / HTTP/1.1", b"GET / HTTP/1.1 ", b"G\x7fT / HTTP/1.1")
    for line in taken + left:
        fast._REQUEST_LINES.known.clear()
        first = fast.fast_request(request(line), 0, 65536, 65536)
        again = fast.fast_request(request(line), 0, 65536, 65536)  # (kept by now, when it parses)
        if line in left:
            assert first is None and again is None, line
            continue
        assert (first.head, first.body, first.unconsumed) == (again.head, again.body, again.unconsumed)
        assert (first.head.method, first.head.target) == tuple(line.split(b" ")[:2]), line
    fast._REQUEST_LINES.known.clear()
    assert fast.fast_request(request(b"GET / HTTP/1.1"), 0, 65536, 65536) is not None
    assert fast.fast_request(request(b"GET / HTTP/1.1", host=False), 0, 65536, 65536) is None  # (kept, no Host)
    assert fast._REQUEST_LINES.known
