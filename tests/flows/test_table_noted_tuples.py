"""A tuple eCapture gave that cannot be written as it is (:class:`~ecq2pcap.model.NotedTuple`, made by
:func:`ecq2pcap.uuids.tuple_of`): its connection gets invented endpoints when an address in it is no IP address, the
addresses without their zone id when that is all; said at its first capture and in its Connection (for the SYN's
comment). End to end through the CLI and tshark: tests/test_noted_tuples_e2e.py."""

from __future__ import annotations

from msgspec.structs import replace

from ecq2pcap.flows import ConnectionTable
from ecq2pcap.flows.table import UNUSABLE_TUPLE, ZONE_LEFT_OUT
from ecq2pcap.model import NotedTuple, Opened
from ecq2pcap.report import Report
from ecq2pcap.uuids import parse_tuple

from .test_table import REQ, RESP, S, cap, chunks

BAD = parse_tuple("999.0.0.1:5000-10.1.0.1:443")
OTHER_BAD = parse_tuple("[zz::1]:5000-[::2]:443")
ZONED = parse_tuple("[fe80::1%eth0]:5000-[fe80::2]:443")


def _run(caps):
    said: list[str] = []
    table = ConnectionTable(Report(emit=said.append), repair_http1=False)
    events = []
    for i, c in enumerate(caps, 1):
        events += table.feed(replace(c, origin=f"d:{i}"))
    return events + table.close_all(), said


def test_a_tuple_without_ip_addresses_is_its_connections_key_with_invented_endpoints():
    assert type(BAD) is NotedTuple and BAD.unusable
    events, said = _run([cap(REQ, 1, 1 * S, tup=BAD), cap(RESP, 0, 2 * S, tup=BAD)])
    (conn,) = [e.conn for e in events if isinstance(e, Opened)]
    assert conn.client[0].startswith("192.0.2.") and conn.server[0].startswith("198.51.100.")
    assert not conn.tuple_known and conn.synthetic_reason == BAD.note and conn.tuple_note is None
    assert [c.wire for c in chunks(events)] == [REQ, RESP] and all(c.conn is conn for c in chunks(events))
    assert said == [f"d:1: warning: {UNUSABLE_TUPLE}: {BAD.note}"]  # (once, at its first capture)


def test_another_unusable_tuple_on_the_fd_is_another_connection():
    events, said = _run([cap(REQ, 1, 1 * S, tup=BAD), cap(RESP, 0, 2 * S, tup=BAD),
                         cap(REQ, 1, 30 * S, tup=OTHER_BAD), cap(RESP, 0, 31 * S, tup=OTHER_BAD)])
    a, b = [e.conn for e in events if isinstance(e, Opened)]
    assert (a.synthetic_reason, b.synthetic_reason) == (BAD.note, OTHER_BAD.note) and a.client != b.client
    assert [(c.conn, c.wire) for c in chunks(events)] == [(a, REQ), (a, RESP), (b, REQ), (b, RESP)]
    assert len(said) == 2


def test_a_zone_id_is_left_out_and_said():
    events, said = _run([cap(REQ, 1, 1 * S, tup=ZONED), cap(RESP, 0, 2 * S, tup=ZONED)])
    (conn,) = [e.conn for e in events if isinstance(e, Opened)]
    assert (conn.client, conn.server) == (("fe80::1", 5000), ("fe80::2", 443))
    assert conn.tuple_known and conn.synthetic_reason is None and conn.tuple_note == ZONED.note
    assert said == [f"d:1: warning: {ZONE_LEFT_OUT}: {ZONED.note}"]
