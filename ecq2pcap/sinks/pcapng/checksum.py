"""The TCP checksum's sum over a payload: its big-endian 16-bit words added mod 0xFFFF.

:func:`word_sum` is the C function of ``ecq2pcap/_checksum.c`` when it was built and runs
(:mod:`ecq2pcap.speedups`), else :func:`word_sum_py`; both give the same number, so the same bytes.
:data:`INLINE_UPTO`: the callers sum a payload of up to this many bytes themselves, with one ``int.from_bytes`` and no call (cheaper
than :func:`word_sum_py` there; with the C sum, every payload goes to it: ~70 ns for 100 bytes against ~180).
"""

from __future__ import annotations

from itertools import repeat

from ...speedups import compiled

SUM_PIECE = 4096  # bytes per int.from_bytes in a long payload's sum
SUM_SHORT = 512  # up to this many bytes, one ``%`` of the whole number is the cheapest
_FOLDS = tuple((bits, (1 << bits) - 1) for bits in (16384, 8192, 4096, 2048, 1024))


def word_sum_py(data) -> int:
    """Ones'-complement sum (mod 0xFFFF) of ``data`` as big-endian 16-bit words.

    ``%`` divides a long number one 30-bit digit at a time (~8 ns a digit), so a payload over
    :data:`SUM_SHORT` bytes is made small first. It is read as a little-endian number, in
    pieces of :data:`SUM_PIECE` (even) bytes when longer: each piece starts at an even offset,
    so the little-endian number of the whole payload is congruent to the sum of its pieces'
    (256**2 ≡ 1), and 256 × that is the big-endian sum (a byte at an even offset weighs 256
    in it, one at an odd offset 1; no zero byte is needed after an odd length). That number is
    then folded, its high part added to its low part at 16-bit-aligned cuts (2**16 ≡ 1), down
    to ~1 Kbit before the ``%``. A 1460-byte payload's sum takes ~3.5 µs instead of ~5, a
    16 KB one's ~22 µs instead of ~28 (one ``%`` of the pieces' sum) or ~48 (of the whole)."""
    n = len(data)
    if n <= SUM_SHORT:
        x = int.from_bytes(data, "big")
        return (x << 8 if n & 1 else x) % 0xFFFF
    if n <= SUM_PIECE:
        x = int.from_bytes(data, "little")
    else:
        pieces = [data[i : i + SUM_PIECE] for i in range(0, n, SUM_PIECE)]
        x = sum(map(int.from_bytes, pieces, repeat("little")))  # type: ignore[arg-type]
    for bits, mask in _FOLDS:
        high = x >> bits
        if high:
            x = high + (x & mask)
    return x % 0xFFFF * 256 % 0xFFFF


_C = compiled()
word_sum = word_sum_py if _C is None else _C.word_sum
COMPILED = word_sum is not word_sum_py
INLINE_UPTO = 0 if COMPILED else SUM_SHORT
