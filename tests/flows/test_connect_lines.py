"""The v2 connect lines the placement remembers: forgotten by capture time once their connection is gone."""

import random
from collections import OrderedDict

import pytest

from ecq2pcap.flows.placement import Placement
from ecq2pcap.model import Tuple

SECOND = 1_000_000_000


def _full_scan(known: dict, now: int, old: int, alive) -> dict:
    """What a sweep leaves, read off every line (the rule, without the shortcut of reading only the old ones)."""
    out = {}
    for key, (tup, t) in known.items():
        if not t:
            out[key] = (tup, now)
        elif t >= old or alive(key, tup):
            out[key] = (tup, t)
    return out


@pytest.mark.parametrize("seed", range(40))
def test_a_sweep_forgets_what_reading_every_line_forgets(seed):
    """Lines learnt (some before any capture time, some again later), connections alive or gone, sweeps at a
    forward-going clock: after each sweep the lines kept, and their times, are those the full reading keeps."""
    rng = random.Random(seed)
    p = Placement()
    clock, window = 0, rng.choice((2, 5, 30)) * SECOND
    alive_keys: set = set()
    for _ in range(400):
        op = rng.random()
        if op < 0.55:
            pid, fd = 7, rng.randrange(60)
            p.learn(pid, fd, Tuple("10.0.0.1", 1000 + fd, "10.0.0.2", 443), clock)
            if rng.random() < 0.3:
                alive_keys.add((pid, fd))
        elif op < 0.75:
            clock += rng.randrange(0, 3 * SECOND)  # (the first lines come before any time: clock 0)
        elif op < 0.85 and alive_keys:
            alive_keys.discard(rng.choice(sorted(alive_keys)))
        else:
            def alive(key, tup):
                return key in alive_keys
            expected = _full_scan(dict(p._known), clock, clock - window, alive)
            p.forget_old(clock, clock - window, alive)
            assert dict(p._known) == expected
            times = [t for _, t in p._known.values()]
            assert times == sorted(times)  # (the order the shortcut relies on)


def test_a_sweep_reads_only_the_old_lines():
    """With 10,000 lines younger than the window behind 3 old ones, a sweep reads the 3 and the first young line,
    not the rest (reading all of them at each second of capture time was 18 % of a v2 conversion)."""
    p = Placement()
    for fd in range(3):
        p.learn(7, fd, Tuple("10.0.0.1", 1000 + fd, "10.0.0.2", 443), 1 * SECOND)
    for fd in range(3, 10_003):
        p.learn(7, fd, Tuple("10.0.0.1", fd % 60000 + 1, "10.0.0.2", 443), 100 * SECOND)
    read = []

    class Lines(OrderedDict):
        def items(self):
            for item in super().items():
                read.append(item[0])
                yield item

    p._known = Lines(p._known)
    p.forget_old(200 * SECOND, 50 * SECOND, lambda key, tup: key == (7, 1))
    assert read == [(7, 0), (7, 1), (7, 2), (7, 3)]
    assert p.tuple_of(7, 0) is None and p.tuple_of(7, 1) is not None and p.tuple_of(7, 2) is None
    assert len(p._known) == 10_001
