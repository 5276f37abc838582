"""Passive, sans-IO HTTP/2 decoder for ONE connection (hyperframe + hpack, no h2 state machine).

Bytes go in per direction (client→server, server→client) in any chunking; finished
streams come out as :class:`H2Stream` records::

    dec = H2PassiveDecoder()
    for chunk in chunks:
        for stream in dec.feed(chunk.direction, chunk.wire, chunk.time_ns, chunk):
            ...
    for stream in dec.close(end_ns):   # streams still open at the end
        ...

Design:

* One byte buffer and one HPACK decoder per direction: the decoder of direction D
  decodes header blocks *sent* in direction D. Its table-size limit comes from the
  SETTINGS_HEADER_TABLE_SIZE sent the other way (raised at once, lowered when the
  SETTINGS is acknowledged: the ACK travels in D, before the next header block).
* A passive decoder enforces nothing the peers would have rejected: limits only
  decide what is *noted*, never what is dropped.
* Capture started mid-connection (no client preface): HPACK state is unknown. The
  table is made tolerant: a reference to an entry that was never seen yields a
  placeholder (which keeps later indices in step) and the header is dropped; the
  stream gets the error :data:`HPACK_STATE_UNKNOWN`. Entries inserted since the
  capture started are the newest ones of the real table, so they decode correctly.
* DATA of a stream whose HEADERS were not captured is kept (stream error noted).
* Bytes that are not HTTP/2 (absurd frame length, impossible frame layout) stop
  decoding of that direction with a connection error; nothing ever raises.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

import hpack
from hpack.exceptions import HPACKError, InvalidTableIndex, OversizedHeaderListError
from hpack.hpack import decode_integer
from hpack.table import HeaderTable
from hyperframe.exceptions import HyperframeError
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    Frame,
    GoAwayFrame,
    HeadersFrame,
    PushPromiseFrame,
    RstStreamFrame,
    SettingsFrame,
)

from ..limits import DEFAULT_LIMITS, limit_note
from ..model import Direction

__all__ = [
    "PREFACE",
    "HPACK_STATE_UNKNOWN",
    "H2Stream",
    "H2GoAway",
    "H2PassiveDecoder",
    "looks_like_h2",
    "starts_h2_connection",
]

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
HPACK_STATE_UNKNOWN = "headers not decodable: HPACK state unknown (connection start not captured)"

_C2S, _S2C = Direction.C2S, Direction.S2C
_HDR = struct.Struct(">HBBBL")  # 24-bit length split as H+B, type, flags, stream id
_DEFAULT_MAX_FRAME = 16_384
_LENIENT_MAX_FRAME = 1 << 20  # Go's servers advertise 1 MiB; anything above is "absurd" unless advertised
_UNKNOWN_START_TABLE = 1 << 16  # table assumed when the start was not captured (≥ common real ones: Chrome's 64 KiB)
_NO_LIMIT = 1 << 32
_DEFAULT_MAX_BODY = 64 << 20

# frame type → (stream id must be non-zero?, exact length or None, minimum length)
_LAYOUT = {
    0x0: (True, None, 0),  # DATA
    0x1: (True, None, 0),  # HEADERS
    0x2: (True, 5, 5),  # PRIORITY
    0x3: (True, 4, 4),  # RST_STREAM
    0x4: (False, None, 0),  # SETTINGS (multiple of 6, checked below)
    0x5: (True, None, 4),  # PUSH_PROMISE
    0x6: (False, 8, 8),  # PING
    0x7: (False, None, 8),  # GOAWAY
    0x8: (None, 4, 4),  # WINDOW_UPDATE (either)
    0x9: (True, None, 0),  # CONTINUATION
}


def _layout_problem(length: int, ftype: int, flags: int, stream_id: int, max_len: int) -> str | None:
    """Why a frame header cannot be HTTP/2, or None when it is plausible."""
    if length > max_len:
        return f"frame length {length} exceeds {max_len}"
    rule = _LAYOUT.get(ftype)
    if rule is None:
        return None  # unknown (extension) frame types are legal and ignored
    needs_stream, exact, minimum = rule
    if needs_stream is True and stream_id == 0:
        return f"frame type {ftype} on stream 0"
    if needs_stream is False and stream_id != 0:
        return f"frame type {ftype} on stream {stream_id}"
    if (exact is not None and length != exact) or length < minimum:
        return f"frame type {ftype} with length {length}"
    if ftype == 0x4 and (length % 6 or (flags & 1 and length)):
        return f"SETTINGS frame with length {length}"
    return None


# flags each frame type defines (senders set no others; used only for sniffing)
_DEFINED_FLAGS = {0x0: 0x09, 0x1: 0x2D, 0x2: 0, 0x3: 0, 0x4: 0x01, 0x5: 0x0C, 0x6: 0x01, 0x7: 0, 0x8: 0, 0x9: 0x04}


def _plausible_frames(data: bytes) -> bool:
    """True when ``data`` starts with at least one frame header and every header up to the
    end of ``data`` is a well-formed frame of a known type and size (a sniffing test:
    stricter than decoding, which accepts unknown types and larger advertised sizes)."""
    pos, seen = 0, 0
    while pos + 9 <= len(data):
        hi, lo, ftype, flags, sid = _HDR.unpack_from(data, pos)
        length = (hi << 8) | lo
        if ftype not in _DEFINED_FLAGS or flags & ~_DEFINED_FLAGS[ftype]:
            return False
        if _layout_problem(length, ftype, flags, sid & 0x7FFFFFFF, _DEFAULT_MAX_FRAME):
            return False
        seen += 1
        pos += 9 + length
    return seen > 0


def looks_like_h2(c2s_first_bytes: bytes, s2c_first_bytes: bytes) -> bool:
    """Guess whether a connection carries HTTP/2 from the first bytes each way.

    True when the client side starts with (a prefix of) the connection preface, or,
    without a client preface (capture started mid-connection), when every side that
    has bytes starts with plausible HTTP/2 frame headers.
    """
    c2s, s2c = bytes(c2s_first_bytes[:64]), bytes(s2c_first_bytes[:4096])
    if len(c2s) >= 3 and PREFACE.startswith(c2s[: len(PREFACE)]):
        return True  # the preface, or the start of it
    if not c2s and not s2c:
        return False
    if not c2s:  # the server speaks first: its preface is a SETTINGS frame
        return len(s2c) >= 9 and s2c[3] == 0x4 and _plausible_frames(s2c)
    return _plausible_frames(bytes(c2s_first_bytes[:4096])) and (not s2c or _plausible_frames(s2c))


def starts_h2_connection(direction: Direction, data: bytes) -> bool:
    """True when a connection's first bytes in ``direction`` open an HTTP/2 connection:
    (at least 4 bytes of) the client preface, or the server's SETTINGS frame on stream 0."""
    if direction is Direction.C2S:
        n = min(len(data), len(PREFACE))
        return n >= 4 and data[:n] == PREFACE[:n]
    return len(data) >= 9 and data[3] == 0x04 and data[4] in (0, 1) and data[5:9] == b"\0\0\0\0"


