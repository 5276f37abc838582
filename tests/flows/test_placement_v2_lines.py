"""Captures taken before eCapture knew their socket, v2 (protocol doc §3.3, §11.9): v2 data has no tuple, its
connection comes from the connect/accept lines, and one socket's data read before the next accept line is that
next connection's when the one before cannot continue with it (an HTTP/2 preface after a whole connection, an
exchange after one that closed its connection); a keep-alive request and a message that does not close its
connection stay. The v1 unknown-tuple placement and the helpers are in test_placement.py."""

import pytest

from ecq2pcap.flows.placement import Shape, cannot_continue
from ecq2pcap.model import Chunk, ConnectInfo
from ecq2pcap.report import Report

from .test_placement import H2_DATA, PREFACE, REQ1, REQ2, RESP, S, SETTINGS, SWITCH, T1, T2, UPGRADE, placed, run, v2


def accept(tup):
    return ConnectInfo("connect", pid=7, fd=12, tuple=tup)


def test_v2_data_before_the_accept_line_starts_the_new_connection():
    # HTTP/2 connection 1, then connection 2's server SETTINGS and the client's preface are
    # captured before connection 2's accept line
    report = Report()
    events = run([accept(T1), v2(SETTINGS, 1, 1 * S), v2(PREFACE + SETTINGS, 0, 1 * S + 1000),
                  v2(H2_DATA, 1, 2 * S),
                  v2(SETTINGS, 1, 5 * S), v2(PREFACE + SETTINGS, 0, 5 * S + 1000), accept(T2),
                  v2(H2_DATA, 1, 6 * S)], report)
    by_port = {}
    for port, direction, head in placed(events):
        by_port.setdefault(port, []).append((direction, head))
    assert by_port[40001] == [("S2C", SETTINGS[:8]), ("C2S", PREFACE[:8]), ("S2C", H2_DATA[:8])]
    assert by_port[40002] == [("S2C", SETTINGS[:8]), ("C2S", PREFACE[:8]), ("S2C", H2_DATA[:8])]
    assert report.counts["before_tuple_split"] == 1


def test_v2_keep_alive_request_stays_on_its_connection():
    # an HTTP/1 request after a complete exchange may be the same connection's next one: not split
    events = run([accept(T1), v2(REQ1, 0, 1 * S), v2(RESP, 1, 1 * S + 10), v2(REQ2, 0, 2 * S),
                  v2(RESP, 1, 2 * S + 10)])
    assert {p[0] for p in placed(events)} == {40001}


CLOSE_REQ = b"GET /one HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
CLOSE_RESP = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi"
REQ10 = b"GET /one HTTP/1.0\r\nHost: x\r\n\r\n"
RESP10 = b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi"


@pytest.mark.parametrize("first", [(CLOSE_REQ, RESP), (REQ1, CLOSE_RESP), (REQ10, RESP10), (REQ1 + CLOSE_REQ, RESP)],
                         ids=["client close", "server close", "HTTP/1.0", "pipelined close"])
def test_v2_an_exchange_read_after_one_that_closed_its_connection_waits_for_its_accept_line(first):
    """v2 server (nginx: one fd for every connection; ab's HTTP/1.0 or a client's ``Connection: close`` make one
    exchange a connection), the next connection's request and response captured before its accept line: they
    went on the one before, which had said it ends after its exchange (RFC 9112 §9.6): two exchanges on one TCP
    stream, the next connection's first missing. The audit's busy-server generator with a close on each
    connection's last request: 152 and 160 of 1,000 connections split (seeds 1, 2), now 0 and 0."""
    req, resp = first
    report = Report()
    events = run([accept(T1), v2(req, 0, 1 * S), v2(resp, 1, 1 * S + 10),
                  v2(REQ2, 0, 2 * S), v2(RESP, 1, 2 * S + 10), accept(T2), v2(REQ2, 0, 3 * S),
                  v2(RESP, 1, 3 * S + 10)], report)
    assert placed(events) == [(40001, "C2S", req[:8]), (40001, "S2C", resp[:8])] + [
        (40002, "C2S", REQ2[:8]), (40002, "S2C", RESP[:8])] * 2
    assert report.counts["before_tuple_split"] == 1
    assert report.counts["before_tuple_unplaced"] == 0


@pytest.mark.parametrize("message", [
    b"GET / HTTP/1.0\r\nHost: x\r\nConnection: Keep-Alive\r\n\r\n",  # HTTP/1.0 kept alive
    b"HTTP/1.1 200 OK\r\nX-Connection: close\r\n\r\n",  # not the Connection header
    b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n",  # a head read in pieces: the rest may say otherwise
    b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nGET / HTTP/1.1\r\nConnection: close\r\n\r\n",  # a body
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nConnection: close\r\n\r\n",  # a body's text
])
def test_a_message_that_does_not_close_its_connection_is_continued(message):
    shape = Shape()
    shape.update(v2(message, 0 if message.startswith(b"GET") else 1, 0))
    assert not shape.closing and not cannot_continue(shape, v2(REQ2, 0, 0), one_socket=True)


def test_v2_new_connection_whose_accept_never_comes_is_not_glued_to_the_old_one():
    report = Report()
    events = run([accept(T1), v2(UPGRADE, 0, 1 * S), v2(SWITCH, 1, 1 * S + 10), v2(b"\x81\x02hi", 0, 2 * S),
                  v2(REQ2, 0, 30 * S), v2(RESP, 1, 30 * S + 10)], report)
    old = [p for p in placed(events) if p[0] == 40001]
    assert [h for _, _, h in old] == [UPGRADE[:8], SWITCH[:8], b"\x81\x02hi"]
    new = [e for e in events if isinstance(e, Chunk) and e.wire in (REQ2, RESP)]
    assert len(new) == 2 and not new[0].conn.tuple_known
    assert report.counts["before_tuple_unplaced"] == 2


def test_cannot_continue():
    h2, h1, ws = Shape(), Shape(), Shape()
    h2.update(v2(SETTINGS, 1, 0))
    h2.update(v2(PREFACE + SETTINGS, 0, 0))
    h1.update(v2(REQ1, 0, 0))
    h1.update(v2(RESP, 1, 0))
    ws.update(v2(UPGRADE, 0, 0))
    ws.update(v2(SWITCH, 1, 0))
    assert cannot_continue(h2, v2(SETTINGS, 1, 0)) and cannot_continue(h2, v2(PREFACE, 0, 0))
    assert cannot_continue(h2, v2(REQ1, 0, 0))
    assert not cannot_continue(h2, v2(H2_DATA, 1, 0))
    assert not cannot_continue(h2, v2(b"\x00\x00\x00\x04\x01\x00\x00\x00\x00", 1, 0))  # SETTINGS ACK
    assert not cannot_continue(h1, v2(REQ2, 0, 0)) and cannot_continue(h1, v2(PREFACE, 0, 0))
    assert cannot_continue(ws, v2(REQ2, 0, 0)) and not cannot_continue(ws, v2(b"\x81\x02hi", 0, 0))
    h1.update(v2(CLOSE_RESP, 1, 0))  # (one socket's next request is another connection's; a thread's may be its
    assert cannot_continue(h1, v2(REQ2, 0, 0), one_socket=True) and not cannot_continue(h1, v2(REQ2, 0, 0))  # other's)
    assert not cannot_continue(h1, v2(RESP, 1, 0), one_socket=True)
