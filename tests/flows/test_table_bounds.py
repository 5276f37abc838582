"""The connection table's bounds: a reorder buffer that fills (captures go on early, and one that comes later says
so), the captures waiting for their role, the deadline heap, the end of input in batches, floods of tiny captures,
connections a reused fd ended. (Split from test_table.py.)"""

import pytest
from msgspec.structs import replace

from ecq2pcap.flows import ConnectionTable
from ecq2pcap.model import Closed, ConnectInfo, Direction, Opened, PayloadForm, Tuple

from .test_table import REQ, RESP, S, cap, chunks, raw, run


def test_past_the_reorder_buffer_the_oldest_captures_go_on_early():
    """v1.4 times are whole seconds, and a capture's times can stand still: every capture of a busy second was
    held to be put in order (a 100 MB second took 600 MB). Past --max-reorder-buffer the oldest go on at once,
    down to half of it; one older than those that comes later is placed out of order, and says so."""
    from ecq2pcap.limits import HELD_COST, Limits
    from ecq2pcap.report import Report

    def req(i):
        return b"GET /%d HTTP/1.1\r\nHost: x\r\n\r\n" % i

    report = Report()
    table = ConnectionTable(report, repair_http1=False, limits=Limits(reorder_buffer=4 * (len(req(0)) + HELD_COST)))
    released = []
    for i in range(4):  # (the buffer holds four)
        released += chunks(table.feed(cap(req(i), 1, 100 * S + i)))
    assert released == []
    released = chunks(table.feed(cap(req(4), 1, 100 * S + 4)))  # over it: down to half
    assert [c.wire for c in released] == [req(0), req(1), req(2)] and all(c.info.notes == () for c in released)
    late = chunks(table.feed(cap(req(5), 1, 100 * S)) + table.close_all())
    assert any("arrived 0.000 s after later data: placed here" in n for c in late for n in c.info.notes)
    [(reason, n)] = report.warnings.items()
    assert "shorter window" in reason and n == 1 and report.limits["--max-reorder-buffer"] == 1


def test_a_request_that_comes_after_its_response_went_on_early_says_so():
    """v1.4 times are whole seconds: a request and its response share one, and the request goes first. When the
    response went on early (--max-reorder-buffer) and its request comes after, the request is placed after it: no
    "late" note can say so (the times are equal), so a note of its own does. A capture of the same rank and way
    as those released early keeps its arrival order, and says nothing."""
    from ecq2pcap.limits import Limits
    from ecq2pcap.report import Report

    report = Report()
    table = ConnectionTable(report, limits=Limits(reorder_buffer=3 * len(RESP)))
    out = []
    for _ in range(4):  # responses of one second, over the buffer: the oldest go on early
        out += table.feed(cap(RESP, 0, 100 * S))
    assert chunks(out)
    out += table.feed(cap(REQ, 1, 100 * S))  # their request, after them
    out += table.feed(cap(RESP, 0, 100 * S))
    out += table.close_all()
    noted = [(c.direction, c.wire) for c in chunks(out) if any("went on early" in n for n in c.info.notes)]
    assert noted == [(Direction.C2S, REQ)]
    assert report.counts["late_events"] == 1
    (closed,) = [e for e in out if isinstance(e, Closed)]
    assert any("1 event(s) arrived after later data" in n for n in closed.notes)


def test_captures_waiting_for_their_connections_role_are_bounded_all_together():
    """Bytes that do not tell which end eCapture hooked wait for up to 4 MiB a connection, or 10 s of capture
    time (never, when the times stand still): thousands of connections could hold GBs. Past
    --max-reorder-buffer all together, the connection waiting longest goes on with the default role."""
    from ecq2pcap.limits import HELD_COST, Limits
    from ecq2pcap.report import Report

    report = Report()
    blob = bytes(range(256)) * 4  # (tells nothing: not HTTP, not TLS)
    table = ConnectionTable(report, limits=Limits(reorder_buffer=3 * (len(blob) + HELD_COST)))
    out = []
    for i in range(6):
        tup = Tuple("10.0.0.1", 40000 + i, "10.0.0.2", 5432)
        out += table.feed(cap(blob, i % 2, 100 * S, tup=tup, form=PayloadForm.RAW))
        assert table._unroled_bytes <= 3 * (len(blob) + HELD_COST)
    assert report.warnings["connection's role settled early"] == 3
    assert report.limits["--max-reorder-buffer"] >= 3
    out += table.close_all()
    assert len(chunks(out)) == 6


