"""Damaged streams never crash the conversion: realistic sample messages with flipped bytes,
truncations, drops and reordering go through the whole pipeline; every problem must be a
counted skip or warning (no internal error), and the HAR must stay a valid document."""

from __future__ import annotations

import gzip
import io
import json
import random

import pytest

from ecq2pcap.model import Message
from ecq2pcap.pipeline import Pipeline
from ecq2pcap.report import Report
from ecq2pcap.sinks.har import HarSink
from ecq2pcap.sinks.pcapng import PcapngSink
from ecq2pcap.sources.recording import LineDecoder
from tests.support.har import validate_har

STREAMS = ["v140_client.frames.jsonl.gz", "v15_client_pace.frames.jsonl.gz", "v2_client.frames.jsonl.gz"]


def count_packets(pcapng: bytes) -> int:
    from scapy.utils import PcapNgReader

    with PcapNgReader(io.BytesIO(pcapng)) as reader:
        return sum(1 for _ in reader)


def messages(path) -> list[Message]:
    dec = LineDecoder()
    with gzip.open(path) as f:
        return [m for i, line in enumerate(f, 1) if (m := dec.message(line, f"s:{i}")) is not None]


def damaged(ms: list[Message], rng: random.Random) -> list[Message]:
    out = []
    for m in ms:
        data, r = bytearray(m.data), rng.random()
        if r < 0.05 and data:
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        elif r < 0.08 and data:
            del data[rng.randrange(len(data)) :]
        elif r < 0.10:
            continue
        out.append(Message(bytes(data), m.opcode, m.origin, m.recv_time_ns))
    if rng.random() < 0.3:
        rng.shuffle(out)
    return out


@pytest.mark.parametrize("stream", STREAMS)
def test_damaged_streams_convert_without_internal_errors(samples_dir, stream):
    original = messages(samples_dir / stream)
    rng = random.Random(stream)
    for _ in range(6):
        report = Report()
        pcap, har = io.BytesIO(), io.BytesIO()
        pipeline = Pipeline([PcapngSink(pcap, report=report), HarSink(har, report=report)], report)
        for m in damaged(original, rng):
            pipeline.feed(m)
        pipeline.finish()
        assert report.counts["internal_errors"] == 0
        validate_har(json.loads(har.getvalue()))
        # an independent reader parses every block, and the packets are those the sink says it wrote
        assert count_packets(pcap.getvalue()) == report.counts["packets"] > 0
