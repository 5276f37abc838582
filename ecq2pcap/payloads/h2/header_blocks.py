"""A dump HEADERS frame's fields as an HPACK header block (sans-IO; for :mod:`.encoder`).

The fields come from the frame's list, or are read from the dump's lines a batch at a time (a block of a
million fields holds its bytes, not a million objects); the block is encoded a batch at a time by the
direction's encoder (its table is the same whichever way a list is cut).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ..h2dump import DumpFrame, ParsedDump

_READ_NAMES = frozenset({":status", ":method", "content-length"})  # what the END_STREAM rule reads


def dump_fields(f: DumpFrame, parsed: ParsedDump, notes: list[str]) -> Iterable[list[tuple[str, str, bool]]]:
    """``(name, value, sensitive)`` of a HEADERS frame's fields, in batches: from its list, or read from the
    dump (a lazy parse)."""
    if f.headers is None:
        return parsed.field_lines(f, notes)
    return [[(k, v, idx in f.sensitive) for idx, (k, v) in enumerate(f.headers)]]


def body_change(f: DumpFrame, parsed: ParsedDump, size: int) -> str:
    """What a merged body (``size``: its length, -1 when cut) changes in its stream's fields, said; without a
    content-length, how many bytes its DATA frames held as sent (their "Frame Length" lines: the size sent, which
    the HAR's bodySize gives; padding included, which eCapture does not tell apart)."""
    change = "content-encoding: gzip dropped"
    length = False
    for batch in dump_fields(f, parsed, []):
        for k, v, _ in batch:
            if k == "content-length":
                length = True
                change += f", content-length {v} dropped" if size < 0 else f", content-length {v} → {size}"
    if not length and size >= 0:
        sid = f.stream_id
        sent = [d.length for d in parsed.frames if d.stream_id == sid and d.gzip_placeholder]
        if sent and None not in sent:
            change += f"; {sum(sent)} {SENT_IN_FRAMES}"
    return change


SENT_IN_FRAMES = "bytes sent in its DATA frames"  # (the note's words the HAR reads: its bodySize)


def encode_block(encode: Callable[[list[tuple[bytes, bytes, bool]]], bytes],
                 batches: Iterable[list[tuple[str, str, bool]]],
                 body_size: int | None) -> tuple[bytes, dict[str, str], int]:
    """``(header block, first values of the names the END_STREAM rule reads, fields kept)``, ``encode`` making the
    block of a batch of ``(name, value, sensitive)`` (the direction's encoder). With ``body_size`` (a merged body's,
    -1 when cut) ``content-encoding: gzip`` is dropped and ``content-length`` set to it (or dropped). Sensitive
    fields are never indexed; strings are plain literals (see :mod:`.encoder`)."""
    pieces = []
    values: dict[str, str] = {}
    kept = 0
    for batch in batches:
        items = []
        for k, v, secret in batch:
            if body_size is not None:
                if k == "content-encoding" and v == "gzip" or k == "content-length" and body_size < 0:
                    continue
                if k == "content-length":
                    v = str(body_size)
            if k in _READ_NAMES and k not in values:
                values[k] = v
            items.append((k.encode("utf-8", "surrogateescape"), v.encode("utf-8", "surrogateescape"), secret))
        kept += len(items)
        pieces.append(encode(items))
    if not pieces:
        pieces.append(encode([]))
    return b"".join(pieces), values, kept
