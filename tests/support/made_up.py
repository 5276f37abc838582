"""A WebSocket stream whose frames eCapture cut, each rest made up (~100 KB a frame), and what tests of the bound on
the bytes made up in one list of events (flows.ordering.MADE_UP_BATCH) read of the lists."""

from __future__ import annotations

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


def converted(dump: bytes, limits: Limits | None = None, normalize: bool = True) -> tuple[list[list], Report]:
    """The lists of events a pipeline hands its sinks for ``dump`` (with ``normalize`` False, the table's
    :class:`~ecq2pcap.model.Captured`, as ``convert -j`` has them), and its report."""
    report, sink, dec = Report(), Lists(), LineDecoder()
    table = ConnectionTable(report, limits=limits or Limits(), normalize=normalize)
    pipeline = Pipeline([sink], report, table=table)
    for i, line in enumerate(dump.splitlines(), 1):
        message = dec.message(line, f"d:{i}")
        if message is not None:
            pipeline.feed(message)
    pipeline.finish()
    return sink.lists, report


def made_up(events) -> int:
    """The bytes made up in a list: the chunks of zeros only, with no bytes of eCapture's (raw)."""
    return sum(len(e.wire) for e in events if type(e) is Chunk and not e.raw and e.wire and not e.wire.strip(b"\0"))


def key(e) -> tuple:
    return type(e).__name__, e.conn.id, getattr(e, "direction", None), getattr(e, "time_ns", None), \
        getattr(e, "wire", None), getattr(e, "notes", None)