# ---------------------------------------------------------------------------
# records


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


# ---------------------------------------------------------------------------
# HPACK


class _TolerantTable(HeaderTable):
    """Header table that answers unknown indices with a placeholder instead of raising."""

    def __init__(self) -> None:
        super().__init__()
        self.misses = 0

    def get_by_index(self, index: int) -> tuple[bytes, bytes]:
        try:
            return super().get_by_index(index)
        except InvalidTableIndex:
            if index <= 0:
                raise
            self.misses += 1
            return (b"", b"")


class _PassiveDecoder(hpack.Decoder):
    """hpack.Decoder that notes (instead of raising on) table-size violations and
    tolerates unknown table indices; :meth:`decode_block` reports both."""

    def __init__(self, max_table: int = DEFAULT_LIMITS.hpack_table_size,
                 max_list: int = DEFAULT_LIMITS.header_list_size) -> None:
        super().__init__(max_header_list_size=max_list)
        self.header_table = _TolerantTable()
        self.max_allowed_table_size = self.header_table.maxsize
        self.max_table = max_table  # our memory bound, whatever the peers agreed
        self._size_notes: list[str] = []

    def _update_encoding_context(self, data: bytes | memoryview) -> int:
        new_size, consumed = decode_integer(data, 5)
        if new_size > self.max_allowed_table_size:
            self._size_notes.append(
                f"HPACK table size update to {new_size} exceeds the advertised {self.max_allowed_table_size}"
            )
        self.set_table_size(new_size)
        return consumed

    def set_table_size(self, size: int) -> None:
        """Resize the dynamic table, clipped to ``max_table`` (then the encoder's oldest entries
        are unknown here: their headers come out as not decodable, never as wrong ones)."""
        if size > self.max_table:
            self._size_notes.append(limit_note(
                "hpack_table_size", f"HPACK table of {size} bytes kept at {self.max_table} bytes"))
            size = self.max_table
        self.header_table_size = size

    def _assert_valid_table_size(self) -> None:
        if self.header_table_size > self.max_allowed_table_size:
            self._size_notes.append(
                f"HPACK table size {self.header_table_size} exceeds the advertised {self.max_allowed_table_size}"
            )

    def decode_block(self, block: bytes) -> tuple[list[tuple[str, str]], int, list[str]]:
        """Decode one complete header block → (headers, unknown-index count, notes).
        Raises hpack's HPACKError on a malformed block."""
        self.header_table.misses = 0
        self._size_notes = []
        raw = self.decode(block, raw=True)
        headers = [(_text(n), _text(v)) for n, v in raw if n]  # empty name = unknown entry
        return headers, self.header_table.misses, self._size_notes


