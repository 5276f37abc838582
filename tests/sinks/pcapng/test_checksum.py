"""The TCP checksum's payload sum: the pure-Python one and the C one (``_speedups.c``, built here from its
source whatever the install did) against the textbook word sum, the switch between them, and convert's outputs
the same bytes with the C sum as the recorded ones (made by the pure-Python code)."""

from __future__ import annotations

import importlib.util
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecq2pcap.sinks.pcapng import checksum, packets, tcp
from ecq2pcap.sinks.pcapng.checksum import SUM_PIECE, SUM_SHORT, word_sum_py
from ecq2pcap.sinks.pcapng.tcp import MAX_MSS
from tests.support.golden import GOLDEN, digests, inputs
from tests.support.pcapng import textbook_sum
from tests.support.speedups import compile_speedups, pure_python

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def compiled_sum(tmp_path_factory):
    """The C ``word_sum``, compiled from ``_speedups.c`` into a temporary folder (:func:`compile_speedups`)."""
    return compile_speedups(tmp_path_factory.mktemp("speedups")).word_sum


# lengths around each way word_sum_py takes (one %, one little-endian number, pieces) and the folds' cuts
_EDGES = sorted({n + d for n in (SUM_SHORT, SUM_PIECE, 2 * SUM_PIECE, 16384 // 8, 2048 // 8, 1024 // 8, 16384, MAX_MSS)
                 for d in (-2, -1, 0, 1, 2)} | {0, 1, 2, 3})
_DATA = dict(n=st.one_of(st.sampled_from(_EDGES), st.integers(0, 70000)),
             fill=st.sampled_from([b"\xff", b"\x00", b"\x01\x00", b"\x00\x01", None]), seed=st.integers(0, 2**32))


def _data(n, fill, seed) -> bytes:
    # all 0xFF bytes make every fold carry and the sum ≡ 0; seeded random bytes the rest
    return random.Random(seed).randbytes(n) if fill is None else (fill * n)[:n]


@settings(max_examples=200, deadline=None)
@given(**_DATA)
def test_python_sum_is_the_textbook_word_sum(n, fill, seed):
    data = _data(n, fill, seed)
    assert word_sum_py(data) % 0xFFFF == textbook_sum(data) % 0xFFFF  # (0xFFFF ≡ 0: the sum's two zeros)


def test_c_sum_is_the_textbook_word_sum(compiled_sum):
    @settings(max_examples=300, deadline=None)
    @given(**_DATA)
    def check(n, fill, seed):
        data = _data(n, fill, seed)
        assert compiled_sum(data) == word_sum_py(data) % 0xFFFF == textbook_sum(data) % 0xFFFF

    check()


def test_c_sum_takes_what_a_payload_can_be(compiled_sum):
    data = random.Random(7).randbytes(3001)
    expected = textbook_sum(data[1:]) % 0xFFFF
    for form in (data[1:], bytearray(data[1:]), memoryview(data)[1:]):
        assert compiled_sum(form) == word_sum_py(form) == expected
    for wrong in ("text", 5, None):
        with pytest.raises(TypeError):
            compiled_sum(wrong)


def _which(env: dict[str, str]) -> tuple[bool, int]:
    code = "from ecq2pcap.sinks.pcapng import checksum as c; print(c.COMPILED, c.INLINE_UPTO)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **env})
    compiled, upto = done.stdout.split()
    return compiled == "True", int(upto)


def test_the_environment_can_ask_for_the_pure_python_sum():
    assert _which({"ECQ2PCAP_PURE_PYTHON": "1"}) == (False, SUM_SHORT)
    built = importlib.util.find_spec("ecq2pcap._speedups") is not None
    assert _which({"ECQ2PCAP_PURE_PYTHON": ""}) == (built, 0 if built else SUM_SHORT)
    assert checksum.COMPILED == (built and os.environ.get("ECQ2PCAP_PURE_PYTHON", "") in ("", "0"))


_EXPECTED = json.loads(GOLDEN.read_text())
# big HTTP/1 and HTTP/2 bodies, both sides; "raw": 700-byte segments, so odd and even lengths of every size
_CASES = [f"{name} {variant}" for name in ("v140_client.dump.jsonl.gz", "v140_server.dump.jsonl.gz",
                                            "gen_server_v140.dump.jsonl.gz") for variant in ("default", "raw")]


@pytest.mark.parametrize("key", _CASES)
def test_outputs_with_the_c_sum_are_the_recorded_bytes(key, compiled_sum, monkeypatch):
    pure_python(monkeypatch)  # (the Python blocks, which call the sum: the C ones sum on their own)
    for module in (tcp, packets):  # (the callers' own names for the sum)
        monkeypatch.setattr(module, "word_sum", compiled_sum)
        monkeypatch.setattr(module, "INLINE_UPTO", 0)
    name, variant = key.rsplit(" ", 1)
    path = next(p for p in inputs() if p.name == name)
    assert digests(path, variant) == _EXPECTED[key]
