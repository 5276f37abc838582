"""The connection table and eCapture v2's connect/accept lines: a line that starts the next connection on a
reused fd, one that repeats a tuple, data before its line, a Go server's preface read alone, a client's dump reopening
a stream. (Split from test_table.py.)"""

import pytest
from msgspec.structs import replace

from ecq2pcap.flows import ConnectionTable
from ecq2pcap.model import Chunk, Closed, ConnectInfo, Direction, Opened, PayloadForm, Tuple

from .test_table import REQ, RESP, S, cap, chunks, run


@pytest.mark.parametrize("cuts", [(), (1, 6), (3,), (4, 9)], ids=["whole", "G|ET /b|...", "GET|...", "GET |/b H|..."])
def test_a_request_that_came_before_its_accept_line_on_a_reused_fd_goes_to_the_new_connection(cuts):
    """v2 (the audit's D4): nginx reuses fd 12; the next connection's request is read before eCapture's accept
    line for it comes. It went on the old connection (an HTTP/1 request can continue one): the old connection's
    entry had a request without its answer, the new one an answer without its request. When the accept line
    comes while such a request is still held, it goes to the connection the line opens; also when it was read
    in pieces, the first too short to hold the method ("G")."""
    ta, tb = Tuple("10.0.0.9", 50001, "10.0.0.2", 443), Tuple("10.0.0.9", 50002, "10.0.0.2", 443)
    req_b = b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n"
    ends = (0, *cuts, len(req_b))
    pieces = [req_b[a:b] for a, b in zip(ends, ends[1:])]

    def v2(payload, dt, ts):
        return replace(cap(payload, dt, ts, fd=12, tup=None, form=PayloadForm.RAW), uuid=None)  # (v2: no uuid)

    table, events = ConnectionTable(repair_http1=False), []
    events += table.feed(ConnectInfo("connect", pid=1, fd=12, tuple=ta))
    events += table.feed(v2(REQ, 0, 1 * S)) + table.feed(v2(RESP, 1, 1 * S))  # (the server reads, then writes)
    for k, piece in enumerate(pieces):
        events += table.feed(v2(piece, 0, 2 * S + k * 1000))
    events += table.feed(ConnectInfo("connect", pid=1, fd=12, tuple=tb))
    events += table.feed(v2(RESP, 1, 3 * S)) + table.close_all()
    got = [(c.conn.client, c.wire) for c in chunks(events)]
    assert got == [(("10.0.0.9", 50001), REQ), (("10.0.0.9", 50001), RESP)] + [
        (("10.0.0.9", 50002), p) for p in pieces] + [(("10.0.0.9", 50002), RESP)]
    placed = [c for c in chunks(events) if c.conn.client[1] == 50002 and c.wire != RESP]
    assert all(any("before this connection's accept/connect line" in n for n in c.info.notes) for c in placed)


def _v2(payload, dt, ts):
    return replace(cap(payload, dt, ts, fd=12, tup=None, form=PayloadForm.RAW), uuid=None)  # (v2: no uuid)


