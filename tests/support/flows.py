"""What the flow table hands on for a fixture (sans-IO: dialects and table only, no sinks)."""

from __future__ import annotations

from pathlib import Path

from ecq2pcap import dialects
from ecq2pcap.flows import ConnectionTable
from ecq2pcap.model import Capture, ConnectInfo
from ecq2pcap.report import Report
from ecq2pcap.sources.files import FileSource


def table_events(path: Path, **table_options) -> list:
    """Every flow event of one fixture, in order (close_all's at the end)."""
    report, state, out = Report(), dialects.StreamState(), []
    table = ConnectionTable(Report(), **table_options)
    for message in FileSource(str(path), report):
        try:
            records = dialects.decode(message, state)
        except dialects.DecodeError:
            continue
        for rec in records:
            if isinstance(rec, (Capture, ConnectInfo)):
                out.extend(table.feed(rec))
    return out + table.close_all()
