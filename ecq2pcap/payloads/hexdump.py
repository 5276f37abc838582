"""Hex dumps back into bytes: one codec, the three layouts eCapture prints (protocol doc §4.3, §10.15, §11.4).

* ``GO``: Go's ``encoding/hex.Dump``, what v1's DefaultParser makes of binary payloads (and of every payload
  under ``--hex``)::

      00000000  81 7e 01 2c 48 65 6c 6c  6f 2c 20 77 6f 72 6c 64  |.~.,Hello, world|

* ``ECAPTURE_V1``: v1's own ``dumpByteSlice`` (gotls/gnutls/nspr ``--hex``, bash), 16 bytes a line, a decimal
  offset, colour codes before the lines and a reset (and a comma) after the last one::

      0000     47 45 54 20  2F 20 48 54    54 50 2F 31  2E 31 0D 0A    GET / HTTP/1.1..

* ``ECAPTURE_V2``: v2's ``dumpByteSlice`` (``--hex`` text renderings), 32 bytes a line, a hex offset::

      0000  474554202F6F6C64 2D70616765204854  54502F312E310D0A 486F73743A203132    GET /old-page HTTP/1.1..Host: 12

Reversal reads a line's hex digits, renders the line again from those bytes and the offset so far, and
compares: anything but an exact dump raises ValueError (the caller keeps the text and says why). Exact Go
dumps of many lines take a fast path: every full line is a 79-byte record, so each column of the text is a
strided slice, checked and decoded at C speed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

__all__ = ["ECAPTURE_V1", "ECAPTURE_V2", "GO", "Layout", "looks_like_go_dump", "render", "reverse"]

_TEXT_COLUMN = bytes(b if 32 <= b <= 126 else 0x2E for b in range(256))  # the printable column: "." else


@dataclass(frozen=True)
class Layout:
    name: str
    per_line: int  # bytes on a full line
    render_line: Callable[[int, bytes], bytes]  # (offset, up to per_line bytes) → the line, without newline
    hex_area: Callable[[bytes], bytes]  # a line → the part that holds its hex digits (and spaces)
    lines: Callable[[bytes], Iterator[tuple[int, bytes]]]  # the text → (line number, line) to reverse


def _plain_lines(text: bytes) -> Iterator[tuple[int, bytes]]:
    for n, line in enumerate(text.split(b"\n"), 1):
        if line:
            yield n, line


# -- Go's encoding/hex.Dump


def _go_line(offset: int, chunk: bytes) -> bytes:
    digits = b"".join(b"%02x " % b + (b" " if i == 7 else b"") for i, b in enumerate(chunk))
    return b"%08x  %-49s |%s|" % (offset, digits, chunk.translate(_TEXT_COLUMN))


GO = Layout("Go hex.Dump", 16, _go_line, lambda line: line[10:59], _plain_lines)

# -- eCapture v1


_V1_PREFIX = re.compile(rb"(?:\x1b\[\d+m)?(?:UNKNOWN_\d+)?\t?")  # colour, the probe's name, a tab
_V1_TRAILER = re.compile(rb"(?:\x1b\[0m)?,?")  # colour reset and the "," after the dump


def _v1_line(offset: int, chunk: bytes) -> bytes:
    groups = [(b" " + g.hex(" ").upper().encode() if g else b"") + b"  " * (4 - len(g))
              for g in (chunk[k : k + 4] for k in range(0, 16, 4))]
    text = chunk.translate(_TEXT_COLUMN) + b" " * (16 - len(chunk))
    return b"%04d    %s  %s    %s  %s    %s" % (offset, *groups, text)


def _v1_lines(text: bytes) -> Iterator[tuple[int, bytes]]:
    ended = False
    for n, line in enumerate(text.split(b"\n"), 1):
        body = line[_V1_PREFIX.match(line).end() :]
        if _V1_TRAILER.fullmatch(line) or _V1_TRAILER.fullmatch(body):
            ended = ended or bool(line)
            continue
        if ended:
            raise ValueError(f"hex dump line {n}: text after the end of the dump")
        yield n, body


ECAPTURE_V1 = Layout("eCapture v1", 16, _v1_line, lambda line: line[len(line) - len(line.lstrip(b"0123456789")) : -20],
                     _v1_lines)

# -- eCapture v2


def _v2_line(offset: int, chunk: bytes) -> bytes:
    groups = [g.hex().upper().encode() + b" " * (8 - len(g)) for g in (chunk[k : k + 8] for k in range(0, 32, 8))]
    text = chunk.translate(_TEXT_COLUMN) + b" " * (32 - len(chunk))
    return b"%04X  %s %s  %s %s    %s" % (offset, *groups, text)


ECAPTURE_V2 = Layout("eCapture v2", 32, _v2_line, lambda line: line[max(line.find(b" "), 0) : -36], _plain_lines)

# -- the codec


def render(data: bytes, layout: Layout) -> bytes:
    """``data`` as ``layout`` prints it (newline-terminated lines)."""
    k = layout.per_line
    return b"".join(layout.render_line(i, data[i : i + k]) + b"\n" for i in range(0, len(data), k))


def reverse(text: bytes, layout: Layout) -> bytes:
    """The bytes behind a dump in ``layout``. Raises ValueError on anything but an exact dump."""
    out = bytearray()
    if layout is GO:
        n = len(text) // _STRIDE  # the last, partial line of a Go dump is shorter than a record
        if n >= 8:  # (below that, the per-line loop is as fast)
            fast = _go_full_lines(text[: n * _STRIDE], n)
            if fast is not None:
                out, text = fast, text[n * _STRIDE :]
    k = layout.per_line
    for n, line in layout.lines(text):
        try:
            chunk = bytes.fromhex(layout.hex_area(line).decode("ascii"))
        except ValueError:  # (UnicodeDecodeError included)
            raise ValueError(f"hex dump line {n} is malformed") from None
        if len(chunk) > k or len(out) % k:
            raise ValueError(f"hex dump line {n}: {len(out)} bytes before it, not whole lines of {k}")
        if layout.render_line(len(out), chunk) != line:
            raise ValueError(f"hex dump line {n} does not match the {layout.name} layout")
        out += chunk
    return bytes(out)


_GO_FIRST_LINE = re.compile(rb"00000000  [0-9a-f]{2}[ 0-9a-f]{47} \|")


def looks_like_go_dump(payload: bytes) -> bool:
    """Cheap test on the first line only (its offset first: every event is asked, few are dumps)."""
    return payload.startswith(b"00000000  ") and _GO_FIRST_LINE.match(payload) is not None


# -- Go's fast path: full 79-byte lines, column by column

_STRIDE = 79
_HEX_COLS = [10 + 3 * k + (k >= 8) for k in range(16)]  # first digit of byte k in a line
_SPACE_COLS = [8, 9, 34, 59] + [c + 2 for c in _HEX_COLS]  # the separators (34: the extra one after byte 8)
_NIBBLE = bytes.maketrans(b"0123456789abcdef", bytes(range(16)))
_HEXDIGITS = b"0123456789abcdef"
_offsets_cache = bytearray()


def _offset_text(n: int) -> bytes:
    """The 8-digit offsets of n full lines, concatenated (cached up to 1 MiB of data)."""
    global _offsets_cache
    if n > 65536:
        return b"".join([b"%08x" % (16 * i) for i in range(n)])
    have = len(_offsets_cache) // 8
    if have < n:
        _offsets_cache += b"".join([b"%08x" % (16 * i) for i in range(have, min(max(n, 2 * have), 65536))])
    return bytes(_offsets_cache[: 8 * n])


def _go_full_lines(block: bytes, n: int) -> bytearray | None:
    """The bytes of ``n`` full Go dump lines, or None when the block is not exactly that."""
    col = lambda c: block[c::_STRIDE]  # noqa: E731
    if block.count(b"\n") != n or col(78) != b"\n" * n or col(60) != b"|" * n or col(77) != b"|" * n:
        return None
    spaces = b" " * n
    if any(col(c) != spaces for c in _SPACE_COLS):
        return None
    offsets = _offset_text(n)
    if any(col(j) != offsets[j::8] for j in range(8)):
        return None
    out = bytearray(16 * n)
    for k, c in enumerate(_HEX_COLS):
        hi, lo = col(c), col(c + 1)
        if hi.translate(None, _HEXDIGITS) or lo.translate(None, _HEXDIGITS):
            return None
        v = int.from_bytes(hi.translate(_NIBBLE), "big") << 4 | int.from_bytes(lo.translate(_NIBBLE), "big")
        out[k::16] = v.to_bytes(n, "big")
    shown = out.translate(_TEXT_COLUMN)
    if any(col(61 + j) != shown[j::16] for j in range(16)):
        return None  # the printable column must show those bytes (the per-line path checks it too)
    return out
