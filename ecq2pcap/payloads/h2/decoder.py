"""Passive, sans-IO HTTP/2 decoder for ONE connection (its framing in :mod:`.framing`, no h2 state machine).

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
  decide what is *noted*, never what is dropped. (One bounds memory: past the
  connection's buffer, the stream open longest ends early; what comes for it later
  opens it again, as an entry of its own that says so.)
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

from typing import Any

from hyperframe.frame import Frame, GoAwayFrame

from ...limits import DEFAULT_LIMITS, limit_note
from ...model import Direction
from .bounds import OPEN_STREAM_COST, REOPENED, StreamBounds
from .framing import (ACK, CONTINUATION, DATA, END_HEADERS, END_STREAM, GOAWAY, HEADERS, PUSH_PROMISE, RST_STREAM,
                      SETTINGS, Framing)
from .losses import Losses
from .settings import SettingsLedger
from .streams import H2GoAway, H2Stream, _Block, _Open
from .tolerant_hpack import PassiveHpack, decode_headers

# A header block is kept up to this many times --max-header-list bytes: its CONTINUATION frames may go on without
# END_HEADERS for ever (they were all kept: 439 MB for 400 MB of them, whatever the limits). A field's encoded bytes
# are at most ~5 times what it adds to the list (a Huffman code is at most 30 bits a byte; integers are bounded), so
# the field that takes the list over the limit starts within what is kept, and decoding it changes the HPACK table
# as decoding the whole block would have
BLOCK_PER_LIST = 8

__all__ = ["H2PassiveDecoder"]

_C2S, _S2C = Direction.C2S, Direction.S2C
_DEFAULT_MAX_BODY = 64 << 20


class H2PassiveDecoder(Framing, StreamBounds, Losses):
    """Decode one HTTP/2 connection from the bytes of both directions.

    Attributes worth reading after/while feeding: ``errors`` (connection-level
    problems), ``goaways``, ``settings.sent`` (last values sent per direction),
    ``preface_seen`` (None until the first client bytes decide it).
    """

    def __init__(self, *, max_body: int = _DEFAULT_MAX_BODY, max_table: int = DEFAULT_LIMITS.hpack_table_size,
                 max_header_list: int = DEFAULT_LIMITS.header_list_size,
                 max_buffer: int = DEFAULT_LIMITS.connection_buffer) -> None:
        self.max_body = max_body
        self.max_open = max(1, max_buffer // OPEN_STREAM_COST)  # streams open at once (see .bounds)
        self._early: dict[int, None] = {}  # streams that ended early, not in _done: a later frame reopens one
        self.errors: list[str] = []
        self.goaways: list[H2GoAway] = []
        self.settings = SettingsLedger()  # .sent[d]: last values sent per direction
        self.preface_seen: bool | None = None
        self._buf = (bytearray(), bytearray())
        self._frame_start: list[tuple[int, Any]] = [(0, None), (0, None)]
        self._hpack = (PassiveHpack(max_table, max_header_list), PassiveHpack(max_table, max_header_list))
        self._start_known: list[bool | None] = [None, None]
        self._dead = [False, False]
        self._resumable = [False, False]  # (dead for bytes that are not HTTP/2: Losses._resume)
        self._block: list[_Block | None] = [None, None]
        self._max_block = BLOCK_PER_LIST * max_header_list  # (see BLOCK_PER_LIST)
        self._open: dict[int, _Open] = {}
        self._done: dict[int, None] = {}  # streams ended, oldest first (the latest DONE_KEPT: see .bounds)
        self._out: list[H2Stream] = []
        self._closed = False

    # -- public ---------------------------------------------------------------

    def feed(self, direction: Direction | int, data: bytes, time_ns: int, meta: Any = None) -> list[H2Stream]:
        """Add bytes that travelled ``direction``; return the streams that ended."""
        d = Direction(direction)
        if self._closed or not data or self._dead[d] and not self._resume(d, data):
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
        for blk in self._block:
            if blk is not None:
                n += len(blk.data)
        for st in self._open.values():
            n += len(st.bodies[0]) + len(st.bodies[1])
        return n

    def close(self, time_ns: int) -> list[H2Stream]:
        """End of the connection: return every stream not yet emitted (incomplete ones too)."""
        if self._closed:
            return self._take()
        self._closed = True
        for d in (_C2S, _S2C):
            self._end_block(d, "header block incomplete at end of capture (no END_HEADERS)")
            if self._buf[d] and not self._dead[d]:
                self._partial_frame(d)
            self._buf[d].clear()
        for sid in sorted(self._open):
            self._open[sid].rec.open_at_end = True
            self._finish(sid)
        return self._take()

    # -- framing ----------------------------------------------------------------

    def _take(self) -> list[H2Stream]:
        out, self._out = self._out, []
        return out

    # -- frames -------------------------------------------------------------------

    def _frame(self, d: Direction, ftype: int, flags: int, sid: int, data: bytes | None, frame: Frame | None,
               start: tuple, now: int) -> None:
        """One whole frame: its type, flags and stream, and ``data`` (DATA, HEADERS, CONTINUATION: their bodies read
        by :func:`~.framing.frame_data`) or ``frame`` (GOAWAY, PUSH_PROMISE and unknown types, as hyperframe read
        them)."""
        blk = self._block[d]
        if blk is not None:
            if ftype == CONTINUATION and sid == blk.stream_id:
                self._add_to_block(blk, data)
                if flags & END_HEADERS:
                    self._block[d] = None
                    self._header_block(d, blk, now)
                return
            self._block[d] = None
            st = self._stream(blk.stream_id, d, blk.start, create=True)
            if st is not None:
                st.rec.errors.append(f"{d.label} header block interrupted before END_HEADERS (dropped)")
                st.headers_seen[d] = True
        if ftype == DATA:
            st = self._stream(sid, d, start, create=True)
            if st is None:
                return
            if not st.headers_seen[d]:
                st.rec.errors.append(f"{d.label} DATA without HEADERS (stream start not captured)")
                st.headers_seen[d] = True  # say it once
            self._add_body(st, d, data)
            self._side_frame(st, d, now, bool(flags & END_STREAM))
        elif ftype == HEADERS or ftype == PUSH_PROMISE:
            push = ftype == PUSH_PROMISE  # (its data as hyperframe read it; END_STREAM is not one of its flags)
            blk = _Block("push" if push else "headers", sid, frame.promised_stream_id if push else 0,
                         not push and bool(flags & END_STREAM), b"", start)
            self._add_to_block(blk, frame.data if push else data)
            if flags & END_HEADERS:
                self._header_block(d, blk, now)
            else:
                self._block[d] = blk
        elif ftype == CONTINUATION:
            self._frame_error(d, sid, "CONTINUATION without HEADERS (ignored)")
        elif ftype == RST_STREAM:
            st = self._open.get(sid)
            if st is not None:
                st.rec.reset_code = int.from_bytes(data, "big")
                st.rec.reset_by = d
                self._touch(st, d, start, now)
                self._finish(sid)
        elif ftype == SETTINGS:
            self.settings.record(d, bool(flags & ACK), data, self._hpack, self._start_known[d])
        elif ftype == GOAWAY:
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
            self._make_room()
            st = self._open[sid] = _Open(H2Stream(stream_id=sid))
            if self._early.pop(sid, 0) is None:
                st.rec.errors.append(REOPENED)
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

    def _add_to_block(self, blk: _Block, data: bytes) -> None:
        """A header block's next fragment, kept up to :attr:`_max_block` bytes (past it, the block is ``over``)."""
        room = self._max_block - len(blk.data)
        if len(data) > room:
            blk.over = True
            data = data[: max(room, 0)]
        blk.data += data

    def _header_block(self, d: Direction, blk: _Block, now: int) -> None:
        st = self._stream(blk.stream_id, d, blk.start, create=True)
        headers, problem = decode_headers(self._hpack[d], bytes(blk.data), bool(self._start_known[d]))
        if blk.over:  # (what it kept decoded all the same, for the HPACK table's entries: see BLOCK_PER_LIST)
            headers, problem = [], limit_note("header_list_size", f"header block over {self._max_block:,} bytes "
                                                                  "not decoded")
        if blk.kind == "push":
            # the promise travels on the parent stream; the promised stream gets the request
            pid = blk.promised
            if st is not None and problem:
                st.rec.errors.append(problem)
            if pid in self._open or pid in self._done:
                self._frame_error(d, pid, "PUSH_PROMISE for a stream already in use (ignored)")
                return
            self._make_room()
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
        self._ended(sid)
        self._out.append(rec)
