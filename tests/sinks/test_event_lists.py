"""Each sink given a fixture's flow events as lists at once (``handle_events``, as the pipeline gives them),
against one event at a time: the same pcapng and HAR bytes, whatever the lists' lengths."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from ecq2pcap.sinks.har import HarSink
from ecq2pcap.sinks.pcapng import PcapngSink
from tests.sinks.pcapng.test_sink import C2S, REQUEST, RESPONSE, S2C, T0, connection, exchange
from tests.support.flows import table_events

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def _pcapng(out):
    return PcapngSink(out, hosts=lambda conn: f"host{conn.id}.test")


def written(make, events, sizes) -> bytes:
    """What the sink ``make(out)`` writes for ``events`` handed on in lists of these sizes (the last list takes
    the rest), or one event at a time (``sizes`` None)."""
    out = io.BytesIO()
    sink = make(out)
    if sizes is None:
        for e in events:
            sink.handle(e)
    else:
        at = 0
        for size in (*sizes, len(events)):
            sink.handle_events(events[at:at + size])
            at += size
    sink.finish()
    return out.getvalue()


@pytest.mark.parametrize("name", ["v140_client.dump.jsonl.gz", "v2_server.frames.jsonl.gz"])
@pytest.mark.parametrize("make", [_pcapng, lambda out: HarSink(out, commit_interval=0)], ids=["pcapng", "har"])
def test_lists_at_once_make_what_one_event_at_a_time_makes(name, make):
    events = table_events(FIXTURES / name)
    expected = written(make, events, None)
    assert len(expected) > 1000
    for size in (2, 7):
        assert written(make, events, [size] * (len(events) // size)) == expected
    assert written(make, events, []) == expected


def test_a_list_of_events_written_at_once_is_the_events_one_by_one():
    """handle_events (the pipeline's way: one write a list) against handle: the same bytes, each
    connection's NRB just before its first packets, whatever the list mixes."""
    conns = [connection(id=i, server=(f"10.2.2.{i}", 8443)) for i in (1, 2, 3)]
    events = []
    for i, conn in enumerate(conns):
        events += exchange(conn, [(C2S, REQUEST), (S2C, RESPONSE[:300])], t=T0 + 10_000 * i)
    events.sort(key=lambda e: (e.time_ns % 10_000, e.conn.id))  # the three connections interleaved
    data = written(_pcapng, events, None)
    assert written(_pcapng, events, [4]) == data
    assert written(_pcapng, events, []) == data
    assert all(f"host{i}.test".encode() in data for i in (1, 2, 3))
