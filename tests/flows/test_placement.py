"""Captures taken before eCapture knew their socket (protocol doc §3.3, §11.9, §11.15): on the
connection whose own calls follow on that (pid, fd), never on the one before. Here v1's unknown-tuple
events, the CLI's outputs of calls not placed, and what placement remembers; v2 data read before its
accept line is in test_placement_v2_lines.py, which uses the helpers here."""

import base64
import contextlib
import io
import json

import pytest

from ecq2pcap.cli import main
from ecq2pcap.flows import ConnectionTable
from ecq2pcap.flows.closing import alone_on_its_connection
from ecq2pcap.model import NOT_PLACED, Capture, Chunk, DataType, PayloadForm, Tuple
from ecq2pcap.report import Report
from ecq2pcap.summary import format_summary
from tests.conftest import run_tshark
from tests.support.har import validate_har

S = 1_000_000_000
T1 = Tuple("10.0.0.1", 40001, "10.0.0.2", 443)
T2 = Tuple("10.0.0.1", 40002, "10.0.0.2", 443)
REQ1 = b"GET /one HTTP/1.1\r\nHost: x\r\n\r\n"
REQ2 = b"GET /two HTTP/1.1\r\nHost: x\r\n\r\n"
RESP = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"
UPGRADE = b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
SWITCH = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
SETTINGS = b"\x00\x00\x06\x04\x00\x00\x00\x00\x00\x00\x03\x00\x00\x00\x80"  # SETTINGS, stream 0, not an ACK
H2_DATA = b"\x00\x00\x02\x00\x01\x00\x00\x00\x01hi"


def v1(payload, dt, ts, tup, *, form=PayloadForm.HTTP1_RENDERED, tid=7):
    """A v1 event of nginx (pid 7, fd 12): ``tup`` None gives the shared unknown-tuple uuid (of thread ``tid``)."""
    tail = f"{tup.src_ip}:{tup.src_port}-{tup.dst_ip}:{tup.dst_port}" if tup else "0.0.0.0:0-0.0.0.0:0"
    uuid = f"7_{tid}_nginx_12_{dt}_{tail}" if tup else f"sock:7_{tid}_nginx_12_{dt}_{tail}_0"
    return Capture(pid=7, tid=tid, comm="nginx", fd=12, data_type=DataType(dt), tuple=tup, timestamp_ns=ts,
                   payload=payload, form=form, ectype=None, uuid=uuid)


def v2(payload, dt, ts):
    """A v2 text event of nginx: no uuid, no tuple (it comes from the connect/accept lines)."""
    return Capture(pid=7, tid=7, comm="nginx", fd=12, data_type=DataType(dt), tuple=None, timestamp_ns=ts,
                   payload=payload, form=PayloadForm.RAW, ectype=None, uuid=None)


def run(records, report=None):
    table = ConnectionTable(report=report)
    events = []
    for r in records:
        events += table.feed(r)
    return events + table.close_all()


def placed(events):
    """[(client port, direction, first bytes)] of every chunk, in emission order."""
    return [(e.conn.client[1], e.direction.name, e.wire[:8]) for e in events if isinstance(e, Chunk)]


def test_unknown_tuple_call_goes_to_the_next_connection_on_the_fd_not_the_previous():
    # connection 1 is open on fd 12; connection 2's request is read before eCapture knows its socket
    # (same whole second, v1.4), and arrives after connection 2's own response
    report = Report()
    events = run([v1(REQ1, 0, 10 * S, T1), v1(RESP, 1, 10 * S, T1),
                  v1(RESP, 1, 12 * S, T2), v1(REQ2, 0, 12 * S, None)], report)
    assert placed(events) == [(40001, "C2S", REQ1[:8]), (40001, "S2C", RESP[:8]),
                              (40002, "C2S", REQ2[:8]), (40002, "S2C", RESP[:8])]
    note = [e.info.notes for e in events if isinstance(e, Chunk) and e.wire.startswith(REQ2)][0]
    assert any("before eCapture knew its socket" in n for n in note)
    assert report.counts["before_tuple_placed"] == 1
    assert "1 placed on the connection whose calls follow" in format_summary(report)


