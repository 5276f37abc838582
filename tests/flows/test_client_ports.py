"""Which client port a connection is shown from when its 4-tuple is open in another (flows.client_ports)."""

from __future__ import annotations

from ecq2pcap.flows import ConnectionTable
from ecq2pcap.model import Capture, DataType, Opened, PayloadForm, Tuple
from ecq2pcap.report import Count, Report

GET = b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"


def _cap(pid, fd, port, t, server_port=443, server="10.0.0.2"):
    tup = Tuple("10.0.0.1", port, server, server_port)
    return Capture(pid=pid, tid=pid, comm="curl", fd=fd, data_type=DataType.WRITE, tuple=tup, timestamp_ns=t,
                   payload=GET, form=PayloadForm.HTTP1_RENDERED, ectype=1,
                   uuid=f"{pid}_{pid}_curl_{fd}_1_10.0.0.1:{port}-{server}:{server_port}")


def _opened(events):
    return [(e.conn.id, e.conn.client[1], e.conn.shown_client_port, e.conn.same_tuple_as) for e in events
            if type(e) is Opened]


def test_each_one_opened_while_its_tuple_is_open_gets_a_port_no_open_one_to_its_server_has():
    report = Report()
    table = ConnectionTable(report)
    events = []
    # a real connection from port 61000 to the server: the first port of the cycle is taken
    for pid, fd, port in [(400, 4, 61000), (400, 5, 50000), (400, 6, 50000), (401, 5, 50000)]:
        events += table.feed(_cap(pid, fd, port, 10**9))
    events += table.close_all()
    assert _opened(events) == [(1, 61000, 0, 0), (2, 50000, 0, 0), (3, 50000, 61001, 2), (4, 50000, 61002, 2)]
    assert report.counts[Count.TUPLE_SHARED] == 2
    assert table._from == {}  # (what it kept of the open connections went with them)


def test_a_moved_port_is_a_clash_for_a_real_connection_from_it():
    """The real connection from the port another was moved to, opened while that one is open: moved in its turn."""
    table = ConnectionTable(Report())
    events = []
    for pid, fd, port in [(400, 5, 50000), (400, 6, 50000), (400, 7, 61000)]:
        events += table.feed(_cap(pid, fd, port, 10**9))
    events += table.close_all()
    assert _opened(events) == [(1, 50000, 0, 0), (2, 50000, 61000, 1), (3, 61000, 61001, 2)]
    assert table._from == {}


def test_keep_port_only_for_another_port_of_its_own_server():
    """Three open from one client port: the second to another port of the first's server keeps its port (one
    shown port would make them one stream); the third, to another server, has no such clash (the two open from its
    client port already a list, which it joins: it is not one of the others it is compared with)."""
    table = ConnectionTable(Report())
    events = []
    for fd, server_port, server in [(4, 443, "10.0.0.2"), (5, 8443, "10.0.0.2"), (6, 443, "10.0.0.3")]:
        events += table.feed(_cap(400, fd, 50000, 10**9, server_port, server))
    events += table.close_all()
    assert [(e.conn.server, e.conn.keep_port) for e in events if type(e) is Opened] == [
        (("10.0.0.2", 443), False), (("10.0.0.2", 8443), True), (("10.0.0.3", 443), False)]
    assert table._from == {}
