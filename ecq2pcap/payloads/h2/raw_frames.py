"""Real HTTP/2 frames → the dump model of :mod:`..h2dump` (sans-IO).

A type 0/1/2 event may carry the raw frames instead of eCapture's text dump (the parser passed them through);
:class:`~.encoder.H2Reencoder` reads them with :func:`parse_frames` so both forms are re-encoded the same way.
"""

from __future__ import annotations

from typing import Callable

from hyperframe.exceptions import HyperframeError
from hyperframe.frame import Frame

from ...limits import lost_note
from ..h2dump import DumpFrame, ParsedDump

_FRAME_NAMES = ["DATA", "HEADERS", "PRIORITY", "RST_STREAM", "SETTINGS", "PUSH_PROMISE",
                "PING", "GOAWAY", "WINDOW_UPDATE", "CONTINUATION"]  # Go's FrameType.String()


def parse_frames(data: bytes, decode_block: Callable[[DumpFrame, bytes], None], notes: list[str]) -> ParsedDump:
    """Real frames → DumpFrames; ``decode_block(frame, block)`` decodes each complete header block
    (HEADERS + CONTINUATIONs) into ``frame``. Problems are appended to ``notes``; nothing raises."""
    out = ParsedDump()
    view = memoryview(data)
    pos = 0
    pending: tuple[DumpFrame, list[bytes]] | None = None  # HEADERS awaiting CONTINUATION
    while pos + 9 <= len(data):
        try:
            fr, length = Frame.parse_frame_header(view[pos:pos + 9])
            if pos + 9 + length > len(data):
                break
            fr.parse_body(view[pos + 9:pos + 9 + length])
        except HyperframeError as exc:
            notes.append(lost_note(f"raw HTTP/2 bytes: bad frame at offset {pos} ({exc}): it and the rest"))
            return out
        pos += 9 + length
        name = _FRAME_NAMES[fr.type] if fr.type < len(_FRAME_NAMES) else f"UNKNOWN_FRAME_TYPE_{fr.type}"
        df = DumpFrame(type=name, stream_id=fr.stream_id, length=length, offset=pos - 9 - length)
        if name in ("HEADERS", "CONTINUATION"):
            if name == "HEADERS":
                df.end_stream = "END_STREAM" in fr.flags
                pending = (df, [])
                out.frames.append(df)
            elif pending is None or pending[0].stream_id != fr.stream_id:
                out.frames.append(df)  # stray CONTINUATION: omitted by the encoder
                continue
            pending[1].append(bytes(fr.data))
            if "END_HEADERS" in fr.flags:
                decode_block(pending[0], b"".join(pending[1]))
                pending = None
            continue
        if pending is not None:
            notes.append(f"raw HTTP/2 bytes: HEADERS of stream {pending[0].stream_id} not ended")
            pending[0].continuation_unsupported, pending = True, None
        if name == "DATA":
            df.data, df.end_stream = bytes(fr.data), "END_STREAM" in fr.flags
        out.frames.append(df)
    if pending is not None:
        pending[0].continuation_unsupported = True
    if pos < len(data):
        notes.append(lost_note(f"raw HTTP/2 bytes: {len(data) - pos} trailing byte(s) of an incomplete frame"))
    return out