def test_a_second_unknown_tuple_event_in_the_same_second_waits_for_the_next_connection():
    # v1.4 (whole seconds, a busy server on a reused fd): connection 1's request came under the unknown-tuple uuid,
    # its response under its tuple; connection 2's request, read within the same second, comes under the unknown
    # uuid again (a second flush of that uuid: a later connection's) before connection 2's own response
    report = Report()
    events = run([v1(REQ1, 0, 10 * S, None), v1(RESP, 1, 10 * S, T1),
                  v1(REQ2, 0, 10 * S, None), v1(RESP, 1, 10 * S, T2)], report)
    by_port = {}
    for port, direction, head in placed(events):
        by_port.setdefault(port, []).append((direction, head))
    assert by_port == {40001: [("C2S", REQ1[:8]), ("S2C", RESP[:8])], 40002: [("C2S", REQ2[:8]), ("S2C", RESP[:8])]}
    assert report.counts["before_tuple_placed"] == 2 and report.counts["before_tuple_unplaced"] == 0


def test_a_connections_own_unknown_tuple_event_after_its_response_in_the_same_second_stays_on_it():
    # (its unknown-tuple worker flushed after the response's: the first such event of the connection is its own)
    events = run([v1(RESP, 1, 10 * S, T1), v1(REQ1, 0, 10 * S, None),
                  v1(REQ2, 0, 13 * S, None), v1(RESP, 1, 13 * S, T2)])
    assert placed(events) == [(40001, "C2S", REQ1[:8]), (40001, "S2C", RESP[:8]),
                              (40002, "C2S", REQ2[:8]), (40002, "S2C", RESP[:8])]


def test_both_directions_unknown_tuple_events_in_the_same_second_stay_together():
    # (one unknown-tuple uuid per direction: the upgrade request and its 101 are two uuids' first events, §11.9)
    events = run([v1(REQ1, 0, 10 * S, T1), v1(RESP, 1, 10 * S, T1),
                  v1(b"\x81\x02hi", 1, 16 * S, T2, form=PayloadForm.RAW), v1(SWITCH, 1, 16 * S, None),
                  v1(UPGRADE, 0, 16 * S, None), v1(RESP, 1, 17 * S, Tuple("10.0.0.1", 40003, "10.0.0.2", 443))])
    assert [h for p, _, h in placed(events) if p == 40002] == [UPGRADE[:8], SWITCH[:8], b"\x81\x02hi"]


TWO_EXCHANGES = [(40001, "C2S", REQ1[:8]), (40001, "S2C", RESP[:8]), (40002, "C2S", REQ2[:8]), (40002, "S2C", RESP[:8])]


# A pool of threads (one unknown-tuple uuid per thread, §11.15): the same second's connections on the fd are told
# apart by direction. A connection's first calls in a direction before eCapture knew its socket are one burst of
# one thread (the accept is processed within milliseconds), so they make one unknown-tuple event, not two.


def test_pool_an_unknown_tuple_event_of_another_thread_in_the_same_second_waits_for_the_next_connection():
    # connection 1's request (thread 8) came under the unknown-tuple uuid; connection 2's (thread 9), read in the
    # same second, came under that thread's, before connection 2's own response: it went on connection 1
    events = run([v1(REQ1, 0, 10 * S, None, tid=8), v1(RESP, 1, 10 * S, T1, tid=8),
                  v1(REQ2, 0, 10 * S, None, tid=9), v1(RESP, 1, 11 * S, T2, tid=9)])
    assert sorted(placed(events)) == TWO_EXCHANGES


def test_pool_two_held_unknown_tuple_events_of_one_direction_go_to_two_connections():
    # (both held before either connection's own captures came: the first connection takes one, not both)
    events = run([v1(REQ1, 0, 10 * S, None, tid=8), v1(REQ2, 0, 10 * S, None, tid=9),
                  v1(RESP, 1, 10 * S, T1, tid=8), v1(RESP, 1, 11 * S, T2, tid=9)])
    assert sorted(placed(events)) == TWO_EXCHANGES


def test_pool_of_two_connections_starting_in_the_same_second_the_one_without_that_direction_takes_it():
    # connection 1 read its request under its tuple; connection 2 (thread 9) read its own before eCapture knew its
    # socket: of the two that start in that second, it is connection 2's (connection 1, the older, was given it)
    events = run([v1(REQ1, 0, 10 * S, T1, tid=8), v1(RESP, 1, 10 * S, T1, tid=8),
                  v1(RESP, 1, 10 * S, T2, tid=9), v1(REQ2, 0, 10 * S, None, tid=9)])
    assert sorted(placed(events)) == TWO_EXCHANGES


