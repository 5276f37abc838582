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


@dataclass(slots=True)
class Decoded:
    """Result of :func:`decode_content`."""

    data: bytes  # the decoded body (or the input when nothing could be decoded)
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


def decode_content(body: bytes, content_encoding: str | None, *, cap: int = DEFAULT_CAP) -> Decoded:
    """Remove the content codings listed in ``content_encoding`` (last applied, first removed).

    Stops at the first layer that is not what it claims (kept as is, with a note); the
    layers below it stay encoded. The output never exceeds ``cap`` bytes.
    """
    result = Decoded(bytes(body))
    for coding in reversed(parse_codings(content_encoding)):
        decoder = _DECODERS.get(coding)
        if decoder is None:
            result.notes.append(f"content coding {coding!r} not supported: body kept encoded")
            break
        if not result.data:
            break  # nothing to decode (bodiless response, body not captured)
        try:
            data, complete = decoder(result.data, cap)
        except _Failed as exc:
            result.notes.append(str(exc))
            result.error = not exc.already_decoded
            break
        if not complete:
            result.complete = False
            if len(data) > cap:
                data = data[:cap]
                result.notes.append(limit_note("body_size", f"{coding} body decodes to more than {cap} bytes: cut at {cap}"))
            else:
                result.notes.append(f"{coding} stream incomplete (body truncated?): {len(data)} bytes decoded")
        result.data = data
        result.applied.append(coding)
        if not complete:
            break
    return result


# Each decoder returns (data, complete); len(data) > cap means "cut at the cap".


def _gzip(data: bytes, cap: int) -> tuple[bytes, bool]:
    if not data.startswith(_GZIP_MAGIC):
        raise _already("gzip", "no gzip magic")
    out: list[bytes] = []
    total = 0
    rest = data
    while True:  # gzip files may hold several members
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            piece = d.decompress(rest, cap + 1 - total)
        except zlib.error as exc:
            if not out:
                raise _Failed(f"gzip data corrupt ({exc}): raw body kept") from None
            return b"".join(out), False
        out.append(piece)
        total += len(piece)
        if total > cap:
            return b"".join(out), False
        if not d.eof:
            return b"".join(out), False
        rest = d.unused_data
        if not rest.startswith(_GZIP_MAGIC):
            # trailing bytes after the last member (often padding): ignored like gzip(1) does
            return b"".join(out), True


def _deflate(data: bytes, cap: int) -> tuple[bytes, bool]:
    # "deflate" is zlib-wrapped per the RFC, but some servers send raw deflate
    zlib_header = len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
    d = zlib.decompressobj(zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS)
    try:
        out = d.decompress(data, cap + 1)
    except zlib.error as exc:
        if zlib_header:
            raise _Failed(f"deflate data corrupt ({exc}): raw body kept") from None
        raise _already("deflate", "not deflate data") from None
    return out, d.eof and len(out) <= cap


def _brotli(data: bytes, cap: int) -> tuple[bytes, bool]:
    d = brotli.Decompressor()
    out: list[bytes] = []
    total = 0
    try:
        piece = d.process(data, output_buffer_limit=cap + 1)
        while True:
            out.append(piece)
            total += len(piece)
            if total > cap or d.can_accept_more_data():
                break
            piece = d.process(b"", output_buffer_limit=cap + 1 - total)
            if not piece:
                break
    except brotli.error:
        if not out and not total:
            raise _already("br", "not brotli data") from None
        raise _Failed("brotli data corrupt: raw body kept") from None
    return b"".join(out), d.is_finished() and total <= cap


def _zstd(data: bytes, cap: int) -> tuple[bytes, bool]:
    if not data.startswith(_ZSTD_MAGIC):
        raise _already("zstd", "no zstd magic")
    dctx = zstandard.ZstdDecompressor()
    try:
        # bounded read first: a zstd bomb never materializes beyond cap + 1 bytes
        reader = dctx.stream_reader(data, read_across_frames=True)
        head = reader.read(cap + 1)
        while len(head) <= cap:
            more = reader.read(cap + 1 - len(head))
            if not more:
                break
            head += more
        if len(head) > cap:
            return head, False
        # within the cap: decode frame by frame to learn whether the stream was complete
        out: list[bytes] = []
        rest = data
        while rest:
            d = dctx.decompressobj()
            out.append(d.decompress(rest))
            if not d.eof:
                return b"".join(out), False
            rest = d.unused_data
        return b"".join(out), True
    except zstandard.ZstdError as exc:
        raise _Failed(f"zstd data corrupt ({exc}): raw body kept") from None


_DECODERS = {
    "gzip": _gzip,
    "x-gzip": _gzip,
    "deflate": _deflate,
    "br": _brotli,
    "zstd": _zstd,
}
