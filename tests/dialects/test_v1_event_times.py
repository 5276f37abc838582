"""A v1 event time past what a pcapng holds (64 bits of nanoseconds: 2554-07-21) is no eCapture's: it is unknown, as
0 is (timed at the latest capture time), not written with the bits that fit (a fuzz run's mutated timestamp 2**64 ns
gave packets of 1970, and a -b ring file named 2554 that held them; year 3554 in seconds gave 2385)."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.support.curl_events import REQUEST, RESPONSE, T, convert_timed, event, exchange


@pytest.mark.parametrize("when", [
    2**64 + 5,  # nanoseconds
    50_000_000_000,  # seconds (year 3554: below the bound of a time in seconds, 10**11)
    2**64 // 10**6 + 10**9,  # milliseconds
    2**64 // 10**3 + 10**12,  # microseconds
])
def test_a_time_past_the_pcapngs_is_unknown(tmp_path, tshark, when):
    lines = exchange(T, 5) + [event(T + 2, 6, True, REQUEST)]
    late = json.loads(lines[-1])
    late["payload"]["timestamp"] = when
    lines[-1] = json.dumps(late)
    lines.append(event(T + 3, 6, False, RESPONSE))
    pcap, capinfos = convert_timed(tmp_path, lines)
    times = [float(t) for t in subprocess.run([tshark, "-r", str(pcap), "-T", "fields", "-e", "frame.time_epoch"],
                                                capture_output=True, text=True, check=True).stdout.split()]
    assert "Strict time order:   True" in capinfos
    assert T <= min(times) and max(times) <= T + 3
