"""What was worked out about a small, repeating input, kept for the next time it comes (:class:`Memo`).

A client sends the same ``User-Agent``, ``Accept`` and ``Host`` lines in every request, a server
the same ``Server`` and ``Content-Type`` lines, and both talk between the same few addresses:
parsing asks the same questions of the same bytes again and again. A :class:`Memo` answers them
with one dict lookup (~0.2k instructions) instead of a regex match and a few calls (~5k).

Memory stays bounded on any input: only small keys are kept, and at most ``max_entries`` of
them (then it starts again: a flood of distinct keys costs their computation, nothing more).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

__all__ = ["Memo", "KEYS_KEPT", "KEY_KEPT_SIZE"]

# e.g. 4,096 header lines of at most 256 bytes: 1 MiB of keys, ~2 MiB with what they map to (the three header
# line memos full of 256-byte lines: 5.2 MiB, measured with tracemalloc)
KEYS_KEPT, KEY_KEPT_SIZE = 4096, 256


class Memo:
    """``memo.known.get(key) or memo.miss(key)`` is ``compute(key)``, kept when ``size(key) <= max_size``.

    Callers look up :attr:`known` (a plain dict: its ``get`` is the cheapest lookup there is) and call
    :meth:`miss` when it has nothing; ``compute`` returns a true value for a key worth keeping (a
    false one, e.g. None for a line that does not parse, is computed again next time)."""

    __slots__ = ("known", "compute", "size", "max_size", "max_entries")

    def __init__(self, compute: Callable[[Any], Any], *, max_entries: int = KEYS_KEPT, max_size: int = KEY_KEPT_SIZE,
                 size: Callable[[Any], int] = len) -> None:
        self.known: dict = {}
        self.compute = compute
        self.size = size
        self.max_size = max_size
        self.max_entries = max_entries

    def miss(self, key: Hashable) -> Any:
        value = self.compute(key)
        if value and self.size(key) <= self.max_size:  # (keep's work written out: ~2 misses an event)
            known = self.known
            if len(known) >= self.max_entries:
                known.clear()
            known[key] = value
        return value

    def keep(self, key: Hashable, value: Any) -> None:
        """Keep ``value`` for ``key`` when ``key`` is small enough (also what ``compute`` learnt of
        another key on the way: a uuid's other direction)."""
        if self.size(key) <= self.max_size:
            known = self.known
            if len(known) >= self.max_entries:
                known.clear()
            known[key] = value