def _text(b: bytes) -> str:
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return b.decode("latin-1")


# ---------------------------------------------------------------------------
# decoder


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

    __slots__ = ("kind", "stream_id", "promised", "end_stream", "data", "start")

    def __init__(self, kind: str, stream_id: int, promised: int, end_stream: bool, data: bytes, start: tuple) -> None:
        self.kind = kind  # "headers" or "push"
        self.stream_id = stream_id
        self.promised = promised
        self.end_stream = end_stream
        self.data = bytearray(data)
        self.start = start  # (time_ns, meta) of the first frame


class H2PassiveDecoder:
    """Decode one HTTP/2 connection from the bytes of both directions.

    Attributes worth reading after/while feeding: ``errors`` (connection-level
    problems), ``goaways``, ``settings`` (last values sent per direction),
    ``preface_seen`` (None until the first client bytes decide it).
    """

    def __init__(self, *, max_body: int = _DEFAULT_MAX_BODY, max_table: int = DEFAULT_LIMITS.hpack_table_size,
                 max_header_list: int = DEFAULT_LIMITS.header_list_size) -> None:
        self.max_body = max_body
        self.errors: list[str] = []
        self.goaways: list[H2GoAway] = []
        self.settings: tuple[dict[int, int], dict[int, int]] = ({}, {})
        self.preface_seen: bool | None = None
        self._buf = (bytearray(), bytearray())
        self._frame_start: list[tuple[int, Any]] = [(0, None), (0, None)]
        self._hpack = (_PassiveDecoder(max_table, max_header_list), _PassiveDecoder(max_table, max_header_list))
        self._start_known: list[bool | None] = [None, None]
        self._dead = [False, False]
        self._max_frame = [_DEFAULT_MAX_FRAME, _DEFAULT_MAX_FRAME]
        self._pending_settings: tuple[list[dict[int, int]], list[dict[int, int]]] = ([], [])
        self._block: list[_Block | None] = [None, None]
        self._open: dict[int, _Open] = {}
        self._done: set[int] = set()
        self._out: list[H2Stream] = []
        self._closed = False

    # -- public ---------------------------------------------------------------

    def feed(self, direction: Direction | int, data: bytes, time_ns: int, meta: Any = None) -> list[H2Stream]:
        """Add bytes that travelled ``direction``; return the streams that ended."""
        d = Direction(direction)
        if self._closed or self._dead[d] or not data:
            return self._take()
        buf = self._buf[d]
        if not buf:
            self._frame_start[d] = (time_ns, meta)
        buf += data
        try:
            self._parse(d, time_ns, meta)
        except Exception as exc:  # never raise into the pipeline
            self._kill(d, f"internal error while decoding: {exc!r}")
        return self._take()

    def buffered(self) -> int:
        """Bytes held for streams not yet returned (bodies) and unparsed frame bytes."""
        n = len(self._buf[0]) + len(self._buf[1])
        for st in self._open.values():
            n += len(st.bodies[0]) + len(st.bodies[1])
        return n

    def close(self, time_ns: int) -> list[H2Stream]:
        """End of the connection: return every stream not yet emitted (incomplete ones too)."""
        if self._closed:
            return self._take()
        self._closed = True
        for d in (_C2S, _S2C):
            blk = self._block[d]
            if blk is not None:
                self._block[d] = None
                st = self._stream(blk.stream_id, d, blk.start, create=True)
                if st is not None:
                    st.rec.errors.append(f"{d.label} header block incomplete at end of capture (no END_HEADERS)")
            if self._buf[d] and not self._dead[d]:
                self._partial_frame(d)
            self._buf[d].clear()
        for sid in sorted(self._open):
            self._finish(sid)
        return self._take()

    # -- framing ----------------------------------------------------------------

    def _take(self) -> list[H2Stream]:
        out, self._out = self._out, []
        return out

    def _kill(self, d: Direction, why: str) -> None:
        self._dead[d] = True
        self._buf[d].clear()
        self.errors.append(f"{d.label}: {why}; stopped decoding this direction")

    def _parse(self, d: Direction, time_ns: int, meta: Any) -> None:
        buf = self._buf[d]
        if self._start_known[d] is None and not self._decide_start(d):
            return
        pos, n, consumed_any = 0, len(buf), False
        while n - pos >= 9 and not self._dead[d]:
            hi, lo, ftype, flags, sid = _HDR.unpack_from(buf, pos)
            length = (hi << 8) | lo
            sid &= 0x7FFFFFFF
            limit = self._max_frame[d]
            problem = _layout_problem(length, ftype, flags, sid, max(limit, _LENIENT_MAX_FRAME))
            if problem is not None:
                self._kill(d, f"not HTTP/2 ({problem})")
                return
            if n - pos - 9 < length:
                break
            if length > limit:  # legal only if the receiver advertised more than we saw
                self.errors.append(f"{d.label}: frame length {length} above the advertised maximum {limit}")
                self._max_frame[d] = length
            frame, _ = Frame.parse_frame_header(buf[pos : pos + 9])
            start = self._frame_start[d] if not consumed_any else (time_ns, meta)
            try:
                # hyperframe copies what it keeps; release the view before `buf` is resized
                with memoryview(buf) as whole, whole[pos + 9 : pos + 9 + length] as body:
                    frame.parse_body(body)
            except (HyperframeError, ValueError, struct.error) as exc:
                frame = None
                self._frame_error(d, sid, f"malformed frame type {ftype}: {exc}")
            pos += 9 + length
            consumed_any = True
            if frame is not None:
                self._frame(d, frame, start, time_ns)
        if pos:
            del buf[:pos]
        if buf and consumed_any:
            self._frame_start[d] = (time_ns, meta)

    def _partial_frame(self, d: Direction) -> None:
        """End of capture inside a frame: keep what arrived of a DATA frame, note the rest."""
        buf = self._buf[d]
        if len(buf) >= 9 and buf[3] == 0x0:
            sid = int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
            st = self._open.get(sid)
            if st is not None:
                length, payload = int.from_bytes(buf[0:3], "big"), bytes(buf[9:])
                if buf[4] & 0x8:  # PADDED: pad length byte first, padding last
                    pad = payload[0] if payload else 0
                    payload = payload[1 : max(length - pad, 1)]
                self._add_body(st, d, payload)
                st.rec.errors.append(f"{d.label} body incomplete: last DATA frame cut short at end of capture")
                return
        self.errors.append(f"{d.label}: {len(buf)} bytes of an incomplete frame at end of capture")

    def _decide_start(self, d: Direction) -> bool:
        """Decide whether this direction's beginning was captured; False = wait for bytes."""
        buf = self._buf[d]
        if d is _C2S:
            if len(buf) < len(PREFACE) and PREFACE.startswith(bytes(buf)):
                return False
            self.preface_seen = buf.startswith(PREFACE)
            self._start_known[d] = self.preface_seen
            if self.preface_seen:
                del buf[: len(PREFACE)]
            else:
                self.errors.append("no client connection preface: connection start not captured")
        else:
            if len(buf) < 9:
                return False
            # the server's first frame is a SETTINGS frame; trust it unless the client side says otherwise
            self._start_known[d] = buf[3] == 0x4 and not buf[4] & 1 and self.preface_seen is not False
        if not self._start_known[d]:
            dec = self._hpack[d]
            dec.set_table_size(min(_UNKNOWN_START_TABLE, dec.max_table))
            dec.max_allowed_table_size = _NO_LIMIT
        return True

    def _frame_error(self, d: Direction, sid: int, why: str) -> None:
        st = self._open.get(sid)
        if st is not None:
            st.rec.errors.append(f"{d.label}: {why}")
        else:
            self.errors.append(f"{d.label}: stream {sid}: {why}")

    # -- frames -------------------------------------------------------------------

    def _frame(self, d: Direction, frame: Frame, start: tuple, now: int) -> None:
        blk = self._block[d]
        if blk is not None:
            if isinstance(frame, ContinuationFrame) and frame.stream_id == blk.stream_id:
                blk.data += frame.data
                if "END_HEADERS" in frame.flags:
                    self._block[d] = None
                    self._header_block(d, blk, now)
                return
            self._block[d] = None
            st = self._stream(blk.stream_id, d, blk.start, create=True)
            if st is not None:
                st.rec.errors.append(f"{d.label} header block interrupted before END_HEADERS (dropped)")
                st.headers_seen[d] = True
        sid = frame.stream_id
        if isinstance(frame, DataFrame):
            st = self._stream(sid, d, start, create=True)
            if st is None:
                return
            if not st.headers_seen[d]:
                st.rec.errors.append(f"{d.label} DATA without HEADERS (stream start not captured)")
                st.headers_seen[d] = True  # say it once
            self._add_body(st, d, frame.data)
            self._side_frame(st, d, now, "END_STREAM" in frame.flags)
        elif isinstance(frame, (HeadersFrame, PushPromiseFrame)):
            push = isinstance(frame, PushPromiseFrame)
            blk = _Block(
                "push" if push else "headers",
                sid,
                frame.promised_stream_id if push else 0,
                "END_STREAM" in frame.flags,
                frame.data,
                start,
            )
            if "END_HEADERS" in frame.flags:
                self._header_block(d, blk, now)
            else:
                self._block[d] = blk
        elif isinstance(frame, ContinuationFrame):
            self._frame_error(d, sid, "CONTINUATION without HEADERS (ignored)")
        elif isinstance(frame, RstStreamFrame):
            st = self._open.get(sid)
            if st is not None:
                st.rec.reset_code = frame.error_code
                st.rec.reset_by = d
                self._touch(st, d, start, now)
                self._finish(sid)
        elif isinstance(frame, SettingsFrame):
            self._settings(d, frame)
        elif isinstance(frame, GoAwayFrame):
            self._goaway(d, frame, now)
        # PRIORITY, PING, WINDOW_UPDATE, ALTSVC and unknown types carry nothing we keep

    def _add_body(self, st: _Open, d: Direction, data: bytes) -> None:
        """Append DATA payload up to ``max_body``; sizes count every byte seen."""
        body, rec = st.bodies[d], st.rec
        seen = rec.request_body_size if d is _C2S else rec.response_body_size
        room = self.max_body - len(body)
        if len(data) > room and seen <= self.max_body:  # first overflow: say it once
            rec.errors.append(limit_note("body_size", f"{d.label} body truncated at {self.max_body} bytes"))
        body += data[: max(room, 0)] if len(data) > room else data
        if d is _C2S:
            rec.request_body_size = seen + len(data)
        else:
            rec.response_body_size = seen + len(data)

    def _stream(self, sid: int, d: Direction, start: tuple, create: bool) -> _Open | None:
        st = self._open.get(sid)
        if st is None:
            if sid in self._done or not create:
                if sid in self._done:
                    self.errors.append(f"{d.label}: frame on stream {sid} after it ended (ignored)")
                return None
            st = self._open[sid] = _Open(H2Stream(stream_id=sid))
        self._touch(st, d, start, None)
        return st

    @staticmethod
    def _touch(st: _Open, d: Direction, start: tuple, now: int | None) -> None:
        rec = st.rec
        if d is _C2S:
            if rec.request_start_ns is None:
                rec.request_start_ns, rec.request_meta = start
            if now is not None:
                rec.request_end_ns = now
        else:
            if rec.response_start_ns is None:
                rec.response_start_ns, rec.response_meta = start
            if now is not None:
                rec.response_end_ns = now

    def _side_frame(self, st: _Open, d: Direction, now: int, end_stream: bool) -> None:
        self._touch(st, d, (now, None), now)
        if end_stream:
            if d is _C2S:
                st.rec.request_complete = True
            else:
                st.rec.response_complete = True
            if st.rec.ended:
                self._finish(st.rec.stream_id)

    def _header_block(self, d: Direction, blk: _Block, now: int) -> None:
        st = self._stream(blk.stream_id, d, blk.start, create=True)
        headers, problem = self._decode(d, bytes(blk.data))
        if blk.kind == "push":
            # the promise travels on the parent stream; the promised stream gets the request
            pid = blk.promised
            if st is not None and problem:
                st.rec.errors.append(problem)
            if pid in self._open or pid in self._done:
                self._frame_error(d, pid, "PUSH_PROMISE for a stream already in use (ignored)")
                return
            promised = self._open[pid] = _Open(H2Stream(stream_id=pid, pushed_by=blk.stream_id))
            rec = promised.rec
            rec.request_headers = headers
            rec.request_start_ns, rec.request_meta = blk.start
            rec.request_end_ns = now
            rec.request_complete = True
            promised.headers_seen[_C2S] = True
            if problem:
                rec.errors.append(problem)
            return
        if st is None:
            return
        rec = st.rec
        if problem:
            rec.errors.append(problem)
        if d is _C2S:
            if not st.headers_seen[d]:
                rec.request_headers = headers
            else:
                rec.request_trailers.extend(headers)
        elif st.final_response:
            rec.response_trailers.extend(headers)
        else:
            status = next((v for n, v in headers if n == ":status"), "")
            if len(status) == 3 and status.startswith("1") and status != "101":
                rec.informational.append(headers)
            else:
                rec.response_headers = headers
                st.final_response = True
        st.headers_seen[d] = True
        self._side_frame(st, d, now, blk.end_stream)

    def _decode(self, d: Direction, block: bytes) -> tuple[list[tuple[str, str]], str | None]:
        """Headers of one block and the stream error to note (None when clean)."""
        try:
            headers, misses, notes = self._hpack[d].decode_block(block)
        except OversizedHeaderListError:
            size = self._hpack[d].max_header_list_size
            return [], limit_note("header_list_size", f"header list over {size} bytes not decoded")
        except (HPACKError, IndexError, ValueError) as exc:
            if not self._start_known[d]:
                return [], HPACK_STATE_UNKNOWN
            return [], f"headers not decodable: HPACK error ({exc})"
        if misses:
            if not self._start_known[d]:
                return headers, HPACK_STATE_UNKNOWN
            return headers, f"headers partly not decodable: {misses} unknown HPACK table entries"
        if notes:
            return headers, "; ".join(notes)
        return headers, None

    def _settings(self, d: Direction, frame: SettingsFrame) -> None:
        other = d.other
        if "ACK" in frame.flags:
            # acknowledges SETTINGS sent the other way: now they bind the encoder sending in d
            pending = self._pending_settings[other]
            if pending:
                acked = pending.pop(0)
                size = acked.get(SettingsFrame.HEADER_TABLE_SIZE)
                if size is not None and self._start_known[d]:
                    self._hpack[d].max_allowed_table_size = size
            return
        values = dict(frame.settings)
        self.settings[d].update(values)
        self._pending_settings[d].append(values)
        size = values.get(SettingsFrame.HEADER_TABLE_SIZE)
        if size is not None:
            # settings sent in d govern header blocks sent the other way
            dec = self._hpack[other]
            dec.max_allowed_table_size = max(dec.max_allowed_table_size, size)
        max_frame = values.get(SettingsFrame.MAX_FRAME_SIZE)
        if max_frame is not None:
            self._max_frame[other] = max(self._max_frame[other], max_frame)

    def _goaway(self, d: Direction, frame: GoAwayFrame, now: int) -> None:
        self.goaways.append(H2GoAway(d, now, frame.last_stream_id, frame.error_code, frame.additional_data))
        # streams opened by the receiver above last_stream_id were never processed by the sender
        receiver_parity = 1 if d is _S2C else 0
        for sid in sorted(self._open):
            if sid % 2 == receiver_parity and sid > frame.last_stream_id:
                self._open[sid].rec.errors.append(
                    f"not processed by the peer (GOAWAY last_stream_id={frame.last_stream_id}, "
                    f"error code {frame.error_code})"
                )
                self._finish(sid)

    def _finish(self, sid: int) -> None:
        st = self._open.pop(sid)
        rec = st.rec
        rec.request_body = bytes(st.bodies[_C2S])
        rec.response_body = bytes(st.bodies[_S2C])
        self._done.add(sid)
        self._out.append(rec)
