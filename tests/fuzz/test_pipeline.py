"""Whole-pipeline fuzzing (issue 7): the fixture streams, mutated message by message (flip, cut,
duplicate, reorder, splice messages of different connections and streams), converted in-process
through the CLI. No exception escapes (nor is one caught and counted as an internal error), the exit
code is a documented one, the HAR validates, scapy reads every packet of the pcapng, and tshark
reads a few of them."""

from __future__ import annotations

import base64
import contextlib
import gzip
import io
import json
import tempfile
from functools import lru_cache
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from ecq2pcap.cli import main
from tests.conftest import FIXTURES, run_tshark
from tests.fuzz.conftest import pipeline_examples
from tests.support.har import validate_har

STREAMS = sorted(p.name for p in FIXTURES.glob("*.frames.jsonl.gz"))


@lru_cache(maxsize=None)
def frames(name: str) -> tuple[tuple[str, bytes], ...]:
    """(opcode, data) of every message of a fixture stream."""
    out = []
    with gzip.open(FIXTURES / name, "rb") as f:
        for line in f:
            d = json.loads(line)
            out.append((d["opcode"], base64.b64decode(d["data_b64"])))
    return tuple(out)


@st.composite
def mutated_stream(draw) -> list[tuple[str, bytes]]:
    base = draw(st.sampled_from(STREAMS))
    msgs = list(frames(base))
    start = draw(st.integers(0, max(0, len(msgs) - 1)))
    msgs = msgs[start:start + draw(st.integers(1, 60))]  # a window keeps each example fast
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["flip", "cut", "dup", "swap", "splice", "drop"]))
        i = draw(st.integers(0, len(msgs) - 1))
        opcode, data = msgs[i]
        if op == "flip" and data:
            pos = draw(st.integers(0, len(data) - 1))
            data = data[:pos] + bytes([data[pos] ^ (1 << draw(st.integers(0, 7)))]) + data[pos + 1:]
            msgs[i] = (opcode, data)
        elif op == "cut":
            msgs[i] = (opcode, data[:draw(st.integers(0, len(data)))])
        elif op == "dup":
            msgs.insert(draw(st.integers(0, len(msgs))), msgs[i])
        elif op == "swap":
            j = draw(st.integers(0, len(msgs) - 1))
            msgs[i], msgs[j] = msgs[j], msgs[i]
        elif op == "splice":  # a message of another stream (other connections, maybe another dialect)
            other = frames(draw(st.sampled_from(STREAMS)))
            msgs.insert(draw(st.integers(0, len(msgs))), other[draw(st.integers(0, len(other) - 1))])
        elif op == "drop" and len(msgs) > 1:
            del msgs[i]
    return msgs


def _write(msgs: list[tuple[str, bytes]], path: Path) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for n, (opcode, data) in enumerate(msgs):
            f.write(json.dumps({"t": n * 0.01, "opcode": opcode, "data_b64": base64.b64encode(data).decode()}) + "\n")


def _convert(msgs: list[tuple[str, bytes]], d: str) -> Path:
    """Convert in-process; check what every example must satisfy; return the pcapng's path."""
    src, pcap, har = Path(d) / "in.jsonl", Path(d) / "o.pcapng", Path(d) / "o.har"
    _write(msgs, src)
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["convert", str(src), "-w", str(pcap), "--har", str(har), "--no-progress"])
    assert code in (0, 1), err.getvalue()
    assert "Traceback" not in err.getvalue()
    assert "internal error" not in err.getvalue(), err.getvalue()  # caught and counted, but a bug of ours
    validate_har(json.loads(har.read_bytes()))
    return pcap


@settings(max_examples=pipeline_examples())
@given(mutated_stream())
def test_convert_survives_mutated_streams(msgs):
    from scapy.utils import PcapNgReader

    with tempfile.TemporaryDirectory() as d:
        with PcapNgReader(str(_convert(msgs, d))) as reader:
            for _ in reader:  # every block parses
                pass


@settings(max_examples=4)  # tshark is slow: a few examples, even in a deep run
@given(mutated_stream())
def test_tshark_reads_mutated_conversions(tshark, msgs):
    with tempfile.TemporaryDirectory() as d:
        pcap = _convert(msgs, d)
        run_tshark(tshark, pcap)  # fails the test on any tshark error (a cut-short or unreadable block)
