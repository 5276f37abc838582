"""What bytes cost written as JSON text: when a body or a WebSocket message is written as base64 instead.

Text is what people read, so it is the rule; base64 (a third larger than the bytes) only where text would cost
more memory and output than that: a str of wide characters takes up to 4 bytes per character, and JSON writes a
control byte as ``\\u0000``, 6 bytes for one. An entry is held whole in memory while it is encoded, so what its
text costs is what a run costs (4,200 WebSocket messages of NUL bytes, 64 MiB, made a 403 MB HAR and 555 MB of
memory).
"""

from __future__ import annotations

__all__ = ["LARGE_BODY", "costly_as_text", "escapes_added"]

LARGE_BODY = 1 << 20
_ESCAPED = bytes(range(32)) + b'"\\'  # JSON writes these as 2 to 6 bytes
_SIX_BYTES = bytes(sorted(set(range(32)) - set(b"\b\t\n\f\r")))  # as \u00XX: the others as 2 (\n), as '"' is


def costly_as_text(data: bytes | bytearray) -> bool:
    """A large body's rule: not ASCII, or escapes (of any kind) would outgrow base64's third."""
    if not data.isascii():
        return True
    return _count(data, _ESCAPED) * 5 > len(data) // 3


def escapes_added(data: bytes | bytearray) -> int:
    """Bytes JSON's ``\\u00XX`` escapes add to ``data`` written as text: 5 a control byte. (Quotes, backslashes and
    line ends at most double a text, as in any JSON: not counted.)"""
    return _count(data, _SIX_BYTES) * 5


def _count(data: bytes | bytearray, table: bytes) -> int:
    """How many bytes of ``data`` are in ``table``."""
    if len(data) <= LARGE_BODY:
        return len(data) - len(data.translate(None, table))
    view = memoryview(data)
    n = 0
    for i in range(0, len(data), LARGE_BODY):  # counted in slices: no copy of the whole body
        piece = view[i : i + LARGE_BODY]
        n += len(piece) - len(bytes(piece).translate(None, table))
    return n