def test_an_unknown_tuple_event_after_the_connections_own_of_its_direction_waits_for_the_next():
    # (eCapture's flush order on a busy server: connection 1 read and answered its request under its tuple; the next
    # connection's first read, before eCapture knew its socket, is flushed before its own response, in the same
    # second: connection 1, which already has a read of its own then, was given it)
    events = run([v1(REQ1, 0, 10 * S, T1), v1(RESP, 1, 10 * S, T1), v1(REQ2, 0, 10 * S, None),
                  v1(RESP, 1, 10 * S, T2)])
    assert sorted(placed(events)) == TWO_EXCHANGES


AB1 = b"GET /one HTTP/1.0\r\nHost: x\r\nUser-Agent: ApacheBench/2.3\r\nAccept: */*\r\n\r\n"
AB2 = b"GET /two HTTP/1.0\r\nHost: x\r\nUser-Agent: ApacheBench/2.3\r\nAccept: */*\r\n\r\n"
LAST1 = b"GET /one HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


@pytest.mark.parametrize("next_in", [11, None], ids=["next a second later", "no next"])
def test_a_request_is_not_given_back_to_a_connection_whose_own_request_was_alone_on_it(next_in):
    """ab against a v1.4 server (HTTP/1.0 without keep-alive: one request a connection), eCapture's flush order:
    connection 1 read its request under its tuple; the next connection's request, read in the same second before
    eCapture knew its socket, comes after it, and that connection's own response only in the next second. It went
    back to connection 1 (§11.15's fallback, for a connection's own first calls flushed late), which then held two
    requests, and the next connection's response had none (the audit's ab generator: 15, 19 and 21 of ~520 such
    requests misplaced with a pool of threads, 9, 12, 10 with one; now 5, 8, 13 and 5, 5, 4). A client that sends
    HTTP/1.0 without keep-alive sends no other request on that connection: it waits for the next connection, and
    goes to connection 1 only when none comes. (Connections keep their first request for this only on a (pid, fd)
    that had unknown-tuple captures before, here connection 0's: ~0.5 % of a conversion otherwise.)"""
    t0 = Tuple("10.0.0.1", 40000, "10.0.0.2", 443)
    records = [v1(AB1, 0, 5 * S, None), v1(RESP, 1, 5 * S, t0),
               v1(AB1, 0, 10 * S, T1), v1(RESP, 1, 10 * S, T1), v1(AB2, 0, 10 * S, None)]
    if next_in:
        records.append(v1(RESP, 1, next_in * S, T2))
    got = sorted(p for p in placed(run(records)) if p[0] != 40000)
    if next_in:
        assert got == [(40001, "C2S", AB1[:8]), (40001, "S2C", RESP[:8]), (40002, "C2S", AB2[:8]),
                       (40002, "S2C", RESP[:8])]
    else:
        assert got == [(40001, "C2S", AB1[:8]), (40001, "C2S", AB2[:8]), (40001, "S2C", RESP[:8])]


def test_a_request_goes_back_to_a_connection_whose_own_request_closed_it_after_others():
    """The same with ``Connection: close`` on connection 1's request: a keep-alive client may send it on its last
    request, and its first, read before eCapture knew the socket and flushed after it, is this one: §11.15's
    fallback stands (with it, the audit's fast keep-alive generator closing on each last request misplaced 15,
    15, 13 instead of 4, 6, 3)."""
    events = run([v1(LAST1, 0, 10 * S, T1), v1(RESP, 1, 10 * S, T1), v1(REQ2, 0, 10 * S, None),
                  v1(RESP, 1, 11 * S, T2)])
    assert sorted(placed(events)) == [(40001, "C2S", LAST1[:8]), (40001, "C2S", REQ2[:8]), (40001, "S2C", RESP[:8]),
                                      (40002, "S2C", RESP[:8])]


