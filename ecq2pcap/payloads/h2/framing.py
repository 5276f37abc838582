"""One direction's bytes of an HTTP/2 connection cut into frames: a mixin of
:class:`~.decoder.H2PassiveDecoder` (its state: ``_buf``, ``_start_known``, ``_dead``, ``_frame_start``, ``_hpack``,
``settings``, ``errors``, ``_open``), which takes each whole frame (``_frame``).

Whether a direction's start was captured (the client's preface, the server's first SETTINGS) decides how its HPACK
table is read; a frame header no HTTP/2 peer sends (:func:`~.sniff.layout_problem`) stops that direction as not
HTTP/2; a frame whose body is malformed is said on its stream and skipped.
"""

from __future__ import annotations

import struct
from typing import Any

from hyperframe.exceptions import HyperframeError
from hyperframe.frame import Frame

from ...model import Direction
from .sniff import FRAME_HEADER, LENIENT_MAX_FRAME, PREFACE, layout_problem

_C2S = Direction.C2S
# frame types
DATA, HEADERS, PRIORITY_FRAME, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
END_STREAM = ACK = 0x1  # flags
END_HEADERS, PADDED, PRIORITY = 0x4, 0x8, 0x20
# the frames whose bodies are read here (frame_data), nearly all of a connection's: hyperframe made a Frame, its Flags
# and a set of flag names for each (~10 % of an HTTP/2 conversion); GOAWAY's, PUSH_PROMISE's and unknown types' bodies
# are read by hyperframe
_READ_HERE = frozenset((DATA, HEADERS, PRIORITY_FRAME, RST_STREAM, SETTINGS, PING, WINDOW_UPDATE, CONTINUATION))
_PLAIN = frozenset((RST_STREAM, SETTINGS, CONTINUATION))  # (bodies kept whole)
_NOTHING_KEPT = frozenset((PRIORITY_FRAME, PING))
_LARGEST_INCREMENT = (1 << 31) - 1
_UNKNOWN_START_TABLE = 1 << 16  # table assumed when the start was not captured (≥ common real ones: Chrome's 64 KiB)
_NO_LIMIT = 1 << 32


def frame_data(ftype: int, flags: int, body: memoryview) -> bytes:
    """What the body of a frame of a type in :data:`_READ_HERE` carries, as hyperframe's ``parse_body`` reads it,
    with its checks and their messages (a ValueError), once :func:`~.sniff.layout_problem` found its length right:
    DATA's payload and HEADERS' header block fragment, padding and priority taken off; CONTINUATION's fragment,
    SETTINGS' (name, value) pairs and RST_STREAM's error code whole; nothing of PRIORITY, PING and WINDOW_UPDATE,
    whose increment is checked."""
    if ftype in _PLAIN or not flags & PADDED and (ftype == DATA or ftype == HEADERS and not flags & PRIORITY):
        return body.tobytes()
    if ftype in _NOTHING_KEPT:
        return b""
    if ftype == WINDOW_UPDATE:
        if not 1 <= int.from_bytes(body, "big") <= _LARGEST_INCREMENT:
            raise ValueError("WINDOW_UPDATE increment must be between 1 to 2^31-1")
        return b""
    n = len(body)
    pad = skip = 0
    if flags & PADDED:
        if not n:
            raise ValueError("Invalid Padding data")
        pad, skip = body[0], 1
    if ftype == DATA:
        counted, data = n, body[skip : n - pad]  # (hyperframe counts DATA's pad length byte in the body, not HEADERS')
    else:
        counted = n - skip
        priority = 0
        if flags & PRIORITY:
            if counted < 5:
                raise ValueError("Invalid Priority data")
            priority = 5
        data = body[skip + priority : n - pad]
    if pad and pad >= counted:
        raise ValueError("Padding is too long.")
    return data.tobytes()


class Framing:
    def _parse(self, d: Direction, time_ns: int, meta: Any) -> None:
        buf = self._buf[d]
        if self._start_known[d] is None and not self._decide_start(d):
            return
        pos, n, consumed_any = 0, len(buf), False
        while n - pos >= 9 and not self._dead[d]:
            hi, lo, ftype, flags, sid = FRAME_HEADER.unpack_from(buf, pos)
            length = (hi << 8) | lo
            sid &= 0x7FFFFFFF
            limit = self.settings.max_frame[d]
            problem = layout_problem(length, ftype, flags, sid, max(limit, LENIENT_MAX_FRAME))
            if problem is not None:
                self._kill(d, f"not HTTP/2 ({problem})", resumable=True)
                return
            if n - pos - 9 < length:
                break
            if length > limit:  # legal only if the receiver advertised more than we saw
                self.errors.append(f"{d.label}: frame length {length} above the advertised maximum {limit}")
                self.settings.max_frame[d] = length
            start = self._frame_start[d] if not consumed_any else (time_ns, meta)
            frame = data = None
            try:
                # (what is kept is copied; the views are released before `buf` is resized)
                with memoryview(buf) as whole, whole[pos + 9 : pos + 9 + length] as body:
                    if ftype in _READ_HERE:
                        data = frame_data(ftype, flags, body)
                    else:
                        frame, _ = Frame.parse_frame_header(whole[pos : pos + 9])
                        frame.parse_body(body)
            except (HyperframeError, ValueError, struct.error) as exc:
                self._frame_error(d, sid, f"malformed frame type {ftype}: {exc}")
            pos += 9 + length
            consumed_any = True
            if data is not None or frame is not None:
                self._frame(d, ftype, flags, sid, data, frame, start, time_ns)
        if pos:
            del buf[:pos]
        if buf and consumed_any:
            self._frame_start[d] = (time_ns, meta)

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
