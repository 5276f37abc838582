"""What a connection that goes on in the next ring file starts with there (:meth:`PcapngSink.rotate`): its start
is in an earlier file, so Wireshark must be shown how to read what follows. An HTTP/2 connection gets a synthetic
preface; a WebSocket one a made-up upgrade request and its captured ``101``; and, when the file change cut a
frame (:class:`FrameFollower`), a made-up header that makes the frame's rest a frame of its own, so that the
frames after it are read from their own headers (they were read from the rest's bytes: none dissected)."""

from __future__ import annotations

from ...model import Direction
from ...payloads.alignment import FrameAlignment, Framing
from ...payloads.h2 import PREFACE, SETTINGS_FRAME

__all__ = ["CONTINUATION_PREFACE", "FrameFollower", "H2_RESUME", "REST_NOTE", "WS_NOTE", "WS_REQUEST", "continuation"]

CONTINUATION_PREFACE = PREFACE + SETTINGS_FRAME
H2_RESUME = (CONTINUATION_PREFACE, b"", "synthetic HTTP/2 connection preface for this file (the connection's start "
             "is in an earlier file; header compression state is not carried over)")
WS_REQUEST = (b"GET /ecq2pcap-synthetic-upgrade HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n\r\n")
WS_NOTE = ("synthetic WebSocket upgrade for this file (the connection's start is in an earlier file): the request "
           "is made up, the 101 is the captured one; a permessage-deflate context is not carried over")
REST_NOTE = ("a frame the file change cut goes on here: a made-up frame header makes its rest a frame of its own "
             "(an HTTP/2 DATA frame's a DATA frame of its stream, another's one of an undefined type; a WebSocket "
             "frame's a binary or control frame)")


class FrameFollower:
    """Where each direction of an HTTP/2 or WebSocket connection is in its frames (followed only where a file
    may change: ring buffers)."""

    __slots__ = ("alignment",)

    def __init__(self, framing: Framing) -> None:
        self.alignment = FrameAlignment(framing)

    def feed(self, direction: int, data: bytes, start: int = 0) -> None:
        self.alignment.feed(direction, data, start)

    def lead(self, direction: int) -> bytes:
        """What ``direction`` starts with in the next file before its next bytes: the first bytes of a frame
        header the file change cut (its rest completes it), or a made-up header for a frame's rest (b"": none)."""
        need, info, head = self.alignment.pending(direction)
        if head:
            return head
        return self.alignment.framing.rest_as_frame(direction, info, need) if need else b""


def continuation(resume: tuple[bytes, bytes, str] | None, frames: FrameFollower | None, flow) -> tuple[tuple, tuple]:
    """What a connection continued in a new file sends after its handshake, as ``(sender, bytes, comment)`` pieces, and
    the initial sequence numbers that make its own go on from there: the synthetic start (``resume``: a preface, an
    upgrade and its 101), then a cut frame's made-up header in a segment of its own (Wireshark reads WebSocket from the
    101 on: one in the upgrade's segment was read as HTTP's)."""
    c2s, s2c, comment = resume or (b"", b"", None)
    leads = (frames.lead(Direction.C2S), frames.lead(Direction.S2C)) if frames else (b"", b"")
    said = f"{comment}; {REST_NOTE}" if any(leads) else comment
    pieces = ((Direction.C2S, c2s, said), (Direction.S2C, s2c, None), (Direction.C2S, leads[0], None),
              (Direction.S2C, leads[1], None))
    isns = ((flow.next_seq(Direction.C2S) - 1 - len(c2s) - len(leads[0])) & 0xFFFFFFFF,
            (flow.next_seq(Direction.S2C) - 1 - len(s2c) - len(leads[1])) & 0xFFFFFFFF)
    return pieces, isns
