"""A request that waited for a 100 Continue, whose final answer was lost (eCapture v1 renders only a flush's first
response: the 100 swallows the final one of its flush, protocol doc §4.3): the next request's answer is its own,
not the waiting request's (which was given it, and every later answer shifted)."""

from __future__ import annotations

from ecq2pcap.model import Direction
from ecq2pcap.payloads.http1 import Http1Decoder

C, S = Direction.C2S, Direction.S2C
POST = (b"POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n", b"data")
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
GET = b"GET /next HTTP/1.1\r\nHost: h\r\n\r\n"
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext"
CREATED = b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"
MS = 1_000_000


def _run(feeds):
    d = Http1Decoder()
    out = []
    for direction, data, t in feeds:
        out += d.feed(direction, data, t)
    out += d.close(10_000 * MS)
    return [(ex.request.target, ex.response.status if ex.response else None, ex.errors) for ex in out]


def test_a_request_after_a_100_whose_final_answer_was_lost_gets_its_own():
    got = _run([(C, POST[0], 1000 * MS + 1), (C, POST[1], 1001 * MS), (S, CONTINUE, 1100 * MS),
                (C, GET, 3050 * MS), (S, OK, 3100 * MS)])
    assert got == [("/upload", 100, ["final response not captured after interim 100"]), ("/next", 200, [])]


def test_the_final_answer_before_the_next_request_is_the_waiting_ones():
    got = _run([(C, POST[0], 1000 * MS + 1), (C, POST[1], 1001 * MS), (S, CONTINUE, 1100 * MS),
                (S, CREATED, 1500 * MS), (C, GET, 3050 * MS), (S, OK, 3100 * MS)])
    assert got == [("/upload", 201, []), ("/next", 200, [])]


def test_whole_seconds_say_nothing_of_the_order_within_one():
    """v1.4's times are whole seconds, and a second's requests come before its responses: the final answer may be
    in the next request's second, so the next response still answers the waiting request."""
    got = _run([(C, POST[0], 1000 * MS), (C, POST[1], 1000 * MS), (S, CONTINUE, 1000 * MS),
                (C, GET, 2000 * MS), (S, CREATED, 2000 * MS), (S, OK, 2000 * MS)])
    assert got == [("/upload", 201, []), ("/next", 200, [])]
