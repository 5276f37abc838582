"""Reverse Go's ``encoding/hex.Dump`` text back into bytes (protocol doc §4.3, §10.15).

eCapture's DefaultParser renders binary type-0 payloads (first byte outside 32–126)
and every payload under ``--hex`` as::

    00000000  81 7e 01 2c 48 65 6c 6c  6f 2c 20 77 6f 72 6c 64  |.~.,Hello, world|

Each line: 8 hex digits of offset, two spaces, 16 bytes as ``xx `` with one extra
space after the 8th, padding, then `` |ascii|``. The hex area is columns 10–58,
whatever the ASCII column holds (it may contain ``|`` itself).
"""

from __future__ import annotations

import re

_FIRST_LINE = re.compile(rb"00000000  [0-9a-f]{2}[ 0-9a-f]{47} \|")
_LINE = re.compile(rb"([0-9a-f]{8})  ([0-9a-f ]{49}) \|")


def looks_like_hexdump(payload: bytes) -> bool:
    """Cheap test on the first line only."""
    return _FIRST_LINE.match(payload) is not None


# Fast path for exact Go dumps: every full line is a 79-byte record, so each column of the
# text is a strided slice (C speed); columns are checked and decoded as whole byte strings.
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


def _full_lines(block: bytes, n: int) -> bytes | None:
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
    return out


def reverse_hexdump(payload: bytes) -> bytes:
    """Bytes of a Go ``hex.Dump`` text. Raises ValueError on any malformed line."""
    n = len(payload) // _STRIDE  # a Go dump's last, partial line is shorter than a record
    if n >= 8:  # (below that, the per-line loop is as fast)
        out = _full_lines(payload[: n * _STRIDE], n)
        if out is not None:
            return _reverse_lines(payload[n * _STRIDE :], out, n)
    return _reverse_lines(payload, bytearray(), 0)


def _reverse_lines(payload: bytes, out: bytearray, first: int) -> bytes:
    for n, line in enumerate(payload.split(b"\n"), first + 1):
        if not line:
            continue
        m = _LINE.match(line)
        if m is None:
            raise ValueError(f"hex dump line {n} is malformed")
        if int(m[1], 16) != len(out):
            raise ValueError(f"hex dump line {n}: offset {m[1].decode()} but {len(out)} bytes so far")
        chunk = bytes.fromhex(m[2].decode("ascii"))
        # the ASCII column must show as many characters as the line has bytes
        if not line.endswith(b"|") or len(line) - m.end() - 1 != len(chunk):
            raise ValueError(f"hex dump line {n}: ASCII column does not match")
        out += chunk
    return bytes(out)
