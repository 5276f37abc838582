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


HEADS = [b"GET / HTTP/1.1\r\nHost: x\r\n", b"GET / HTTP/1.0\r\nHost: x\r\n", b"HTTP/1.1 200 OK\r\n", b"HTTP/1.0 200 OK\r\n",
         b"GET /HTTP/1.0 HTTP/1.1\r\n", b"HTTP/1.0", b"GET / HTTP/1.0", b"http/1.0 200 OK\r\n", b"POST / HTTP/1.0 \r\n"]
FIELDS = [b"", b"Connection: close\r\n", b"Connection: keep-alive\r\n", b"Connection: Keep-Alive, Upgrade\r\n",
          b"Connection: closed\r\n", b"Connection: enclose\r\n", b"X-Close: close\r\nConnection: upgrade\r\n",
          b"Connection: upgrade\r\nX-Why: close\r\n", b"Connection: upgrade\r\nConnection: close\r\n",
          b"Connection:\tclose \r\n", b"Connection: ,close,\r\n", b"Connection: keep-alive\rclose\r\n",
          b"Connection: keep-alive\nConnection: close\r\n", b"Connection: \x0bclose\x0c\r\n", b"Connection: KEEP-ALIVE\r\n",
          b"User-Agent: close keep-alive\r\n", b"Content-Length: 2\r\nConnection: close\r\n"]


@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("field", FIELDS)
def test_a_head_whose_options_are_not_read_closes_as_one_whose_are(head, field, monkeypatch):
    """A head without a close option's letters after its first Connection field has its options read only when they
    can tell (HTTP/1.0's keep-alive): the same answer as reading every head's options, alone and pipelined."""
    from ecq2pcap.flows import closing

    messages = [head + field + b"\r\n", head + field + b"\r\nhi",
                b"POST /a HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi" + head + field + b"\r\n"]
    fast = [closes_connection(m) for m in messages]
    lowered = (head + field).lower()  # (the first message read as the RFC puts it: its options, whole)
    options = closing._options(lowered) if b"\r\nconnection:" in lowered else set()
    whole = messages[0].find(b"\r\n\r\n") >= 0  # (a head not whole tells nothing)
    assert fast[0] == fast[1] == (whole and (b"close" in options or closing._alone(lowered, options, True)))
    monkeypatch.setattr(closing, "_CLOSE_LETTERS", b"")  # (found in every head: every head's options read)
    assert fast == [closes_connection(m) for m in messages]


@pytest.mark.parametrize("head", [h.lower() for h in HEADS] + [b"", b"get / http/1.0", b"http/1.0 ", b"x http/1.0\r\n",
                                                                b"http/1.0\r\n 200", b"get / http/1.1\r\nx http/1.0\r\n"])
def test_an_http10_first_line_is_read_without_cutting_it_out(head):
    """_http10 reads the first line where it is in the head: what cutting it out and reading it gives."""
    from ecq2pcap.flows.closing import _http10

    line = head.split(b"\r\n", 1)[0]
    assert _http10(head, True) == (line.endswith(b" http/1.0") or line.startswith(b"http/1.0 "))
    assert _http10(head, False) == line.endswith(b" http/1.0")


@pytest.mark.parametrize("data, closes", [
    (b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi", False),  # (the data ends with the message)
    (b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nh", False),  # (within its body)
    (b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nhiG", False),  # (a next message's first byte)
    (b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nhiGET / HTTP/1.0\r\n\r\n", True),
    (b"POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\nGET / HTTP/1.0\r\n\r\n", True),
    (b"GET / HTTP/1.1\r\n\r\nGET / HTTP/1.0\r\n\r\n", True),  # (no length: the next one right after the head)
    (b"GET / HTTP/1.1\r\n\r\nGET / HTTP/1.0\r\n\r", False),  # (its head not whole)
    (b"GET / HTTP/1.1\r\n\r\nX", False),
    (b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nGET / HTTP/1.0\r\n\r\n", False),  # (chunked: no telling)
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiHTTP/1.0 200 OK\r\n\r\n", True),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nhiHTTP/1.0 200 OK\r\n\r\n", False),  # (not where one starts)
])
def test_a_message_ending_the_data_has_no_next_one(data, closes):
    """Where a message ends the data (its head, or its Content-Length's body), no next one is looked for; where
    data follows, the next message is read there."""
    assert closes_connection(data) is closes