@pytest.mark.parametrize("early", [False, True], ids=["after its line", "request before its line"])
def test_a_connect_line_repeating_the_tuple_after_data_starts_a_new_connection(early):
    """v2 (§11.1: a connection ends at the next connect line for its (pid, fd)): a client that reuses its port
    on a server whose fd is reused (a load test: one client, thousands of connections) gives an accept line of
    the same tuple. It was taken for the same connection: two exchanges on one TCP connection (HAR: one
    connection id), and with the next request read before its line, that request went on the old one."""
    ta = Tuple("10.0.0.9", 50001, "10.0.0.2", 443)
    req_b = b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n"
    table, events = ConnectionTable(repair_http1=False), []
    events += table.feed(ConnectInfo("connect", pid=1, fd=12, tuple=ta))
    events += table.feed(_v2(REQ, 0, 1 * S)) + table.feed(_v2(RESP, 1, 1 * S))
    if early:
        events += table.feed(_v2(req_b, 0, 2 * S))
    events += table.feed(ConnectInfo("connect", pid=1, fd=12, tuple=ta))
    if not early:
        events += table.feed(_v2(req_b, 0, 2 * S))
    events += table.feed(_v2(RESP, 1, 2 * S)) + table.close_all()
    got = [(c.conn.id, c.wire) for c in chunks(events)]
    assert got == [(1, REQ), (1, RESP), (2, req_b), (2, RESP)]
    assert [e.conn.client for e in events if isinstance(e, Opened)] == [("10.0.0.9", 50001)] * 2
    # (the first ends before the next opens: Wireshark tells two TCP streams of one tuple apart only so)
    assert [(type(e).__name__, e.conn.id, getattr(e, "reason", "")) for e in events if not isinstance(e, Chunk)] == [
        ("Opened", 1, ""), ("Closed", 1, "its fd was reused by a new connection"), ("Opened", 2, ""),
        ("Closed", 2, "end of input")]


def test_a_connect_line_repeating_the_tuple_of_a_connection_before_the_last_starts_a_new_connection():
    """The same with another connection between the two on the fd (a port reused a few connections later: the
    audit's generator of a busy server, seven client ports): the line's data went on to the first connection, not
    closed yet (it ends 2 × the reorder window after its last data)."""
    ta, tb = Tuple("10.0.0.9", 50001, "10.0.0.2", 443), Tuple("10.0.0.9", 50002, "10.0.0.2", 443)
    table, events = ConnectionTable(repair_http1=False), []
    for k, tup in enumerate((ta, tb, ta)):
        events += table.feed(ConnectInfo("connect", pid=1, fd=12, tuple=tup))
        events += table.feed(_v2(REQ, 0, (k + 1) * S)) + table.feed(_v2(RESP, 1, (k + 1) * S))
    events += table.close_all()
    assert [(c.conn.id, c.conn.client[1], c.wire) for c in chunks(events)] == [
        (1, 50001, REQ), (1, 50001, RESP), (2, 50002, REQ), (2, 50002, RESP), (3, 50001, REQ), (3, 50001, RESP)]
    opened = [i for i, e in enumerate(events) if isinstance(e, Opened) and e.conn.id == 3]
    closed = [i for i, e in enumerate(events) if isinstance(e, Closed) and e.conn.id == 1]
    assert closed < opened  # (one tuple: the first's FIN before the third's SYN)


def test_where_a_connection_a_line_of_its_tuple_ended_closes_does_not_depend_on_the_clock():
    """(A live run lets the clock tick between messages; convert moves it with the data alone.)"""
    ta, tb = Tuple("10.0.0.9", 50001, "10.0.0.2", 443), Tuple("10.0.0.9", 50002, "10.0.0.2", 443)
    records = []
    for k, tup in enumerate((ta, ta, tb, ta)):
        records += [ConnectInfo("connect", pid=1, fd=12, tuple=tup), _v2(REQ, 0, (3 * k + 1) * S),
                    _v2(RESP, 1, (3 * k + 1) * S)]

    def order(events):
        return [(type(e).__name__, e.conn.id, e.time_ns) for e in events]

    batch, live = ConnectionTable(repair_http1=False), ConnectionTable(repair_http1=False)
    got_batch, got_live = [], []
    for r in records:
        got_batch += batch.feed(r)
        got_live += live.feed(r)
        if type(r) is not ConnectInfo:
            for tick in range(1, 4):
                got_live += live.advance(r.timestamp_ns + tick * S)
    got_batch += batch.close_all()
    got_live += live.close_all()
    assert order(got_live) == order(got_batch)
    assert [e.conn.client[1] for e in got_batch if isinstance(e, Opened)] == [50001, 50001, 50002, 50001]


