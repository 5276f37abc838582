from msgspec.structs import replace

from ecq2pcap.flows import ConnectionTable
from ecq2pcap.model import (Capture, Chunk, Closed, ConnectInfo, DataType, Direction, Opened, PayloadForm,
                            Protocol, Tuple)

S = 1_000_000_000
T = Tuple("10.0.0.1", 40000, "10.0.0.2", 8443)
REQ = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
RESP = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"
RESP_HEAD = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"


def cap(payload, dt, ts, *, pid=1, tid=1, fd=5, tup=T, form=PayloadForm.HTTP1_RENDERED, uuid=None, module="openssl"):
    return Capture(pid=pid, tid=tid, comm="curl", fd=fd, data_type=DataType(dt), tuple=tup, timestamp_ns=ts,
                   payload=payload, form=form, ectype=None, uuid=uuid or f"{pid}_{tid}_curl_{fd}_{dt}_{tup}",
                   module=module)


def run(caps, **kw):
    table = ConnectionTable(**kw)
    events = []
    for c in caps:
        events += table.feed(c)
    events += table.close_all()
    return events


def chunks(events):
    return [e for e in events if isinstance(e, Chunk)]


def test_halves_and_threads_join_one_connection_ordered():
    # the response's worker flushed first; same whole second (v1.4): request still first
    events = run([cap(RESP, 0, 100 * S, tid=2), cap(REQ, 1, 100 * S, tid=1)], repair_http1=False)
    opened = [e for e in events if isinstance(e, Opened)]
    assert len(opened) == 1 and opened[0].conn.client == ("10.0.0.1", 40000)
    assert [(c.direction, c.wire) for c in chunks(events)] == [(Direction.C2S, REQ), (Direction.S2C, RESP)]
    assert [c.info.tid for c in chunks(events)] == [1, 2]  # both threads' captures...
    assert all(c.conn is opened[0].conn for c in chunks(events))  # ...on the one connection
    assert isinstance(events[-1], Closed)


def test_events_stream_out_as_capture_time_advances():
    table = ConnectionTable(reorder_window_ns=3 * S, repair_http1=False)
    assert table.feed(cap(REQ, 1, 100 * S)) == []  # held in the reorder window
    out = table.feed(cap(RESP, 0, 104 * S))
    assert [type(e) for e in out] == [Opened, Chunk]  # the request is out, the response waits
    assert chunks(table.advance(200 * S))[0].wire == RESP


def test_server_side_capture_orients_by_role():
    # nginx: reads the request (dt=0), writes the response; tuple stays client->server
    events = run([cap(REQ, 0, 1 * S), cap(RESP, 1, 2 * S)], repair_http1=False)
    ch = chunks(events)
    assert [c.direction for c in ch] == [Direction.C2S, Direction.S2C]
    assert ch[0].conn.process_role == "server"
    assert not ch[0].conn.outbound(Direction.C2S)


def test_same_pid_fd_different_tuples_are_separate_connections():
    t2 = Tuple("10.0.0.9", 40001, "10.0.0.2", 443)
    events = run([cap(REQ, 0, 1 * S), cap(RESP, 1, 2 * S), cap(REQ, 0, 30 * S, tup=t2), cap(RESP, 1, 31 * S, tup=t2)],
                 repair_http1=False)
    opened = [e.conn for e in events if isinstance(e, Opened)]
    assert [c.client for c in opened] == [("10.0.0.1", 40000), ("10.0.0.9", 40001)]
    closed = [e for e in events if isinstance(e, Closed)]
    assert closed[0].conn is opened[0] and "reused" in closed[0].reason


def test_unknown_tuple_adopts_real_tuple_of_same_pid_fd():
    events = run([cap(REQ, 1, 1 * S, tup=None), cap(RESP, 0, 2 * S)], repair_http1=False)
    opened = [e for e in events if isinstance(e, Opened)]
    assert len(opened) == 1 and opened[0].conn.tuple_known and opened[0].conn.server == ("10.0.0.2", 8443)
    assert [c.wire for c in chunks(events)] == [REQ, RESP]


