"""ecq2pcap.shards (sans-IO): how worker 0 of ``convert -j`` hands connections to the others.

(The outputs' byte-for-byte equality with one process is tests/commands/test_parallel_bytes.py.)"""

from __future__ import annotations

import pytest

from ecq2pcap import shards
from ecq2pcap.filters import ConnectionView
from ecq2pcap.model import Chunk, ChunkInfo, Closed, Connection, Direction, Opened, Protocol
from ecq2pcap.shards import Dispatcher, ShardFeed


def conn(i: int) -> Connection:
    return Connection(i, 100, "curl", i, ("10.0.0.1", 40000 + i), ("10.0.0.2", 80))


def request(c: Connection, t: int) -> Chunk:
    data = f"GET /{c.id} HTTP/1.1\r\nHost: h{c.id}.test\r\n\r\n".encode()
    return Chunk(c, Direction.C2S, t, data, data, ChunkInfo(origin=f"x:{t}"), Protocol.HTTP1)


class Workers:
    """What worker 0 sent to each other worker, and how much they have read of it."""

    def __init__(self, n: int, fail: int | None = None) -> None:
        self.sent: dict[int, list[bytes]] = {k: [] for k in range(1, n)}
        self.read = [0] * n
        self.fail = fail

    def send(self, k: int, data: bytes) -> None:
        if k == self.fail:
            raise BrokenPipeError(32, "Broken pipe")
        self.sent[k].append(data)

    def catch_up(self, k: int) -> None:
        self.read[k] = sum(len(d) for d in self.sent[k])

    def replay(self, k: int) -> list[tuple[int, str]]:
        """(number, event) of what worker k's feed hands to its sinks."""
        feed, got = ShardFeed(ConnectionView()), []
        for data in self.sent[k]:
            if data:
                feed.batch(data, lambda events: got.extend(map(repr, events)))
        feed.finish(lambda events: got.extend(map(repr, events)))
        return list(zip(feed.tags, got))


@pytest.fixture
def ship_every_list(monkeypatch):
    monkeypatch.setattr(shards, "BATCH_EVENTS", 1)
    monkeypatch.setattr(shards, "BACKLOG_BYTES", 1)  # a worker with anything unread is behind


def test_a_worker_behind_gets_no_new_connection_but_keeps_its_own(ship_every_list):
    w = Workers(2)
    d = Dispatcher(ConnectionView(), 2, w.send, w.read)
    c1, c2, c3 = conn(1), conn(2), conn(3)
    assert d.process([Opened(c1, 1), request(c1, 2)]) == []  # to worker 1, which has read nothing yet
    kept = d.process([Opened(c2, 3), request(c2, 4)])  # worker 1 is behind: worker 0 keeps c2
    assert [type(e) for e in kept] == [Opened, Chunk] and list(d.tags) == [3, 4]
    assert d.process([Closed(c1, 5, "end")]) == []  # c1 stays with worker 1 until it closes
    w.catch_up(1)
    assert d.process([Opened(c3, 6)]) == []  # caught up: worker 1 again
    d.finish()
    assert w.sent[1][-1] == b""  # the end
    assert w.replay(1) == [(1, repr(Opened(c1, 1))), (2, repr(request(c1, 2))), (5, repr(Closed(c1, 5, "end"))),
                           (6, repr(Opened(c3, 6)))]


def test_numbers_follow_the_table_whoever_writes(ship_every_list):
    """Every event gets its single-process number in the worker that writes it, END after the input."""
    w = Workers(3)
    d = Dispatcher(ConnectionView(), 3, w.send, w.read)
    events = []
    for i in range(1, 7):
        c = conn(i)
        events += [Opened(c, 10 * i), request(c, 10 * i + 1), Closed(c, 10 * i + 2, "end")]
    own = []
    for event in events:  # one list per event; the workers read now and then
        got = d.process([event])
        own += [(seq, repr(e)) for seq, e in zip(list(d.tags)[len(own):], got)]
        if event.time_ns % 20 == 0:
            w.catch_up(1)
    d.finish()
    written = own + w.replay(1) + w.replay(2)
    assert sorted(written) == [(i, repr(e)) for i, e in enumerate(events, 1)]
    assert own and w.replay(1) and w.replay(2)  # each of the three wrote some