@pytest.mark.parametrize("head, alone", [
    (AB1, True),
    (b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", False),
    (LAST1, False),
    (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", False),
    (b"GET / HTTP/1.0\r\nHost: x\r\n", False),  # its head not whole: its Connection header may follow
])
def test_alone_on_its_connection(head, alone):
    assert alone_on_its_connection(head) is alone


@pytest.mark.parametrize("next_first", [False, True, None], ids=["next comes after", "next came before", "none"])
def test_a_connections_own_unknown_tuple_events_after_its_first_frames_stay_on_it(next_first):
    # (the server fixture's WebSocket: its first frames, sent right after the 101, flushed under its tuple before the
    # 101 and the upgrade under the unknown-tuple uuid; the next connection on the fd starts a second later)
    frame = b"\x81\x02hi"
    records = [v1(frame, 1, 16 * S, T1, form=PayloadForm.RAW), v1(SWITCH, 1, 16 * S, None),
               v1(frame, 0, 16 * S, T1, form=PayloadForm.RAW), v1(UPGRADE, 0, 16 * S, None)]
    after = v1(RESP, 1, 17 * S, T2)
    if next_first is None:  # (no next connection: held until the end of input, then given back)
        events = run(records)
    else:
        events = run([records[0], records[2], after, records[1], records[3]] if next_first else records + [after])
    assert [h for p, _, h in placed(events) if p == 40001] == [UPGRADE[:8], SWITCH[:8], frame, frame]
    assert [h for p, _, h in placed(events) if p == 40002] == ([] if next_first is None else [RESP[:8]])


def test_a_second_unknown_tuple_event_no_connection_follows_still_joins_the_one_before():
    events = run([v1(REQ1, 0, 10 * S, None), v1(RESP, 1, 10 * S, T1), v1(REQ2, 0, 10 * S, None)])
    assert sorted(placed(events)) == sorted([(40001, "C2S", REQ1[:8]), (40001, "S2C", RESP[:8]),
                                             (40001, "C2S", REQ2[:8])])


def test_unknown_tuple_call_waits_for_the_connection_that_follows_it():
    # the unknown-tuple upgrade arrives before any real-tuple event of its connection
    events = run([v1(REQ1, 0, 10 * S, T1), v1(RESP, 1, 10 * S, T1),
                  v1(UPGRADE, 0, 20 * S, None), v1(SWITCH, 1, 20 * S, None),
                  v1(b"\x81\x02hi", 0, 21 * S, T2, form=PayloadForm.RAW)])
    ws_conn = [p for p in placed(events) if p[0] == 40002]
    assert ws_conn == [(40002, "C2S", UPGRADE[:8]), (40002, "S2C", SWITCH[:8]), (40002, "C2S", b"\x81\x02hi")]


def test_unknown_tuple_with_no_later_connection_joins_the_one_before():
    # (a late first call of the connection itself, §11.9): nothing followed on the fd
    events = run([v1(RESP, 1, 10 * S, T1), v1(REQ1, 0, 9 * S, None)])
    assert {p[0] for p in placed(events)} == {40001}


def test_unknown_tuple_never_resolved_on_a_reused_fd_is_marked_not_placed():
    # connection 1 closed long ago (idle); then calls no connection ever claims
    report = Report()
    events = run([v1(REQ1, 0, 10 * S, T1), v1(RESP, 1, 10 * S, T1),
                  v1(REQ2, 0, 900 * S, None), v1(RESP, 1, 900 * S, None)], report)
    late = [e for e in events if isinstance(e, Chunk) and e.time_ns == 900 * S]
    assert len(late) == 2 and all(not e.conn.tuple_known for e in late)
    assert all(any(n.startswith(NOT_PLACED) for n in e.info.notes) for e in late)
    assert report.counts["before_tuple_unplaced"] == 2


def test_a_connection_that_never_had_a_tuple_is_just_that():
    # (no other connection on the fd: its endpoints are invented, its bytes are not "unplaced")
    report = Report()
    events = run([v1(REQ1, 1, 10 * S, None), v1(RESP, 0, 10 * S, None)], report)
    ch = [e for e in events if isinstance(e, Chunk)]
    assert len(ch) == 2 and all(not e.conn.tuple_known for e in ch)
    assert not any(n.startswith(NOT_PLACED) for e in ch for n in e.info.notes)
    assert report.counts["before_tuple_unplaced"] == 0


def _v14_line(ts: int, uuid: str, pid: int, ectype: int, payload: bytes) -> str:
    b64 = base64.b64encode(payload).decode()
    return json.dumps({"log_type": 2, "payload": {
        "timestamp": ts, "uuid": uuid, "src_ip": "", "src_port": 0, "dst_ip": "", "dst_port": 0, "pid": pid,
        "pname": "nginx", "type": ectype, "length": len(b64), "payload_base64": b64}})


def test_not_placed_calls_say_so_in_every_output(tmp_path, tshark):
    """Through the CLI: a connection on fd 12 ends; much later calls under the shared unknown-tuple uuid
    that no connection claims: HAR _error, packet comment, summary line."""

    known, unknown = "7_7_nginx_12_{}_10.0.0.1:40001-10.0.0.2:443", "sock:7_7_nginx_12_{}_0.0.0.0:0-0.0.0.0:0_0"
    lines = [_v14_line(1795800000, known.format(0), 7, 1, REQ1), _v14_line(1795800000, known.format(1), 7, 3, RESP),
             _v14_line(1795801000, unknown.format(0), 7, 1, REQ2), _v14_line(1795801000, unknown.format(1), 7, 3, RESP)]
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(lines) + "\n")
    pcap, har = tmp_path / "out.pcapng", tmp_path / "out.har"
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main(["convert", str(src), "-w", str(pcap), "--har", str(har)]) == 0
    doc = json.loads(har.read_text())
    validate_har(doc)
    by_path = {e["request"]["url"].rsplit("/", 1)[1]: e for e in doc["log"]["entries"]}
    assert set(by_path) == {"one", "two"}
    assert "_error" not in by_path["one"]
    assert by_path["two"]["_error"].startswith(NOT_PLACED)
    comments = run_tshark(tshark, pcap, "-Y", "http.request", "-T", "fields", "-e", "http.request.uri",
                          "-e", "frame.comment")
    rows = dict(line.split("\t", 1) for line in comments.splitlines())
    assert NOT_PLACED in rows["/two"] and NOT_PLACED not in rows["/one"]
    assert "2 not placed" in err.getvalue()


def test_closed_connections_are_forgotten():
    # one connection per process (curl): what placement remembers stays with the open connections
    from ecq2pcap.limits import Limits

    table = ConnectionTable(limits=Limits(open_connections=10))
    for i in range(300):
        tup = Tuple("10.0.0.1", 1000 + i, "10.0.0.2", 443)
        cap = Capture(pid=100 + i, tid=1, comm="curl", fd=5, data_type=DataType.WRITE, tuple=tup,
                      timestamp_ns=i * S, payload=REQ1, form=PayloadForm.HTTP1_RENDERED, ectype=None,
                      uuid=f"{100 + i}_1_curl_5_1_x")
        table.feed(cap)
    assert len(table._placement._recent) <= 20  # the open ones (and those still in the reorder buffer)
    table.close_all()
    assert not table._placement._recent


def test_a_reused_fd_remembers_its_last_few_connections_only():
    # one process, one fd, many connections in turn (a keep-alive pool reopening on the same fd):
    # placement keeps the latest RECENT, newest last, however many came before
    from ecq2pcap.flows.placement import RECENT, Placement

    class Conn:
        def __init__(self, n):
            self.group, self.n = (7, 5), n

    placement = Placement()
    conns = [Conn(n) for n in range(3 * RECENT)]
    for c in conns:
        placement.track(c)
    assert [c.n for c in placement._recent[(7, 5)]] == [c.n for c in conns[-RECENT:]]
    for c in conns[-RECENT:]:
        placement.forget(c)
    assert (7, 5) not in placement._recent and placement.had_connections((7, 5))


def test_connect_lines_remembered_are_bounded_the_oldest_forgotten(monkeypatch):
    """v2 connect lines are forgotten by capture time once their connection is gone, but a burst of lines with no
    data (processes that send none, §11.2) has no time to go by: 300k lines kept 168 MB. At most KNOWN_KEPT are
    kept, the oldest line forgotten first; a (pid, fd) whose line comes again is the latest."""
    from ecq2pcap.flows import placement

    monkeypatch.setattr(placement, "KNOWN_KEPT", 100)
    p = placement.Placement()
    for i in range(150):
        p.learn(7, i, Tuple("10.0.0.1", 1000 + i, "10.0.0.2", 443), 0)
        if i == 120:
            p.learn(7, 10, T1, 0)  # fd 10's line again: kept
    assert len(p._known) == 100
    assert p.tuple_of(7, 149).src_port == 1149 and p.tuple_of(7, 10) == T1
    assert p.tuple_of(7, 0) is None and p.tuple_of(7, 49) is None
