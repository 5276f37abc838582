"""With --pid/--comm/--host/--port, the summary's "out of time order" counts what the pcapng written has: a capture
of a connection the filters left out, and a kept capture placed after only left-out ones, were counted (found by a
fuzz run: "out of time order 1 ... the pcapng goes back in time there" with no packet written, capinfos saying
strict time order). Checked against capinfos, with -j 1 and 2."""

from __future__ import annotations

import subprocess

import pytest

from tests.support.cli import run_main
from tests.support.curl_events import T, exchange

# fd 5, 6 and 8's exchanges are read in time order; fd 7's, captured before fd 6's, comes after fd 6's was released
# (fd 8's moved the clock past the reorder window): the pcapng goes back in time at its request and response
# (tests/test_out_of_order_count.py)
LATE = exchange(T + 1, 5) + exchange(T + 10, 6) + exchange(T + 20, 8) + exchange(T + 3, 7)


def _convert(tmp_path, jobs: int, *options: str) -> tuple[bool, int]:
    """(capinfos says strict time order, the summary's out-of-time-order count) of LATE's conversion."""
    dump = tmp_path / "in.jsonl"
    dump.write_text("\n".join(LATE) + "\n")
    out = tmp_path / f"j{jobs}.pcapng"
    p = run_main("convert", str(dump), "-w", str(out), "-j", str(jobs), "--no-progress", *options, text=True)
    assert p.returncode == 0, p.stderr
    capinfos = subprocess.run(["capinfos", "-o", str(out)], capture_output=True, text=True, check=True).stdout
    line = next((x for x in p.stderr.splitlines() if "out of time order" in x), None)
    return "Strict time order:   True" in capinfos, int(line.split()[4]) if line else 0


@pytest.mark.parametrize("jobs", [1, 2])
@pytest.mark.parametrize("options, strict, late", [
    (("--port", "40005"), True, 0),  # fd 7 left out: its captures are in no pcapng
    (("--port", "40007"), True, 0),  # fd 7 alone kept: what it came after are in no pcapng
    (("--port", "40006,40007"), False, 2),  # fd 7's after fd 6's, both kept: the pcapng goes back in time there
    (("--host", "b.example"), True, 0),  # every connection left out by its requests (decided after the table)
    ((), False, 2),
])
def test_out_of_time_order_counts_what_the_filters_kept(tmp_path, jobs, options, strict, late):
    assert _convert(tmp_path, jobs, *options) == (strict, late)
