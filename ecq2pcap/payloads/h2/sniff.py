"""HTTP/2 on the wire: the client preface, frame-header sanity, and the tests that tell a
connection's bytes are HTTP/2 (one place for "is this HTTP/2?")."""

from __future__ import annotations

import struct

from ...model import Direction

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

FRAME_HEADER = struct.Struct(">HBBBL")  # 24-bit length split as H+B, type, flags, stream id
DEFAULT_MAX_FRAME = 16_384
LENIENT_MAX_FRAME = 1 << 20  # Go's servers advertise 1 MiB; anything above is "absurd" unless advertised

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


def layout_problem(length: int, ftype: int, flags: int, stream_id: int, max_len: int) -> str | None:
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


def credible_frame(length: int, ftype: int, flags: int, stream_id: int, max_len: int) -> bool:
    """A frame header of a known type, its defined flags only, and a layout that type allows."""
    defined = _DEFINED_FLAGS.get(ftype)
    return defined is not None and not flags & ~defined and layout_problem(length, ftype, flags, stream_id,
                                                                          max_len) is None


def plausible_frames(data: bytes, max_len: int = DEFAULT_MAX_FRAME) -> bool:
    """True when ``data`` starts with at least one frame header and every header up to the
    end of ``data`` is a well-formed frame of a known type and size, at most ``max_len`` (a sniffing test:
    stricter than decoding, which accepts unknown types and larger advertised sizes)."""
    pos, seen = 0, 0
    while pos + 9 <= len(data):
        hi, lo, ftype, flags, sid = FRAME_HEADER.unpack_from(data, pos)
        length = (hi << 8) | lo
        if not credible_frame(length, ftype, flags, sid & 0x7FFFFFFF, max_len):
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
    # client bytes that neither start the preface (a "P" first) nor a frame of at most 16,384 bytes (a zero first):
    # HTTP/1's text, a letter first, sniffed on every connection's first bytes (the reading below: ~10k instructions)
    if c2s_first_bytes and c2s_first_bytes[0] != 0 and c2s_first_bytes[0] != PREFACE[0]:
        return False
    c2s, s2c = bytes(c2s_first_bytes[:64]), bytes(s2c_first_bytes[:4096])
    if len(c2s) >= 3 and PREFACE.startswith(c2s[: len(PREFACE)]):
        return True  # the preface, or the start of it
    if not c2s and not s2c:
        return False
    if not c2s:  # the server speaks first: its preface is a SETTINGS frame
        return len(s2c) >= 9 and s2c[3] == 0x4 and plausible_frames(s2c)
    return plausible_frames(bytes(c2s_first_bytes[:4096])) and (not s2c or plausible_frames(s2c))


def starts_h2_connection(direction: Direction, data: bytes) -> bool:
    """True when a connection's first bytes in ``direction`` open an HTTP/2 connection:
    (at least 4 bytes of) the client preface, or the server's SETTINGS frame on stream 0."""
    if direction is Direction.C2S:
        n = min(len(data), len(PREFACE))
        return n >= 4 and data[:n] == PREFACE[:n]
    return len(data) >= 9 and data[3] == 0x04 and data[4] in (0, 1) and data[5:9] == b"\0\0\0\0"