def test_never_resolved_tuple_gets_stable_documentation_endpoints():
    def conn():
        ev = run([cap(REQ, 1, 1 * S, tup=None), cap(RESP, 0, 2 * S, tup=None)], repair_http1=False)
        return [e for e in ev if isinstance(e, Opened)][0].conn

    a, b = conn(), conn()
    assert a.client[0].startswith("192.0.2.") and a.server[0].startswith("198.51.100.")
    assert (a.client, a.server) == (b.client, b.server)
    assert not a.tuple_known and "never" in a.synthetic_reason


def test_pending_unknown_tuple_committed_after_adopt_window():
    table = ConnectionTable(adopt_window_ns=5 * S, repair_http1=False)
    table.feed(cap(REQ, 1, 1 * S, tup=None))
    out = table.advance(20 * S)
    assert [type(e) for e in out][:2] == [Opened, Chunk]
    assert not out[0].conn.tuple_known


def test_v2_connect_line_gives_tuple_to_earlier_data():
    table = ConnectionTable(repair_http1=False)
    out = table.feed(cap(REQ, 1, 1 * S, tup=None, form=PayloadForm.RAW))
    out += table.feed(ConnectInfo("connect", pid=1, fd=5, tuple=T, timestamp_ns=1 * S))
    out += table.close_all()
    assert [e for e in out if isinstance(e, Opened)][0].conn.client == ("10.0.0.1", 40000)


def test_gnutls_without_fd_joins_directions_with_synthetic_endpoints():
    events = run([cap(REQ, 1, 1 * S, fd=None, tup=None, module="gnutls/nspr"),
                  cap(RESP, 0, 2 * S, fd=None, tup=None, module="gnutls/nspr")], repair_http1=False)
    assert len([e for e in events if isinstance(e, Opened)]) == 1
    assert [c.direction for c in chunks(events)] == [Direction.C2S, Direction.S2C]


def test_gotls_calls_on_several_threads_are_one_connection():
    """Go moves goroutines between threads: a client's write and the read of its answer often carry different
    tids (v1 gotls uuids are pid_tid_comm). Keyed by thread they were two half connections, each exchange lost
    in HAR."""
    events = run([cap(REQ, 1, 1 * S, tid=51, fd=None, tup=None, module="gotls", form=PayloadForm.RAW),
                  cap(RESP, 0, 1 * S, tid=52, fd=None, tup=None, module="gotls", form=PayloadForm.RAW),
                  cap(REQ, 1, 2 * S, tid=53, fd=None, tup=None, module="gotls", form=PayloadForm.RAW)],
                 repair_http1=False)
    opened = [e for e in events if isinstance(e, Opened)]
    assert len(opened) == 1 and "one connection per process" in opened[0].conn.synthetic_reason
    assert [(c.direction, c.info.tid) for c in chunks(events)] == [(Direction.C2S, 51), (Direction.S2C, 52),
                                                                   (Direction.C2S, 53)]
    # another Go process is another connection
    events = run([cap(REQ, 1, 1 * S, pid=7, fd=None, tup=None, module="gotls", form=PayloadForm.RAW),
                  cap(REQ, 1, 1 * S, pid=8, fd=None, tup=None, module="gotls", form=PayloadForm.RAW)],
                 repair_http1=False)
    assert len([e for e in events if isinstance(e, Opened)]) == 2


def test_gnutls_threads_stay_apart():
    # gnutls/nspr: a thread's connections (Firefox's "Socket Thread" does all of its I/O)
    events = run([cap(REQ, 1, 1 * S, tid=1, fd=None, tup=None, module="gnutls/nspr"),
                  cap(REQ, 1, 1 * S, tid=2, fd=None, tup=None, module="gnutls/nspr")], repair_http1=False)
    assert len([e for e in events if isinstance(e, Opened)]) == 2


