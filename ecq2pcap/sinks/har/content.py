"""Content-Encoding decoding for HAR ``content.text`` (gzip, deflate, br, zstd, stacked).

Every decoder streams with a bounded output (``cap``, 64 MiB by default): a bigger body is
cut at the cap and says so. Nothing here raises on bad data: a body that claims a coding
it does not have is kept as is. That is the normal case for eCapture v1.x renderings,
whose bodies were already gunzipped while ``Content-Encoding: gzip`` stayed (protocol doc
§4.3), so a gzip body without the gzip magic is taken as *already decoded* and never
decoded twice. Corrupt data keeps the raw bytes and a note.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import brotli
import zstandard

from ...limits import limit_note

__all__ = ["DEFAULT_CAP", "Decoded", "decode_content", "parse_codings"]

DEFAULT_CAP = 64 * 1024 * 1024

_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_STEP = 1 << 20  # output bytes per decoder call


@dataclass(slots=True)
class Decoded:
    """Result of :func:`decode_content`."""

    data: bytes | bytearray  # the decoded body (or the input, uncopied, when nothing was decoded)
    applied: list[str] = field(default_factory=list)  # codings removed, in the order removed
    notes: list[str] = field(default_factory=list)  # human phrases: already decoded, truncated, errors
    complete: bool = True  # False when the encoded stream ended early or the cap cut it
    error: bool = False  # True when a decoder rejected the data (raw bytes kept from that layer on)


class _Failed(Exception):
    """A coding layer that could not be removed; the text is the note."""

    def __init__(self, note: str, *, already_decoded: bool = False) -> None:
        super().__init__(note)
        self.already_decoded = already_decoded


def _already(coding: str, why: str) -> _Failed:
    return _Failed(f"Content-Encoding {coding} but {why}: body kept as is (already decoded)", already_decoded=True)


def parse_codings(value: str | None) -> list[str]:
    """``"gzip, br"`` → ``["gzip", "br"]`` (lower-case; ``identity`` dropped)."""
    if not value:
        return []
    return [c for c in (p.strip().lower() for p in value.split(",")) if c and c != "identity"]


def decode_content(body: bytes | bytearray, content_encoding: str | None, *, cap: int = DEFAULT_CAP) -> Decoded:
    """Remove the content codings listed in ``content_encoding`` (last applied, first removed).

    Stops at the first layer that is not what it claims (kept as is, with a note); the
    layers below it stay encoded. Decoding streams: no layer ever holds more than ``cap``
    bytes of output (plus one decoder step), however much the data would inflate to.
    ``body`` is not copied when no coding applies.
    """
    result = Decoded(body)
    for coding in reversed(parse_codings(content_encoding)):
        decoder = _DECODERS.get(coding)
        if decoder is None:
            result.notes.append(f"content coding {coding!r} not supported: body kept encoded")
            break
        if not result.data:
            break  # nothing to decode (bodiless response, body not captured)
        out = _Output(cap)
        try:
            complete = decoder(result.data, out)
        except _Failed as exc:
            result.notes.append(str(exc))
            result.error = not exc.already_decoded
            break
        except _Full:
            complete = False
        data = out.take()
        if out.full:
            result.notes.append(limit_note("body_size", f"{coding} body decodes to more than {cap} bytes: cut at {cap}"))
        elif not complete:
            result.notes.append(f"{coding} stream incomplete (body truncated?): {len(data)} bytes decoded")
        result.data = data
        result.applied.append(coding)
        if not complete:
            result.complete = False
            break
    return result


class _Full(Exception):
    """The output reached the cap and more would follow."""


class _Output:
    """Decoded pieces up to ``cap`` bytes; one more byte raises :class:`_Full`."""

    __slots__ = ("cap", "pieces", "size", "full")

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.pieces: list[bytes] = []
        self.size = 0
        self.full = False

    @property
    def room(self) -> int:
        """How many more bytes fit, plus one to learn whether the cap is passed."""
        return self.cap - self.size + 1

    def add(self, piece: bytes) -> None:
        if self.size + len(piece) > self.cap:
            piece = piece[: self.cap - self.size]
            self.full = True
        if piece:
            self.pieces.append(piece)
            self.size += len(piece)
        if self.full:
            raise _Full

    def take(self) -> bytes:
        pieces, self.pieces = self.pieces, []
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)


# Each decoder adds its output to ``out`` (which raises _Full at the cap) and returns
# whether the encoded stream was complete.


def _gzip(data: bytes | bytearray, out: _Output) -> bool:
    if not data.startswith(_GZIP_MAGIC):
        raise _already("gzip", "no gzip magic")
    rest = data
    while True:  # gzip files may hold several members
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            _inflate(d, rest, out)
        except zlib.error as exc:
            if not out.size:
                raise _Failed(f"gzip data corrupt ({exc}): raw body kept") from None
            return False
        if not d.eof:
            return False
        rest = d.unused_data
        if not rest.startswith(_GZIP_MAGIC):
            # trailing bytes after the last member (often padding): ignored like gzip(1) does
            return True


def _inflate(d, data: bytes | bytearray, out: _Output) -> None:
    """Run zlib decompressor ``d`` over ``data`` in output steps the cap bounds."""
    while True:
        piece = d.decompress(data, min(out.room, _STEP))
        out.add(piece)
        data = d.unconsumed_tail
        if d.eof or (not data and len(piece) < _STEP):
            if not d.eof:  # all input taken: whatever zlib still holds
                out.add(d.flush())
            return


def _deflate(data: bytes | bytearray, out: _Output) -> bool:
    # "deflate" is zlib-wrapped per the RFC, but some servers send raw deflate
    zlib_header = len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
    d = zlib.decompressobj(zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS)
    try:
        _inflate(d, data, out)
    except zlib.error as exc:
        if zlib_header:
            raise _Failed(f"deflate data corrupt ({exc}): raw body kept") from None
        if out.size:
            return False
        raise _already("deflate", "not deflate data") from None
    return d.eof


def _brotli(data: bytes | bytearray, out: _Output) -> bool:
    d = brotli.Decompressor()
    try:
        piece = d.process(data, output_buffer_limit=min(out.room, _STEP))
        while True:
            out.add(piece)
            if d.is_finished() or d.can_accept_more_data():
                break  # done, or all input taken and no output pending (a truncated stream)
            piece = d.process(b"", output_buffer_limit=min(out.room, _STEP))
    except brotli.error:
        if not out.size:
            raise _already("br", "not brotli data") from None
        raise _Failed("brotli data corrupt: raw body kept") from None
    if not out.size and not d.is_finished():  # (brotli has no magic number: bytes its decoder took for a stream's
        raise _already("br", "no data decodes from it")  # start, nothing coming of them, are no brotli's; some
    return d.is_finished()  # gzip headers are, by their mtime bytes)


_ZSTD_IN_STEP = 512  # compressed bytes per call: at most ~16 MiB of output (RLE blocks: 4 bytes → 128 KiB)


def _zstd(data: bytes | bytearray, out: _Output) -> bool:
    if not data.startswith(_ZSTD_MAGIC):
        raise _already("zstd", "no zstd magic")
    dctx = zstandard.ZstdDecompressor()
    view = memoryview(data)
    pos = 0
    try:
        while pos < len(data):  # frame by frame, fed in small steps so a bomb never inflates at once
            d = dctx.decompressobj()
            while not d.eof and pos < len(data):
                step = view[pos : pos + _ZSTD_IN_STEP]
                pos += len(step)
                out.add(d.decompress(step))
            if not d.eof:
                return False
            pos -= len(d.unused_data)
            if not data.startswith(_ZSTD_MAGIC, pos):
                return not data[pos:].strip(b"\0")  # padding after the last frame is harmless
        return True
    except zstandard.ZstdError as exc:
        raise _Failed(f"zstd data corrupt ({exc}): raw body kept") from None


_DECODERS = {
    "gzip": _gzip,
    "x-gzip": _gzip,
    "deflate": _deflate,
    "br": _brotli,
    "zstd": _zstd,
}