def test_a_request_read_in_pieces_does_not_tell_the_role_wrong_nor_go_after_its_answer():
    """A server reads a request in pieces, all in one millisecond (v2: one event per read): "G", "ET /x0 ",
    "HTTP/1.1\\r\\n..." (the busy-server audit's finding 2). The last piece was read as a status line: the process
    taken for the client, the connection's HTTP lost to the HAR; and when the response told the role, it came out
    before the pieces that waited for it. The role is the server's, the pieces first, in their order."""
    pieces = [b"G", b"ET /x0 ", b"HTTP/1.1\r\nHost: h\r\n\r\n"]
    caps = [raw(p, 0, 5) for p in pieces] + [raw(RESP, 1, 5)]  # (0: read, 1: written)
    events = run(caps)
    (opened,) = [e for e in events if isinstance(e, Opened)]
    assert opened.conn.process_role == "server"
    assert [(c.direction, c.wire) for c in chunks(events)] == [(Direction.C2S, p) for p in pieces] + [
        (Direction.S2C, RESP)]


def _one_second_of_connections(n, fd=5, dt=1, payload=REQ, tup=True):
    """``n`` connections of one process, all in one second (v1.4's whole seconds, a busy server): one capture each
    (``tup`` False: under the unknown-tuple uuid, each on its own fd)."""
    for i in range(n):
        t = Tuple("10.1.%d.%d" % (i // 250, i % 250 + 1), 40000, "10.0.0.2", 443)
        if tup:
            yield cap(payload, dt, 5 * S, fd=fd, tup=t)
        else:
            yield cap(payload, dt, 5 * S, fd=100 + i, tup=None,
                      uuid=f"sock:1_1_curl_{100 + i}_{dt}_0.0.0.0:0-0.0.0.0:0_0")


def test_connections_that_ended_are_not_kept_by_the_deadline_heap(monkeypatch):
    """On a reused fd each connection is superseded by the next; in a busy second whose times stand still the open
    limit ends them, but the sweep's deadline heap kept an entry of each until the clock passed it: every connection
    of the second stayed in memory (60k: 180 MB). Entries past twice the connections known are dropped early."""
    from ecq2pcap.flows import lifecycle
    from ecq2pcap.limits import HELD_COST, Limits

    monkeypatch.setattr(lifecycle, "DEADLINES_SLACK", 64)
    table = ConnectionTable(limits=Limits(open_connections=16, reorder_buffer=50 * (len(REQ) + HELD_COST)),
                            repair_http1=False)
    events = []
    for c in _one_second_of_connections(3000):
        events += table.feed(c)
        assert len(table._deadlines) <= 400  # (~66 connections known at a time: 50 held, 16 open; before: 2 a connection)
    assert sum(isinstance(e, Closed) for e in events) > 2500  # (ended by the open limit, superseded)
    events += table.close_all()
    assert len(chunks(events)) == 3000 and sum(isinstance(e, Closed) for e in events) == 3000


def test_the_end_of_input_comes_out_in_batches_the_same_events():
    """Everything the table holds comes out at the end of input (a busy second: hundreds of thousands of captures);
    the pipeline takes it in batches, so that the events and the connections they open do not all exist at once."""
    caps = list(_one_second_of_connections(1000))
    whole = run(caps, repair_http1=False)
    table = ConnectionTable(repair_http1=False)
    events = [e for c in caps for e in table.feed(c)]
    batches = list(table.close_all_batches(size=100))
    assert all(len(b) <= 100 for b in batches) and len(batches) > 20
    assert [(type(e), getattr(e, "wire", None)) for e in events + [e for b in batches for e in b]] == [
        (type(e), getattr(e, "wire", None)) for e in whole]


@pytest.mark.parametrize("shape", ["reorder", "role", "placement"])
def test_a_flood_of_tiny_captures_is_held_by_its_objects_not_only_its_payload(shape):
    """1-byte captures counted by their payload alone let a flood of them in one second (times that stand still) be
    held without bound: 80k took 150–560 MB. Each counts 2 KiB more for the objects that hold it (limits.HELD_COST),
    in the reorder buffer, among those waiting for their role, and those of many (pid, fd)s waiting for their
    connection (all together: --max-reorder-buffer; one alone is held to --max-connection-buffer)."""
    from ecq2pcap.limits import HELD_COST, Limits
    from ecq2pcap.report import Report

    report = Report()
    cost = 1 + HELD_COST if shape != "reorder" else len(REQ) + HELD_COST
    limits = Limits(reorder_buffer=200 * cost)
    table = ConnectionTable(report, limits=limits, repair_http1=False)
    caps = {"reorder": _one_second_of_connections(1000),
            "role": _one_second_of_connections(1000, payload=b"x"),  # (one byte tells no role)
            "placement": _one_second_of_connections(1000, dt=0, payload=b"x", tup=False)}[shape]
    out = []
    for c in caps:
        out += table.feed(c)
        held = table._heap_bytes if shape == "reorder" else (
            table._unroled_bytes if shape == "role" else table._placement.held_bytes)
        assert held <= 200 * cost
    assert out and report.limits["--max-reorder-buffer"]
    assert len(chunks(out + table.close_all())) == 1000


@pytest.mark.parametrize("reused", [True, False], ids=["one fd reused", "an fd each"])
def test_connections_a_reused_fd_ended_do_not_reach_the_open_limit(reused):
    """nginx (§11.12): one fd for every connection, each ended by the next accept line and kept a while for its
    late captures. A busy stretch of them (6,000 in 0.6 s) reached --max-connections: 1,904 'ended early (too many
    open)' warnings and FIN comments, and 'limits reached' in the summary, for connections that had ended anyway
    (audit 41). An ended one the limit reaches ends with its own reason; connections really open still say so."""
    from ecq2pcap.limits import Limits
    from ecq2pcap.report import Report

    report = Report()
    table, events = ConnectionTable(report, limits=Limits(open_connections=8), repair_http1=False), []
    for i in range(40):
        fd = 12 if reused else 100 + i
        tup = Tuple("10.0.0.9", 50000 + i, "10.0.0.2", 443)
        events += table.feed(ConnectInfo("connect", pid=1, fd=fd, tuple=tup, timestamp_ns=S + i * 1000))
        for dt, payload in ((0, REQ), (1, RESP)):
            events += table.feed(replace(cap(payload, dt, S + i * 1000 + 100 + dt, fd=fd, tup=None,
                                             form=PayloadForm.RAW), uuid=None))
    events += table.close_all()
    reasons = [e.reason for e in events if isinstance(e, Closed)]
    assert len(reasons) == 40 and len(chunks(events)) == 80
    if reused:
        assert "too many open connections" not in reasons and not report.limits and not report.warnings
    else:
        assert reasons.count("too many open connections") == 32 and report.limits["--max-connections"] == 32


def test_the_reorder_buffers_warning_names_the_first_capture_it_released_early():
    """(It had no FILE:LINE: the README states each limit that bites where it does.)"""
    from ecq2pcap.limits import HELD_COST, Limits
    from ecq2pcap.report import Report

    said = []
    report = Report(emit=said.append)
    size = len(b"GET /0 HTTP/1.1\r\nHost: x\r\n\r\n") + HELD_COST
    table = ConnectionTable(report, repair_http1=False, limits=Limits(reorder_buffer=4 * size))
    for i in range(5):
        table.feed(replace(cap(b"GET /%d HTTP/1.1\r\nHost: x\r\n\r\n" % i, 1, 100 * S + i), origin=f"in.jsonl:{i + 1}"))
    (line,) = [s for s in said if "shorter window" in s]
    assert line.startswith("in.jsonl:1: ")


def test_a_connection_whose_bytes_both_ways_tell_no_role_goes_on_in_time_order():
    """Binary bytes both ways (a database's protocol in TLS) never tell which end was hooked: they waited the adopt
    window (10 s) and then went on behind seconds of newer captures, a pcapng out of time order. They now go on
    once their reorder window passed; bytes one way only (a server's greeting) still wait for the answer."""
    other = Tuple("10.0.0.1", 40001, "10.0.0.2", 443)
    table = ConnectionTable(repair_http1=False)
    out = table.feed(cap(b"\x01\x02\x03", 1, 1 * S, fd=5, form=PayloadForm.RAW))
    out += table.feed(cap(b"\x04\x05\x06", 0, 1 * S + 1000, fd=5, form=PayloadForm.RAW))
    for i in range(2, 9):  # another connection's exchange every second
        out += table.feed(cap(REQ, 1, i * S, fd=6, tup=other))
        out += table.feed(cap(RESP, 0, i * S + 500, fd=6, tup=other))
    out += table.close_all()
    times = [c.time_ns for c in chunks(out)]
    assert times == sorted(times)
    assert [c.wire for c in chunks(out)][:2] == [b"\x01\x02\x03", b"\x04\x05\x06"]