def test_a_connect_line_repeated_before_any_data_is_the_same_connection():
    """A non-blocking connect() called again (EALREADY/EISCONN) returns through the same probe: a second line of
    the same tuple before any data gives one connection (the first line's, with nothing, writes nothing)."""
    ta = Tuple("10.0.0.9", 50001, "10.0.0.2", 443)
    table, events = ConnectionTable(repair_http1=False), []
    for _ in range(2):
        events += table.feed(ConnectInfo("connect", pid=1, fd=12, tuple=ta))
    events += table.feed(_v2(REQ, 1, 1 * S)) + table.feed(_v2(RESP, 0, 1 * S)) + table.close_all()
    assert [(c.conn.id, c.wire) for c in chunks(events)] == [(1, REQ), (1, RESP)]
    assert len([e for e in events if isinstance(e, Opened)]) == 1


def test_a_go_server_reading_the_preface_alone_is_one_connection():
    """Go's HTTP/2 server reads the 24-byte preface on its own (io.ReadFull), then each frame's 9-byte header and
    its payload: gotls has one event per Read. The client's SETTINGS after the preface was taken for a second
    connection's opening: the connection split in two, the second with client and server swapped."""
    from ecq2pcap.payloads.h2 import PREFACE, SETTINGS_FRAME

    def go(payload, dt, ts):
        return cap(payload, dt, ts, fd=None, tup=None, module="gotls", form=PayloadForm.RAW)

    headers = b"\x00\x00\x01\x01\x05\x00\x00\x00\x01\x82"  # HEADERS stream 1 (END_STREAM, END_HEADERS)
    reads = [PREFACE, SETTINGS_FRAME[:9], SETTINGS_FRAME[9:], headers[:9], headers[9:]]
    events = run([go(r, 0, 1 * S) for r in reads if r] + [go(SETTINGS_FRAME, 1, 1 * S)], repair_http1=False)
    (opened,) = [e for e in events if isinstance(e, Opened)]
    assert opened.conn.process_role == "server"
    assert [(c.direction, c.wire) for c in chunks(events)] == [(Direction.C2S, r) for r in reads if r] + [
        (Direction.S2C, SETTINGS_FRAME)]


def test_a_clients_dump_reopening_a_stream_starts_the_threads_next_connection():
    """gnutls/nspr (v1): one uuid for all of a thread's connections, HTTP/2 as eCapture's text dumps (no
    preface). HTTP/2 never reuses a stream, so a client's HEADERS on a stream at or below one it opened before
    is a new connection; a higher one is the same connection. (Both exchanges reached the HAR only so.)"""
    def dump(dt, ts, sid, fields):
        text = b"\nFrame Type\t=>\tHEADERS\nFrame StreamID\t=>\t%d\nFrame Length\t=>\t9\n" % sid + b"".join(
            b'header field "%s" = "%s"\n' % (k, v) for k, v in fields)
        return cap(text, dt, ts, fd=None, tup=None, module="gnutls/nspr", form=PayloadForm.H2_DUMP)

    get = [(b":method", b"GET"), (b":path", b"/"), (b":scheme", b"https"), (b":authority", b"a.example")]
    ok = [(b":status", b"200")]
    events = run([dump(1, 1 * S, 1, get), dump(0, 1 * S, 1, ok), dump(1, 2 * S, 3, get), dump(0, 2 * S, 3, ok),
                  dump(1, 6 * S, 1, get), dump(0, 6 * S, 1, ok)], repair_http1=False)
    opened = [e for e in events if isinstance(e, Opened)]
    assert len(opened) == 2
    assert [sum(c.conn is o.conn and bool(c.raw) for c in chunks(events)) for o in opened] == [4, 2]  # (+ prefaces)
    # the server's dumps (the process is the client: its reads) name the client's streams again: no new connection
    events = run([dump(1, 1 * S, 3, get), dump(0, 2 * S, 3, ok), dump(0, 3 * S, 1, ok)], repair_http1=False)
    assert len([e for e in events if isinstance(e, Opened)]) == 1
