"""Stale re-emits: eCapture v1 re-renders the previous HTTP/1 message's headers, bodiless.

It does so at socket close (v1.4.0–1.5.0) and on every idle flush that does not start
with a new message (after an upgrade, or a body continued in a later flush; protocol
doc §4.3, §11.6). Such a re-emit is not a new exchange.
"""

from __future__ import annotations

from ..model import Direction

_C2S, _S2C = Direction.C2S, Direction.S2C  # (Enum members: ~0.15 µs to read on Python 3.11)


def is_stale_reemit(last_headers: dict, upgraded: bool, payload: bytes, direction: Direction, ts: int,
                    uuid: str | None = None) -> bool:
    """Is this rendered HTTP/1 message a re-emit? ``last_headers`` (Direction → (header
    block, time, answered, uuid)) is the connection's memory of the previous message each way
    and whether the other way has spoken since; updated here.

    A bodiless message whose headers equal the previous one in that direction, from the same eCapture worker (its
    ``uuid``: a thread and a direction; another thread's message is never a re-emit of this one's, as a server's
    pool threads answer identical polls alike), is a re-emit when nothing came the other way since (a real repeat
    answers a new request or follows a response), when it carries the same capture time (close), when the
    connection was upgraded, or when it is a response with the same ``Date`` (a real new response has a new one).
    Identical requests after a response stay real: clients that poll send byte-identical requests, each in its
    own flush."""
    end = payload.find(b"\r\n\r\n")
    head = payload if end < 0 else payload[: end + 4]
    prev = last_headers.get(direction)
    last_headers[direction] = (head, ts, False, uuid)
    stale = (prev is not None and len(head) == len(payload) and prev[0] == head and prev[3] == uuid  # bodiless,
             and (not prev[2] or prev[1] == ts or upgraded  # the same headers, the same worker
                  or (head.startswith(b"HTTP/") and b"\r\nDate: " in head)))
    if not stale:  # (a real message: the other way's last one is answered, or followed)
        other = _S2C if direction is _C2S else _C2S  # (Direction.other without its property's call)
        spoken = last_headers.get(other)
        if spoken is not None and not spoken[2]:
            last_headers[other] = (spoken[0], spoken[1], True, spoken[3])
    return stale
