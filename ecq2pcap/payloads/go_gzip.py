"""Whether eCapture could open a body as gzip: Go's ``gzip.NewReader`` reads only the member's header."""

from __future__ import annotations

__all__ = ["opens_as_gzip"]


def opens_as_gzip(payload: bytes, start: int) -> bool:
    """Whether Go's ``gzip.NewReader`` opens the body at ``start``: a whole gzip header (it reads no further).

    eCapture gunzips a body whose ``Content-Encoding`` is exactly ``gzip`` and keeps the bytes as they were only
    when that reader fails (v1.x ``http_response.go``/``http_request.go`` ``Display``; a read error later keeps
    what was decoded). So a body that still starts with the gzip magic is one it could not open (a header cut
    short, or not gzip's), unless its header is whole: then it was opened, and the content is gzip data itself
    (a ``.gz`` file served gzip-encoded: it was compressed twice)."""
    n = len(payload)
    if n < start + 10 or payload[start + 2] != 8 or payload[start + 3] & 0xE0:
        return False
    flags, pos = payload[start + 3], start + 10
    if flags & 0x04:  # FEXTRA: a length, then that many bytes
        if n < pos + 2:
            return False
        pos += 2 + int.from_bytes(payload[pos : pos + 2], "little")
    for flag in (0x08, 0x10):  # FNAME, FCOMMENT: zero-terminated
        if flags & flag:
            end = payload.find(b"\0", pos)
            if end < 0:
                return False
            pos = end + 1
    if flags & 0x02:  # FHCRC
        pos += 2
    return pos <= n