def test_a_worker_that_is_gone_gets_nothing_more(ship_every_list):
    w = Workers(3, fail=1)
    d = Dispatcher(ConnectionView(), 3, w.send, w.read)
    d.process([Opened(conn(1), 1)])  # to worker 1: sending fails
    assert 1 in d.lost and isinstance(d.lost[1], OSError)
    d.process([Opened(conn(2), 2)])  # to worker 2
    w.catch_up(2)
    d.process([Opened(conn(3), 3)])  # not to worker 1 again
    d.finish()
    assert [seq for seq, _ in w.replay(2)] == [2, 3]


def test_the_view_sees_a_whole_list_before_its_events_are_handled():
    """A connection's host name, learned from its request, names its Opened handled before it; a
    connection that closed in the list keeps its name until the next list (as in one process)."""
    w = Workers(2)
    d = Dispatcher(ConnectionView(), 2, w.send, w.read)
    c1, c2 = conn(1), conn(2)
    d.process([Opened(c1, 1), request(c1, 2), Closed(c1, 3, "end"), Opened(c2, 4), request(c2, 5),
               Closed(c2, 6, "end")])
    d.finish()
    feed, names = ShardFeed(ConnectionView()), []
    for data in filter(None, w.sent[1]):
        feed.batch(data, lambda events: names.extend((type(e).__name__, e.conn.id, feed.view.host(e.conn))
                                                     for e in events))
    assert names == [("Opened", 1, "h1.test"), ("Chunk", 1, "h1.test"), ("Closed", 1, "h1.test"),
                     ("Opened", 2, "h2.test"), ("Chunk", 2, "h2.test"), ("Closed", 2, "h2.test")]


def test_a_connections_fields_go_once_across_the_batches_sent(ship_every_list):
    """The dispatcher marks a batch delivered once it is sent: a connection's later batches carry its id."""
    import pickle

    w = Workers(2)
    d = Dispatcher(ConnectionView(), 2, w.send, w.read)
    c1 = conn(1)
    d.process([Opened(c1, 1), request(c1, 2)])
    w.catch_up(1)
    d.process([Closed(c1, 3, "end")])
    d.finish()
    heads = [item[2] for data in w.sent[1] if data for _, items in pickle.loads(data) for item in items]
    assert type(heads[0]) is tuple and heads[1:] == [1, 1]
    assert [seq for seq, _ in w.replay(1)] == [1, 2, 3]


@pytest.mark.parametrize("worker", [0, 1])
def test_a_list_full_of_bytes_made_up_goes_on_at_once_in_each_worker(worker, ship_every_list, monkeypatch):
    """``convert -j``: the wire bytes are made in the worker that writes a connection, so the rests made up for
    frames eCapture cut are too; a list holding MADE_UP_BATCH of them goes to that worker's sinks at once, as the
    table's release does in one process (tests/flows/test_made_up_batches.py), with the same events in order."""
    from ecq2pcap.flows import ordering
    from ecq2pcap.report import Report
    from tests.support.made_up import BATCH, FRAME, converted, key, made_up, stream

    captured, _ = converted(stream(40, 0.0001, False), normalize=False)

    def lists(batch: int) -> list[list]:
        monkeypatch.setattr(ordering, "MADE_UP_BATCH", batch)
        w, got = Workers(2), []
        d = Dispatcher(ConnectionView(), 2, w.send, w.read, report=Report())
        if worker == 0:
            w.read[1] = -(1 << 40)  # (worker 1 always behind: worker 0 writes the connection)
            d.deliver = got.append
            got.extend(d.process(events) for events in captured)
        else:
            for events in captured:
                assert d.process(events) == []
            d.finish()
            feed = ShardFeed(ConnectionView(), report=Report())
            for data in w.sent[1]:
                if data:
                    feed.batch(data, got.append)
        return [events for events in got if events]

    unbounded, bounded = lists(1 << 40), lists(BATCH)
    assert [key(e) for events in bounded for e in events] == [key(e) for events in unbounded for e in events]
    assert max(made_up(events) for events in unbounded) == 40 * (FRAME - 100)
    assert max(made_up(events) for events in bounded) <= BATCH + FRAME
