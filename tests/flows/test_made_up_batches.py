"""Bytes made up for frames' lost rests go to the sinks a list at a time: a release stops once its list holds
``MADE_UP_BATCH`` of them (:attr:`ConnectionTable.cut`), and :meth:`more` goes on with the same events in the same
order. 60 WebSocket frame headers saying 16 MiB each, in 32 KB of a dump, had made one list of 1 GB (3 GB of RSS in
the pcapng sink); each is a credible frame's, so its rest is made up, as eCapture's 16 KiB cap on a call makes
real ones."""

from __future__ import annotations

import pytest

from ecq2pcap.flows import ordering
from ecq2pcap.flows.table import ConnectionTable
from ecq2pcap.limits import Limits
from ecq2pcap.model import Chunk
from ecq2pcap.pipeline import Pipeline
from ecq2pcap.report import Report
from ecq2pcap.sources.recording import LineDecoder
from tests.support.v2_stream import V2Stream

FRAME = 100_000  # each cut frame's length: ~100 KB made up for each
BATCH = 300_000  # MADE_UP_BATCH in these tests
UPGRADE = (b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\nSec-WebSocket-Version: 13\r\n\r\n")
SWITCH = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n"


def stream(frames: int, dt: float, later: bool) -> bytes:
    """A WebSocket connection whose server writes ``frames`` frames of FRAME bytes, each cut to its first 110 bytes,
    each followed by three whole frames; ``later``: another connection 10 s on (what releases them while reading)."""
    s = V2Stream()
    s.connect(61, 7, "ws", ("10.7.0.2", 52000), ("10.7.0.1", 443))
    s.call(61, 7, "ws", True, UPGRADE)
    s.call(61, 7, "ws", False, SWITCH)
    for i in range(frames):
        s.call(61, 7, "ws", False, bytes([0x82, 127]) + FRAME.to_bytes(8, "big") + bytes([i % 256]) * 100, dt)
        s.call(61, 7, "ws", False, (bytes([0x81, 5]) + b"hello") * 3, dt)
    if later:
        s.connect(62, 8, "curl", ("10.7.0.3", 52001), ("10.7.0.1", 443))
        s.call(62, 8, "curl", True, b"GET / HTTP/1.1\r\nHost: b\r\n\r\n", 10.0)
    return s.dump()


class Lists:
    """A sink that keeps each list of events it is given."""

    def __init__(self) -> None:
        self.lists: list[list] = []

    def handle_events(self, events) -> None:
        self.lists.append(list(events))

    def finish(self) -> None:
        pass


def run(dump: bytes, batch: int, limits: Limits | None, monkeypatch) -> tuple[list[list], Report]:
    monkeypatch.setattr(ordering, "MADE_UP_BATCH", batch)
    report, sink, dec = Report(), Lists(), LineDecoder()
    table = ConnectionTable(report, limits=limits) if limits else None
    pipeline = Pipeline([sink], report, table=table)
    for i, line in enumerate(dump.splitlines(), 1):
        message = dec.message(line, f"d:{i}")
        if message is not None:
            pipeline.feed(message)
    pipeline.finish()
    return sink.lists, report


def made_up(events) -> int:
    return sum(len(e.wire) for e in events if type(e) is Chunk and not e.raw and e.wire and not e.wire.strip(b"\0"))


def key(e) -> tuple:
    return type(e).__name__, e.conn.id, getattr(e, "direction", None), getattr(e, "time_ns", None), \
        getattr(e, "wire", None), getattr(e, "notes", None)


@pytest.mark.parametrize("dt, later, limits, most", [
    (0.0001, False, None, 40),  # all held until the end of input (close_all_batches)
    (0.0001, True, None, 40),  # released by a later capture (feed)
    (0.5, False, None, 3),  # released a few at a time as the clock moves (feed), the rest at the end: no cut
    (0.0001, True, Limits(reorder_buffer=40 * 2048), 11),  # a reorder buffer that fills: released early
])
def test_the_bytes_made_up_in_one_list_are_bounded_and_the_events_are_the_same(dt, later, limits, most,
                                                                               monkeypatch):
    dump = stream(40, dt, later)
    unbounded, report = run(dump, 1 << 40, limits, monkeypatch)
    bounded, report2 = run(dump, BATCH, limits, monkeypatch)
    assert report.made_up == report2.made_up == 40 * (FRAME + 10 - 110)  # (each frame's rest, made up)
    assert [key(e) for events in bounded for e in events] == [key(e) for events in unbounded for e in events]
    assert max(made_up(events) for events in unbounded) == most * (FRAME - 100)  # (that many rests in one list)
    assert max(made_up(events) for events in bounded) <= BATCH + FRAME  # (a list stops after the rest that passes it)
    assert report2.warnings == report.warnings
