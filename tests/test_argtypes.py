"""Option values read by argtypes.py: what each accepts, and a one-line message for what it does not."""

from __future__ import annotations

import argparse

import pytest

from ecq2pcap.argtypes import utc_offset

HOUR = 3600 * 10**9


@pytest.mark.parametrize("text, hours", [
    ("+08:00", 8), ("8", 8), ("08", 8), ("+0800", 8), ("-05:30", -5.5), ("-0530", -5.5), ("+05:45", 5.75),
    ("0", 0), ("Z", 0), ("UTC", 0), ("-14:00", -14), (" +1 ", 1),
])
def test_utc_offsets_as_people_write_them(text, hours):
    assert utc_offset(text) == round(hours * HOUR)


@pytest.mark.parametrize("text", ["", "+", "8:5", "+08:60", "+14:01", "15", "+8h", "CET", "1.5", "+08:00:00"])
def test_what_is_no_utc_offset_says_so(text):
    with pytest.raises(argparse.ArgumentTypeError, match="not a UTC offset"):
        utc_offset(text)
