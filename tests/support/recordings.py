"""Reading back what ``record`` and ``live --record`` wrote, and the live source's Delivery tuples, for the tests."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator
from pathlib import Path

from ecq2pcap.dialects.v15_proto import parse_log_entry
from ecq2pcap.model import Message, Opcode
from ecq2pcap.sources.recording import LineDecoder


def read_recording(path: Path) -> list[Message]:
    dec = LineDecoder()
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        msgs = [dec.message(line, f"{path}:{i}") for i, line in enumerate(f, 1)]
    assert msgs[0] is None  # the header line
    return [m for m in msgs if m is not None]


def log_entries(path: Path) -> Iterator[tuple]:
    """``(LogEntry, which payload)`` of each protobuf message of a sample's frames file, in order (the v1.5 and v2
    samples: ``which`` is ``event_payload``, ``run_log`` or ``heartbeat_payload``)."""
    for line in gzip.open(path):
        parsed = parse_log_entry(base64.b64decode(json.loads(line)["data_b64"]))
        if parsed is not None:
            yield parsed


def as_bytes(frame) -> bytes:
    """A fake eCapture frame's bytes (text frames are str)."""
    return frame.encode() if isinstance(frame, str) else frame


def delivery(message: Message, replayed: bool = False) -> tuple:
    """The live source's tuple for ``message`` (sources/backlog.py: Delivery)."""
    return (message.data, message.opcode is Opcode.BINARY, message.origin, message.recv_time_ns, replayed)


def message_of(d: tuple) -> Message:
    """The message a live source's Delivery tuple carries."""
    data, binary, origin, recv_time_ns, _ = d
    return Message(data, Opcode.BINARY if binary else Opcode.TEXT, origin, recv_time_ns)
