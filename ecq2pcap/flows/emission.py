"""What one connection emits: its chunks for a released capture, and its Closed event's notes.

Pure per-connection work on a :class:`~.state.ConnState` (the table decides which
connection and when, and leaves out stale re-emits, :mod:`.reemits`): late captures
marked, wire bytes from the connection's :class:`~.normalize.Normalizer`.
"""

from __future__ import annotations

from ..payloads.websocket_frames import SWITCHING, websocket_start
from ..model import Capture, Captured, Chunk, ChunkInfo, Direction, PayloadForm
from ..report import Count, Report
from .normalize import normalized
from .state import ConnState


# (Enum members cost ~0.15 µs to read on Python 3.11; aliases ~0.02)
_RENDERED = PayloadForm.HTTP1_RENDERED


def chunks(c: ConnState, cap: Capture, direction: Direction, ts: int, report: Report,
           normalize: bool = True) -> list[Chunk] | list[Captured]:
    """The chunks of a released capture on an opened connection (a synthetic HTTP/2 preface
    first when one is needed); with ``normalize`` False, the capture placed (:class:`Captured`)
    for :class:`~.normalize.Normalizing` to make the chunks later. Late captures say so in their
    notes; the connection's bookkeeping is updated."""
    notes = cap.notes
    if ts < c.last_released_ts:
        c.late += 1
        report.count(Count.LATE_EVENTS)
        notes = notes + (f"arrived {(c.last_released_ts - ts) / 1e9:.3f} s after later data: placed here",)
    else:
        c.last_released_ts = ts
    # (rendered, v1; or raw, v2: the same head. Its status code compared first: startswith parses its arguments as a
    # tuple's, ~0.3k instructions, and most payloads are no 101)
    if cap.payload[9:13] == b"101 " and cap.payload.startswith(SWITCHING):
        if cap.form is _RENDERED:
            c.upgraded = True
        if websocket_start(cap.payload) is not None:
            c.websocket = True
    info = ChunkInfo(cap.pid, cap.tid, cap.comm, cap.fd, cap.uuid, cap.ectype, cap.form, cap.origin, notes)  # (.of)
    if not normalize:
        return [Captured(c.conn, direction, ts, cap.payload, info)]
    return normalized(c.normalizer, c.conn, direction, ts, cap.payload, info, report)


def closing_notes(c: ConnState, extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    """What the Closed event says of what the table left out or moved."""
    if not c.reemits and not c.late:  # (most connections: nothing more)
        return extra
    notes: list[str] = list(extra)
    if c.reemits:
        notes.append(
            f"{c.reemits} stale re-emit(s) of the previous HTTP/1 headers omitted "
            "(eCapture re-renders them at socket close and after an upgrade)"
        )
    if c.late:
        notes.append(f"{c.late} event(s) arrived after later data and were placed out of time order")
    return tuple(notes)
