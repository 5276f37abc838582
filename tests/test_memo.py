"""Memo: what was computed of a key, kept for the next time, in bounded memory."""

from __future__ import annotations

from ecq2pcap.memo import Memo


def test_a_known_key_is_not_computed_again_and_false_answers_are_not_kept():
    calls = []

    def compute(key):
        calls.append(key)
        return None if key.startswith(b"bad") else key.upper()

    memo = Memo(compute, max_entries=10, max_size=8)
    for _ in range(3):
        assert (memo.known.get(b"abc") or memo.miss(b"abc")) == b"ABC"
        assert (memo.known.get(b"bad") or memo.miss(b"bad")) is None
    assert calls == [b"abc", b"bad", b"bad", b"bad"]


def test_memory_is_bounded_in_entries_and_key_size():
    memo = Memo(lambda key: len(key), max_entries=100, max_size=16)
    for i in range(1000):
        key = b"k%d" % i
        assert memo.miss(key) == len(key)
        assert len(memo.known) <= 100
    assert memo.miss(b"x" * 17) == 17 and b"x" * 17 not in memo.known  # computed, never kept
    sized = Memo(lambda pair: pair[0] + pair[1], max_entries=100, max_size=4, size=lambda pair: len(pair[0]))
    assert sized.miss((b"ab", b"c")) == b"abc" and (b"ab", b"c") in sized.known
    assert sized.miss((b"abcde", b"c")) == b"abcdec" and (b"abcde", b"c") not in sized.known
    sized.keep((b"ab", b"d"), b"learnt")  # kept on the way, as a uuid's other direction is
    sized.keep((b"abcde", b"d"), b"too big")
    assert sized.known[(b"ab", b"d")] == b"learnt" and (b"abcde", b"d") not in sized.known
