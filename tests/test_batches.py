"""ecq2pcap.batches: a ``convert -j`` worker gets back, field for field, the events worker 0 sent."""

from __future__ import annotations

import pickle

import pytest
from msgspec.structs import astuple

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
    assert not writer._conns and not reader._conns  # every connection closed: nothing kept


def test_a_connections_fields_go_once_to_a_worker():
    """After a connection's first event, its later ones (also in later batches) carry its id only."""
    events = table_events(next(p for p in inputs() if p.name == "v140_client.dump.jsonl.gz"), normalize=False)
    first = events[0].conn
    mine = [e for e in events if e.conn.id == first.id]
    assert len(mine) >= 3
    writer, reader = BatchWriter(), BatchReader()
    batches = []
    for i, e in enumerate(mine):
        batches.append(writer.pack([(None, [(i, e)])]))
        writer.delivered()
    heads = [pickle.loads(b)[0][1][0][2] for b in batches]  # (version, [(seq, kind, connection, ...)])
    assert heads[0] == astuple(first) and heads[1:] == [first.id] * (len(mine) - 1)
    back = [reader.unpack(b)[0][1][0][1] for b in batches]
    assert [repr(e) for e in back] == [repr(e) for e in mine] and all(e.conn is back[0].conn for e in back)


def test_a_batch_that_never_went_leaves_the_next_one_whole():
    """Ctrl-C between packing a batch and sending it: the connections it would have introduced are sent
    whole with the next batch (a reader that never got the first one reads the second); a batch that went
    but was not marked sends them again, and the reader keeps the connection it has."""
    events = table_events(next(p for p in inputs() if p.name == "v140_client.dump.jsonl.gz"), normalize=False)
    first = events[0].conn
    mine = [e for e in events if e.conn.id == first.id]
    writer, reader = BatchWriter(), BatchReader()
    writer.pack([(None, [(0, mine[0])])])  # packed, never sent, never marked
    (_, [(_, back)]), = reader.unpack(writer.pack([(None, [(1, mine[1])])]))
    assert repr(back) == repr(mine[1])
    # this one went, but Ctrl-C came before it was marked: the fields go again, the reader keeps its object
    (_, [(_, again)]), = reader.unpack(writer.pack([(None, [(2, mine[2])])]))
    assert again.conn is back.conn and repr(again) == repr(mine[2])