def test_bytes_that_open_a_connection_start_the_next_one_without_a_socket():
    """Without fd or tuple, sequential connections of a process (gotls) or thread (gnutls/nspr) were one: a
    second HTTP/2 preface, or HTTP/1 after HTTP/2, went on the first connection's stream and broke its
    decoding. Such bytes start the next connection, and the last one ends saying why."""
    from ecq2pcap.payloads.h2 import PREFACE, SETTINGS_FRAME

    def go(payload, dt, ts):
        return cap(payload, dt, ts, fd=None, tup=None, module="gotls", form=PayloadForm.RAW)

    server_settings = SETTINGS_FRAME
    events = run([go(PREFACE + SETTINGS_FRAME, 1, 1 * S), go(server_settings, 0, 1 * S),
                  go(PREFACE + SETTINGS_FRAME, 1, 5 * S), go(server_settings, 0, 5 * S), go(REQ, 1, 9 * S)],
                 repair_http1=False)
    opened = [e for e in events if isinstance(e, Opened)]
    assert len(opened) == 3
    by_conn = [[c.wire for c in chunks(events) if c.conn is o.conn] for o in opened]
    assert by_conn == [[PREFACE + SETTINGS_FRAME, server_settings]] * 2 + [[REQ]]
    assert len({o.conn.client for o in opened}) == 3  # three TCP streams in the pcapng
    closed = [e for e in events if isinstance(e, Closed)]
    assert [e.reason for e in closed][:2] == ["the bytes that followed opened a new connection (eCapture gave no "
                                              "socket to tell them apart)"] * 2


def test_where_a_superseded_connection_ends_does_not_depend_on_when_the_clock_ticks():
    """A live run lets the clock pass while no data comes (once a second), convert only with the data. An fd
    reused after an idle gap ended the old connection at the tick that passed its deadline in live (before the
    new one's packets) and at the end of input in convert (after them): the pcapng and the HAR differed. The
    release of captures now ends connections whose deadline passed first, whatever moved the clock."""
    t2 = Tuple("10.0.0.1", 40001, "10.0.0.2", 8443)
    caps = [cap(REQ, 1, 1 * S), cap(RESP, 0, 1 * S), cap(REQ, 1, 6 * S, tup=t2), cap(RESP, 0, 6 * S, tup=t2),
            cap(REQ, 1, 11 * S, tup=t2), cap(RESP, 0, 11 * S, tup=t2)]

    def order(events):
        return [(type(e).__name__, e.conn.id) for e in events]

    batch = run(caps)
    table, live = ConnectionTable(), []
    for c in caps:
        live += table.feed(c)
        for tick in range(1, 6):  # (the wall clock's seconds until the next capture comes)
            live += table.advance(c.timestamp_ns + tick * S)
    live += table.close_all()
    assert order(live) == order(batch)
    # (its deadline, 2 × the reorder window after its last data, passes before the new one's first data goes on)
    assert order(batch) == [("Opened", 1), ("Chunk", 1), ("Chunk", 1), ("Closed", 1), ("Opened", 2)] + [
        ("Chunk", 2)] * 4 + [("Closed", 2)]


def test_stale_reemit_at_close_is_left_out_and_reported():
    # v1.4.0-1.5.0: socket close re-renders the last response headers, same timestamp
    events = run([cap(REQ, 1, 5 * S), cap(RESP, 0, 5 * S), cap(RESP_HEAD, 0, 5 * S)], repair_http1=False)
    assert [c.wire for c in chunks(events)] == [REQ, RESP]
    closed = [e for e in events if isinstance(e, Closed)][0]
    assert any("re-emit" in n for n in closed.notes)


def test_reemits_after_upgrade_are_left_out():
    up_req = b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n"
    up_resp = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"
    caps = [cap(up_req, 1, 1 * S), cap(up_resp, 0, 1 * S)]
    caps += [cap(up_req, 1, t * S) for t in (3, 5, 7)] + [cap(up_resp, 0, t * S) for t in (3, 5)]
    events = run(caps, repair_http1=False)
    assert [c.wire for c in chunks(events)] == [up_req, up_resp]


