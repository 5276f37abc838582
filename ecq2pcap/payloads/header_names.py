"""A header line's name, read once per name: HTTP/1 heads repeat names even where their values
change every time (Cookie, ETag, Authorization, Date), so what a name is (a token or not, its
lower-cased form) is kept by name (:class:`~ecq2pcap.memo.Memo`), not by line."""

from __future__ import annotations

import re

from ..memo import Memo

__all__ = ["TOKEN", "field_name"]

# RFC 9110 §5.6.2: token = 1*tchar; §5.1: field-name = token
TOKEN = rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_TOKEN = re.compile(TOKEN)


def _lowered(name: bytes) -> bytes | None:
    """``name`` lower-cased when it is a token, else None."""
    return name.lower() if _TOKEN.fullmatch(name) else None


_NAMES = Memo(_lowered)


def field_name(line: bytes) -> tuple[bytes, bytes, int] | None:
    """(name, name lower-cased, where the colon is) of a header line; None when it has no colon
    or what is before its first colon is not a token."""
    colon = line.find(b":")
    if colon < 1:
        return None
    name = line[:colon]
    lowered = _NAMES.known.get(name) or _NAMES.miss(name)
    return None if lowered is None else (name, lowered, colon)
