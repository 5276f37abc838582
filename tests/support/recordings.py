"""Reading back what ``record`` and ``live --record`` wrote, for the tests."""

from __future__ import annotations

import gzip
from pathlib import Path

from ecq2pcap.model import Message
from ecq2pcap.sources.recording import LineDecoder


def read_recording(path: Path) -> list[Message]:
    dec = LineDecoder()
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        msgs = [dec.message(line, f"{path}:{i}") for i, line in enumerate(f, 1)]
    assert msgs[0] is None  # the header line
    return [m for m in msgs if m is not None]


def as_bytes(frame) -> bytes:
    """A fake eCapture frame's bytes (text frames are str)."""
    return frame.encode() if isinstance(frame, str) else frame
