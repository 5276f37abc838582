"""The summary's HAR entries on a full disk are those the HAR holds: the entry whose write failed was counted by
the writer and not by the report, so one more was taken back than was counted ("HAR entries -1")."""

from __future__ import annotations

import json

import pytest

from ecq2pcap.pipeline import Pipeline
from ecq2pcap.report import Count, Report
from ecq2pcap.sinks.har import HarSink
from ecq2pcap.sources.recording import LineDecoder
from tests.limits.support import Dump
from tests.support.disks import FillingFile


def _dump(bodies: list[int]) -> list[bytes]:
    d = Dump()
    for i, size in enumerate(bodies):
        fd = d.open()
        d.send(fd, f"GET /{i} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        d.recv(fd, b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size + b"a" * size)
    return d.dump().splitlines()


@pytest.mark.parametrize("room", [300, 2_000, 1_500_000, 2_500_000, 3_200_000])
def test_the_entries_counted_are_those_the_har_holds_when_the_disk_fills(room):
    lines = _dump([100, 1_200_000, 100, 1_200_000, 100, 1_200_000, 100])  # (an entry over 1 MiB: written at once)
    report, out, decoder = Report(), FillingFile(room), LineDecoder()
    sink = HarSink(out, report=report)
    pipeline = Pipeline([sink], report)
    try:
        for i, line in enumerate(lines, 1):
            pipeline.feed(decoder.message(line, f"d:{i}"))
        pipeline.finish()
    except OSError:  # (the run ends at an output that cannot be written; the sink is finished on the way out)
        try:
            sink.finish()
        except OSError:
            pass
    held = len(json.loads(out.getvalue())["log"]["entries"])
    assert report.counts[Count.HAR_ENTRIES] == held, (held, report.counts[Count.HAR_ENTRIES])
