"""ecq2pcap.batches: a ``convert -j`` worker gets back, field for field, the events worker 0 sent."""

from __future__ import annotations

import pytest

from ecq2pcap.batches import BatchReader, BatchWriter
from ecq2pcap.model import Captured, Chunk
from tests.support.flows import table_events
from tests.support.golden import inputs


@pytest.mark.parametrize("normalize", [True, False], ids=["chunks", "captured"])
@pytest.mark.parametrize("path", inputs(), ids=lambda p: p.name)
def test_round_trip_keeps_every_field(path, normalize):
    events = table_events(path, normalize=normalize)
    assert events and any(type(e) is (Chunk if normalize else Captured) for e in events)
    groups = [(f"v{j}", list(enumerate(events[j:j + 7], j))) for j in range(0, len(events), 7)]
    writer, reader = BatchWriter(), BatchReader()
    back = [group for i in range(0, len(groups), 3) for group in reader.unpack(writer.pack(groups[i:i + 3]))]
    shown = lambda gs: [(v, [(seq, type(e), repr(e)) for seq, e in g]) for v, g in gs]  # noqa: E731
    assert shown(back) == shown(groups)  # repr: every field, the connection's and the chunk info's too
    # one Connection object per connection, as a single process has, also across batches
    seen: dict[int, object] = {}
    for _, group in back:
        for _, event in group:
            assert seen.setdefault(event.conn.id, event.conn) is event.conn
    # a chunk whose wire bytes are its raw bytes (sent once) still shares them, and only such a chunk
    pairs = [(a, b) for (_, ga), (_, gb) in zip(groups, back) for (_, a), (_, b) in zip(ga, gb) if type(a) is Chunk]
    assert all((a.raw is a.wire) == (b.raw is b.wire) for a, b in pairs) and (pairs or not normalize)


def test_a_connection_is_sent_whole_again_after_a_reader_forgot_it():
    """A connection closed and forgotten by both ends is never referred to again; a new one is sent whole."""
    events = table_events(next(p for p in inputs() if p.name == "v140_client.dump.jsonl.gz"), normalize=False)
    writer, reader = BatchWriter(), BatchReader()
    for i, event in enumerate(events):
        (_, [(_, back)]), = reader.unpack(writer.pack([(None, [(i, event)])]))
        assert repr(back) == repr(event)
    assert writer._conns == {} and reader._conns == {}  # every connection closed: nothing kept
