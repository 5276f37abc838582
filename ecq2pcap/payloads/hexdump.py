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


def reverse_hexdump(payload: bytes) -> bytes:
    """Bytes of a Go ``hex.Dump`` text. Raises ValueError on any malformed line."""
    out = bytearray()
    for n, line in enumerate(payload.split(b"\n"), 1):
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
