"""Numbers written in captured bytes (lengths, stream ids, window bits), read without surprises.

``int()`` also reads "²" and "١" in a str, and refuses more than 4,300 digits with a ValueError
(CPython's guard against quadratic conversion): a hostile Content-Length of 5,000 nines once ended a
conversion's connections with an internal error. Every count, length or id a capture can carry fits
in 18 digits; a longer one is treated as not a number.
"""

from __future__ import annotations

__all__ = ["MAX_DIGITS", "ascii_number"]

MAX_DIGITS = 18  # 10**18 > 2**59: more than any length, count or id in a capture


def ascii_number(text: bytes | str) -> int | None:
    """The value of ``text`` when it is 1 to :data:`MAX_DIGITS` ASCII digits, else None."""
    if 0 < len(text) <= MAX_DIGITS and text.isascii() and text.isdigit():
        return int(text)
    return None
