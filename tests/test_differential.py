"""Optimised paths write byte-identical outputs: every fixture, every option set.

The expected digests (``fixtures/golden_outputs.json``) were produced by the code before
the speed work (straightforward per-event paths); see :mod:`tests.support.golden` for how
to regenerate them when an output change is intended. The outputs are checked with whatever
the install built (its C part or not) and with the pure-Python code whatever it built (the C
part's own run: tests/sinks/pcapng/test_packets.py).
"""

from __future__ import annotations

import json

import pytest

from tests.support.golden import GOLDEN, VARIANTS, digests, inputs
from tests.support.speedups import pure_python

EXPECTED = json.loads(GOLDEN.read_text())


def test_every_fixture_is_covered():
    assert sorted(EXPECTED) == sorted(f"{p.name} {v}" for p in inputs() for v in VARIANTS)


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_outputs_byte_identical(key):
    name, variant = key.rsplit(" ", 1)
    path = next(p for p in inputs() if p.name == name)
    assert digests(path, variant) == EXPECTED[key], (
        f"{key}: outputs differ from the recorded ones; if the change is intended, regenerate with "
        "`python3 -m tests.support.golden --write` and say why in the commit"
    )


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_outputs_byte_identical_in_pure_python(key, monkeypatch):
    pure_python(monkeypatch)
    name, variant = key.rsplit(" ", 1)
    path = next(p for p in inputs() if p.name == name)
    assert digests(path, variant) == EXPECTED[key]
