"""Go's ``%q`` quoting undone (``strconv.Unquote``): how eCapture prints an HTTP/2 header field's name and value."""

from __future__ import annotations

import re

_ESCAPE = re.compile(rb"\\(?:x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|([0-7]{3})|(.))", re.S)
_SIMPLE_ESCAPES = {b"a": 7, b"b": 8, b"f": 12, b"n": 10, b"r": 13, b"t": 9, b"v": 11,
                   b"\\": 92, b'"': 34, b"'": 39}


def go_unquote(quoted: bytes) -> bytes:
    """Go ``strconv.Unquote`` for a double-quoted string (as ``%q`` prints it).

    Returns the raw bytes (Go strings are bytes). Raises ValueError on bad syntax.
    Handles \\a \\b \\f \\n \\r \\t \\v \\\\ \\" \\' \\xHH \\NNN \\uHHHH \\UHHHHHHHH.
    """
    if len(quoted) < 2 or quoted[:1] != b'"' or quoted[-1:] != b'"':
        raise ValueError("not a double-quoted string")
    return unescape(quoted[1:-1])


def unescape(body: bytes) -> bytes:
    """:func:`go_unquote` of what is between the quotes."""
    if b"\\" not in body:
        if b'"' in body or b"\n" in body:
            raise ValueError("unescaped quote or newline")
        return body
    out = bytearray()
    pos = 0
    for m in _ESCAPE.finditer(body):
        plain = body[pos:m.start()]
        if b'"' in plain or b"\n" in plain or b"\\" in plain:
            raise ValueError("unescaped quote, newline or backslash")
        out += plain
        hx, u4, u8, octal, simple = m.groups()
        if hx is not None:
            out.append(int(hx, 16))
        elif octal is not None:
            value = int(octal, 8)
            if value > 255:
                raise ValueError(f"octal escape out of range: \\{octal.decode()}")
            out.append(value)
        elif simple is not None:
            if simple not in _SIMPLE_ESCAPES:
                raise ValueError(f"unknown escape: \\{simple.decode('latin-1')}")
            out.append(_SIMPLE_ESCAPES[simple])
        else:
            cp = int(u4 or u8, 16)
            if cp > 0x10FFFF or 0xD800 <= cp <= 0xDFFF:
                raise ValueError(f"invalid code point U+{cp:X}")
            out += chr(cp).encode("utf-8")
        pos = m.end()
    tail = body[pos:]
    if b'"' in tail or b"\n" in tail or b"\\" in tail:
        raise ValueError("unescaped quote, newline or backslash")
    out += tail
    return bytes(out)


def text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def unquote_text(quoted: bytes, notes: list[str], what: str) -> str:
    """A header line's name or value (what the dump parser's field regex matched between the quotes), as text."""
    if b"\\" not in quoted:  # no escape, and then no quote either (_QUOTED takes one only escaped): as it is
        return text(quoted)
    try:
        return text(unescape(quoted))
    except ValueError as exc:
        notes.append(f"{what}: cannot unquote {quoted[:60]!r} ({exc}): kept as printed")
        return text(quoted)
