"""What an HTTP/1 message says of its connection's end: field names in any case, and pipelined messages."""

import pytest

from ecq2pcap.flows.closing import closes_connection

BODY = b"POST /a HTTP/1.1\r\nHost: x\r\n%s: 5\r\n\r\nhello"


@pytest.mark.parametrize("data, closes", [
    (b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", True),
    (b"GET / HTTP/1.1\r\nHost: x\r\nCONNECTION: Close\r\n\r\n", True),  # (field names and options: any case)
    (b"GET / HTTP/1.1\r\nHost: x\r\ncOnNeCtIoN:close\r\n\r\n", True),
    (b"GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade, close\r\n\r\n", True),
    (b"GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nConnection: close\r\n\r\n", True),  # (two lines)
    (b"GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n", False),
    (b"GET / HTTP/1.1\r\nHost: x\r\nX-Connection: close\r\n\r\n", False),
    (b"GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: close\r\n\r\n", False),
    (b"GET / HTTP/1.0\r\nHost: x\r\n\r\n", True),
    (b"GET / http/1.0\r\nHost: x\r\n\r\n", True),  # (read lower-cased)
    (b"GET / HTTP/1.0\r\n\r\n", True),
    (b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", False),
    (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi", True),
    (b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi", False),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi", False),
    (b"GET /HTTP/1.0 HTTP/1.1\r\nHost: x\r\n\r\n", False),  # (the version ends the line, not the target)
    # pipelined: the next message where each one's Content-Length (any case) says it starts
    (BODY % b"Content-Length" + b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", True),
    (BODY % b"CONTENT-LENGTH" + b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", True),
    (BODY % b"content-length" + b"GET / HTTP/1.0\r\n\r\n", True),
    (BODY % b"X-Length" + b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", False),  # (no length: a body follows)
    (b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nConnection: close\r\n\r\n", True),
    (b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nConnection: close\r\n", False),  # (not whole)
])
def test_a_message_closes_its_connection(data, closes):
    assert closes_connection(data) is closes
