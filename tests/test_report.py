"""The report's tallies read and add as the collections.Counter they stand in for (the summary lists warnings
and limits by most_common; convert -j adds the workers' counts)."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from ecq2pcap.report import Tally

steps = st.lists(st.tuples(st.sampled_from("abcde"), st.integers(1, 3)), max_size=30)


@given(steps, steps)
def test_a_tally_counts_ranks_and_adds_as_a_counter(first, second):
    tally, counter = Tally(), Counter()
    for key, n in first:
        tally[key] += n
        counter[key] += n
    assert tally["never"] == 0 and "never" not in tally  # (read as 0, not kept)
    assert dict(tally) == dict(counter) and tally.most_common() == counter.most_common()
    other = Counter()
    for key, n in second:
        other[key] += n
    tally.add(dict(other))
    counter.update(other)
    assert dict(tally) == dict(counter) and tally.most_common() == counter.most_common()
