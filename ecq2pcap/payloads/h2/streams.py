"""What the passive decoder hands out (:class:`H2Stream`, :class:`H2GoAway`) and the state it keeps
per open stream and per unfinished header block."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...model import Direction

@dataclass(slots=True, eq=False)
class H2GoAway:
    """A GOAWAY frame; ``direction`` is the way it travelled."""

    direction: Direction
    time_ns: int
    last_stream_id: int
    error_code: int
    debug_data: bytes


@dataclass(slots=True, eq=False)
class H2Stream:
    """One HTTP/2 stream, emitted once both sides ended (or at :meth:`H2PassiveDecoder.close`).

    Header lists keep wire order and include pseudo-headers (``:method``, ``:status``...).
    The *request* side is what travelled client→server (for a pushed stream: the
    PUSH_PROMISE's headers), the *response* side server→client.
    """

    stream_id: int
    request_headers: list[tuple[str, str]] = field(default_factory=list)
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    informational: list[list[tuple[str, str]]] = field(default_factory=list)  # 1xx responses
    request_trailers: list[tuple[str, str]] = field(default_factory=list)
    response_trailers: list[tuple[str, str]] = field(default_factory=list)
    request_body: bytes = b""  # DATA payload, padding removed, capped at max_body
    response_body: bytes = b""
    request_body_size: int = 0  # DATA payload bytes seen (also beyond the cap)
    response_body_size: int = 0
    request_start_ns: int | None = None  # first byte of the side's first frame
    request_end_ns: int | None = None  # chunk that completed the side's last frame
    response_start_ns: int | None = None
    response_end_ns: int | None = None
    request_complete: bool = False  # END_STREAM seen client→server
    response_complete: bool = False  # END_STREAM seen server→client
    open_at_end: bool = False  # still open when the capture ended (H2PassiveDecoder.close)
    reset_code: int | None = None  # RST_STREAM error code
    reset_by: Direction | None = None  # way the RST_STREAM travelled
    pushed_by: int | None = None  # parent stream of a server push
    request_meta: Any = None  # `meta` of the feed where the request side started
    response_meta: Any = None
    errors: list[str] = field(default_factory=list)

    @property
    def meta(self) -> Any:
        """``request_meta``, or ``response_meta`` when the request was not seen."""
        return self.request_meta if self.request_meta is not None else self.response_meta

    @property
    def ended(self) -> bool:
        return self.reset_code is not None or (self.request_complete and self.response_complete)


class _Open:
    """Per-stream decoding state around the record being built."""

    __slots__ = ("rec", "bodies", "headers_seen", "final_response")

    def __init__(self, rec: H2Stream) -> None:
        self.rec = rec
        self.bodies = (bytearray(), bytearray())  # indexed by Direction
        self.headers_seen = [False, False]  # a header block arrived this way
        self.final_response = False  # a non-1xx response header block arrived


class _Block:
    """A header block waiting for its CONTINUATION frames."""

    __slots__ = ("kind", "stream_id", "promised", "end_stream", "data", "start", "over")

    def __init__(self, kind: str, stream_id: int, promised: int, end_stream: bool, data: bytes, start: tuple) -> None:
        self.kind = kind  # "headers" or "push"
        self.stream_id = stream_id
        self.promised = promised
        self.end_stream = end_stream
        self.data = bytearray(data)
        self.start = start  # (time_ns, meta) of the first frame
        self.over = False  # larger than the decoder keeps: not decoded


def cut_data_frame(buf: bytes | bytearray) -> tuple[int, bytes] | None:
    """(stream id, the payload that arrived) of a DATA frame cut short at the end of a capture, else None."""
    if len(buf) < 9 or buf[3] != 0x0:
        return None
    sid = int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
    length, payload = int.from_bytes(buf[0:3], "big"), bytes(buf[9:])
    if buf[4] & 0x8:  # PADDED: pad length byte first, padding last
        pad = payload[0] if payload else 0
        payload = payload[1 : max(length - pad, 1)]
    return sid, payload
