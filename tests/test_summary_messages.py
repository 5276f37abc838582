"""The summary's messages line accounts for every message: its parts (and the skipped lines) add up to the total,
and each part is what the sample's own tally says it holds (``fixtures/*.expected.json``, counted from the stream
by its recorder, not by ecq2pcap)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
_LINE = re.compile(r"messages\s+(\d+)\s+\((.*)\)")


def _parts(stderr: str) -> tuple[int, dict[str, int]]:
    total, inner = _LINE.search(stderr).groups()
    parts = {name: int(n) for name, n in (re.fullmatch(r"(.*\D) (\d+)", p.strip()).groups() for p in inner.split(","))}
    return int(total), parts


@pytest.mark.parametrize("name", ["v2_client.frames", "v2_server.frames", "gen_server_v2.frames", "v140_client.dump",
                                  "v15_client.frames", "v140_server.dump", "v15_server.frames"])
def test_the_parts_of_the_messages_line_add_up_to_it(conversions, name):
    res = conversions(FIXTURES / f"{name}.jsonl.gz")
    total, parts = _parts(res.stderr)
    skipped = int(re.search(r"skipped\s+(\d+)", res.stderr).group(1))
    assert sum(parts.values()) + skipped == total, parts


def test_v2_connect_and_destroy_lines_are_counted_apart(conversions):
    """v2_client: 4 connect lines of its own connections, 4 of their peers', 8 destroy lines (the sample's tally)."""
    counts = json.loads((FIXTURES / "v2_client.expected.json").read_text())["counts"]
    total, parts = _parts(conversions(FIXTURES / "v2_client.frames.jsonl.gz").stderr)
    by_type = counts["events_by_type"]
    assert total == counts["messages"]
    assert parts["v2 connect lines"] == by_type["connect"] + by_type["connect_peer"]
    assert parts["v2 destroy lines"] == by_type["destroy"]
    assert parts["events"] == by_type["data"] and parts["heartbeats"] == counts["heartbeats"]
    assert parts["process logs"] == counts["replay_logs"] + counts["live_logs"]