def test_identical_requests_at_other_times_are_real():
    # a polling client: byte-identical requests, each in its own flush
    events = run([cap(REQ, 1, 1 * S), cap(RESP, 0, 1 * S), cap(REQ, 1, 9 * S), cap(RESP, 0, 9 * S)],
                 repair_http1=False)
    assert [c.wire for c in chunks(events)] == [REQ, RESP, REQ, RESP]


def test_a_bodiless_repeat_with_nothing_the_other_way_since_is_a_re_emit():
    """Protocol doc §11.6: a bodiless message whose headers equal the previous one in its direction is a
    re-emit. Without Date and at another time it was taken as a new response (a HAR entry whose request was
    'not captured'); nothing came the other way since, so it is the stale one. A real repeat answers a new
    request (a polling client's 204s) and stays."""
    no_content = b"HTTP/1.1 204 No Content\r\nServer: x\r\n\r\n"
    events = run([cap(REQ, 1, 1 * S), cap(RESP, 0, 1 * S), cap(RESP_HEAD, 0, 4 * S)], repair_http1=False)
    assert [c.wire for c in chunks(events)] == [REQ, RESP]
    events = run([cap(REQ, 1, 1 * S), cap(no_content, 0, 1 * S), cap(REQ, 1, 3 * S), cap(no_content, 0, 3 * S),
                  cap(no_content, 0, 6 * S)], repair_http1=False)
    assert [c.wire for c in chunks(events)] == [REQ, no_content, REQ, no_content]


def test_stale_response_headers_on_a_later_idle_flush_are_left_out():
    # v1.5.x: a flush that does not start with a new message re-renders the stale response,
    # Date and all; a real later response carries a new Date
    dated = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nDate: Thu, 26 Nov 2026 17:56:41 GMT\r\n\r\n"
    newer = dated.replace(b":41 GMT", b":49 GMT")
    events = run([cap(REQ, 1, 1 * S), cap(dated + b"hi", 0, 1 * S), cap(dated, 0, 4 * S),
                  cap(REQ, 1, 9 * S), cap(newer + b"hi", 0, 9 * S)], repair_http1=False)
    assert [c.wire for c in chunks(events)] == [REQ, dated + b"hi", REQ, newer + b"hi"]


def test_idle_timeout_closes_connection():
    table = ConnectionTable(idle_timeout_ns=10 * S, repair_http1=False)
    table.feed(cap(REQ, 1, 1 * S))
    out = table.advance(30 * S)
    assert any(isinstance(e, Closed) and e.reason == "idle timeout" for e in out)


def _connections(events) -> list[tuple]:
    """Each connection's client port, its chunks' first lines and how it ended, in opening order."""
    opened = [e.conn for e in events if isinstance(e, Opened)]
    return [(conn.client[1], [c.wire.split(b"\r\n", 1)[0] for c in chunks(events) if c.conn.id == conn.id],
             [e.reason for e in events if isinstance(e, Closed) and e.conn.id == conn.id]) for conn in opened]


def test_an_idle_timeout_ends_a_connection_whatever_else_the_input_holds():
    """Two exchanges 20 s apart with --idle-timeout 5: the connection ended between them only when another
    connection's capture came in between to move the clock (the Wireshark audit's finding 4). Its own gap decides,
    with or without others."""
    other = Tuple("10.0.0.1", 40001, "10.0.0.3", 443)
    mine = [cap(REQ, 1, 1 * S), cap(RESP, 0, 1 * S), cap(REQ, 1, 21 * S), cap(RESP, 0, 21 * S)]
    theirs = [cap(REQ, 1, 11 * S, fd=6, tup=other), cap(RESP, 0, 11 * S, fd=6, tup=other)]
    exchange = [b"GET / HTTP/1.1", b"HTTP/1.1 200 OK"]
    for caps in (mine, mine[:2] + theirs + mine[2:]):
        got = [c[1:] for c in _connections(run(caps, idle_timeout_ns=5 * S)) if c[0] == 40000]
        assert got == [(exchange, ["idle timeout"]), (exchange, ["end of input"])]


