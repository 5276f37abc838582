"""What a dialect learns once per stream and must keep for the messages after it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class StreamState:
    # v2.1+ header times are the eCapture host's local time: its UTC offset, estimated from
    # the first message with an absolute receive time and then kept, so that every event of
    # a stream is shifted alike (a per-message estimate could flip between two values)
    utc_offset_ns: int | None = None
