"""Stale re-emits: eCapture v1 re-renders the previous HTTP/1 message's headers, bodiless.

It does so at socket close (v1.4.0–1.5.0) and on every idle flush that does not start
with a new message (after an upgrade, or a body continued in a later flush; protocol
doc §4.3, §11.6). Such a re-emit is not a new exchange.
"""

from __future__ import annotations

from ..model import Direction


def is_stale_reemit(last_headers: dict, upgraded: bool, payload: bytes, direction: Direction, ts: int) -> bool:
    """Is this rendered HTTP/1 message a re-emit? ``last_headers`` (Direction → (header
    block, time)) is the connection's memory of the previous message each way; updated here.

    A bodiless message whose headers equal the previous one in that direction is a
    re-emit when it carries the same capture time (close), when the connection was
    upgraded, or when it is a response with the same ``Date`` (a real new response has
    a new one). Identical requests at other times stay real: clients that poll send
    byte-identical requests, each in its own flush."""
    end = payload.find(b"\r\n\r\n")
    head = payload if end < 0 else payload[: end + 4]
    prev = last_headers.get(direction)
    last_headers[direction] = (head, ts)
    if prev is None or len(head) != len(payload):  # has a body: a real message
        return False
    prev_head, prev_ts = prev
    if prev_head != head:
        return False
    return prev_ts == ts or upgraded or (head.startswith(b"HTTP/") and b"\r\nDate: " in head)