def test_an_idle_timeout_does_not_end_a_websocket_connection():
    """A WebSocket may be quiet for minutes: the idle timeout split one, its frames after the gap then read as
    HTTP in a new connection (the Wireshark audit's finding 3). Not ended by it, with or without other traffic."""
    other = Tuple("10.0.0.1", 40001, "10.0.0.3", 443)
    up = b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
    switching = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
    ws = [raw(up, 1, 1), raw(switching, 0, 1), raw(b"\x81\x05hello", 0, 2), raw(b"\x81\x05later", 0, 400)]
    theirs = [replace(cap(REQ, 1, 350 * S, fd=6, tup=other, form=PayloadForm.RAW), uuid=None)]
    for caps in (ws, ws[:3] + theirs + ws[3:]):
        got = [c[1:] for c in _connections(run(caps)) if c[0] == 40000]
        assert got == [([b"GET /ws HTTP/1.1", b"HTTP/1.1 101 Switching Protocols", b"\x81\x05hello",
                         b"\x81\x05later"], ["end of input"])]


def test_rendered_http1_framing_is_repaired_for_wire_but_raw_kept():
    gz_rendered = (b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 30\r\n\r\n" + b"x" * 50)
    ch = chunks(run([cap(REQ, 1, 1 * S), cap(gz_rendered, 0, 2 * S)]))
    assert ch[1].raw == gz_rendered
    assert b"Content-Length: 50\r\n" in ch[1].wire and b"Content-Encoding" not in ch[1].wire
    assert ch[1].notes


def test_v2_single_calls_keep_arrival_order_on_equal_times():
    # v2 headers have millisecond times: the 101 read and the client's first frame share one
    up_resp = b"HTTP/1.1 101 Switching Protocols\r\n\r\n"
    frame = b"\x81\x85abcd\x00\x00\x00\x00\x00"
    caps = [cap(REQ, 1, 5 * S, form=PayloadForm.RAW, uuid=None), cap(up_resp, 0, 6 * S, form=PayloadForm.RAW),
            cap(frame, 1, 6 * S, form=PayloadForm.RAW)]
    caps = [replace(c, uuid=None) for c in caps]
    assert [c.wire for c in chunks(run(caps))] == [REQ, up_resp, frame]


SETTINGS = b"\x00\x00\x06\x04\x00\x00\x00\x00\x00\x00\x03\x00\x00\x00\x64"  # server SETTINGS
H2_RESP = b"\x00\x00\x01\x01\x05\x00\x00\x00\x03\x88"  # HEADERS stream 3, :status 200 (indexed)
H2_REQ = b"\x00\x00\x03\x01\x05\x00\x00\x00\x05\x82\x84\x87"  # HEADERS stream 5: GET / https


def raw(payload, dt, t):
    return replace(cap(payload, dt, t * S, form=PayloadForm.RAW, uuid="u"), uuid=None)  # v2: single calls


def test_raw_http2_whose_start_was_missed_gets_a_marked_synthetic_preface():
    from ecq2pcap.payloads.h2 import PREFACE

    for caps in ([raw(H2_RESP, 0, 1)], [raw(H2_REQ, 1, 1), raw(H2_RESP, 0, 1)]):
        ch = chunks(run(caps))
        assert ch[0].direction is Direction.C2S and ch[0].wire.startswith(PREFACE) and ch[0].raw == b""
        assert "synthetic HTTP/2 connection preface" in ch[0].notes[0]
        assert [c.wire for c in ch[1:]] == [c.payload for c in caps]
        assert {c.protocol for c in ch} == {Protocol.HTTP2}


def test_no_synthetic_preface_for_http1_or_a_captured_start():
    from ecq2pcap.payloads.h2 import PREFACE

    assert len(chunks(run([raw(REQ, 1, 1)]))) == 1
    assert [c.wire for c in chunks(run([raw(PREFACE, 1, 1)]))] == [PREFACE]
    # the server's SETTINGS read before the client's preface write (v2 arrival order)
    got = [c.wire for c in chunks(run([raw(SETTINGS, 0, 1), raw(PREFACE + H2_REQ, 1, 1)]))]
    assert got == [SETTINGS, PREFACE + H2_REQ]


# -- pacing independence: direction comes from the events, not from when they are released


def test_server_settings_written_first_is_server_to_client_even_when_released_at_once():
    from ecq2pcap.payloads.h2 import PREFACE

    # nginx writes its SETTINGS before it reads the preface; the clock jumps past the
    # reorder window before the preface arrives (a burst, or a late flush)
    table = ConnectionTable(repair_http1=False)
    out = table.feed(raw(SETTINGS, 1, 1))
    out += table.advance(9 * S)
    out += table.feed(raw(PREFACE + H2_REQ, 0, 1))
    out += table.close_all()
    ch = chunks(out)
    assert [(c.direction, c.wire) for c in ch] == [(Direction.S2C, SETTINGS), (Direction.C2S, PREFACE + H2_REQ)]
    assert ch[0].conn.process_role == "server"


def test_captures_wait_for_the_role_before_their_direction_is_decided():
    # the first write tells nothing (a server greeting); the clock passes the reorder window
    # before the read that shows the process is the server: the write still goes s2c
    greeting = b"220 ready\r\n"
    table = ConnectionTable(repair_http1=False)
    out = table.feed(raw(greeting, 1, 1))
    out += table.advance(8 * S)
    assert chunks(out) == []  # waiting for the role, not released with a guess
    out += table.feed(raw(REQ, 0, 2))
    out += table.close_all()
    assert [(c.direction, c.wire) for c in chunks(out)] == [(Direction.S2C, greeting), (Direction.C2S, REQ)]


def test_role_wait_is_bounded_then_the_process_is_taken_as_the_client():
    table = ConnectionTable(repair_http1=False, adopt_window_ns=5 * S)
    table.feed(raw(b"\x01\x02\x03", 1, 1))
    out = table.advance(30 * S)
    assert [(c.direction, c.wire) for c in chunks(out)] == [(Direction.C2S, b"\x01\x02\x03")]


def test_connect_lines_do_not_move_the_clock():
    # a connect line's time is when it was received (another clock than the header times):
    # a late receive time must not release the data ahead of its reorder window
    table = ConnectionTable(repair_http1=False)
    out = table.feed(ConnectInfo("connect", pid=1, fd=5, tuple=T, timestamp_ns=1 * S))
    out += table.feed(cap(RESP, 0, 100 * S, form=PayloadForm.RAW))
    out += table.feed(ConnectInfo("connect", pid=9, fd=3, tuple=T, timestamp_ns=5000 * S))
    assert chunks(out) == [] and table.clock == 100 * S


def test_protocol_is_decided_once_by_the_connections_first_bytes():
    from ecq2pcap.payloads.h2 import PREFACE

    def protocols(caps):
        return [c.protocol for c in chunks(run(caps))]

    assert protocols([raw(REQ, 1, 1), raw(RESP, 0, 2)]) == [Protocol.HTTP1] * 2
    assert protocols([raw(PREFACE + H2_REQ, 1, 1), raw(RESP, 0, 2)]) == [Protocol.HTTP2] * 2
    assert protocols([raw(SETTINGS, 0, 1), raw(REQ, 1, 2)]) == [Protocol.HTTP2] * 2  # the server spoke first
    assert protocols([raw(b"\x16\x03 binary", 1, 1), raw(REQ, 1, 2)]) == [Protocol.UNKNOWN] * 2
    # an HTTP/2 dump is HTTP/2 (re-encoded) even on a connection that started as HTTP/1
    dump = b"\nFrame Type\t=>\tSETTINGS\nFrame StreamID\t=>\t0\nFrame Length\t=>\t0\n"
    got = protocols([cap(REQ, 1, 1 * S), cap(dump, 1, 2 * S, form=PayloadForm.H2_DUMP), cap(RESP, 0, 3 * S)])
    assert got[0] is Protocol.HTTP1 and got[-1] is Protocol.HTTP1 and Protocol.HTTP2 in got[1:-1]


