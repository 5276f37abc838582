"""argparse value types shared by the commands: clear one-line messages on bad values."""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable


MAX_SECONDS = 365 * 86400  # a time option beyond a year means "never" and overflows the clock's arithmetic
MAX_SIZE = 1 << 40  # 1 TiB: a size option beyond it is a typo (and overflows the readers' index-sized integers)


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(value):  # (NaN and infinity: no time at all)
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}")
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    if value > MAX_SECONDS:
        raise argparse.ArgumentTypeError(f"at most {MAX_SECONDS:,} seconds (a year)")
    return value


def utc_offset(text: str) -> int:
    """A UTC offset in nanoseconds: ``+08:00``, ``-05:30``, ``+0545``, ``8``, ``-5``, ``0``, ``Z`` (at most 14
    hours either way, as time zones go)."""
    m = _UTC_OFFSET.fullmatch(text.strip())
    if m is None:
        raise argparse.ArgumentTypeError(f"not a UTC offset: {text!r} (e.g. +08:00, -05:30, 0)")
    if m["zulu"]:
        return 0
    hours, minutes = int(m["hours"]), int(m["minutes"] or 0)
    if minutes > 59 or hours * 60 + minutes > 14 * 60:
        raise argparse.ArgumentTypeError(f"not a UTC offset: {text!r} (at most 14:00 either way)")
    sign = -1 if m["sign"] == "-" else 1
    return sign * (hours * 3600 + minutes * 60) * 1_000_000_000


_UTC_OFFSET = re.compile(r"(?P<zulu>[zZ]|UTC)|(?P<sign>[+-]?)(?P<hours>\d{1,2})(?::?(?P<minutes>\d\d))?", re.ASCII)


def size(text: str) -> int:
    """A byte count: ``1048576``, ``512K``, ``64M``, ``1G`` (binary multiples), at least 1."""
    from .limits import parse_size

    try:
        value = parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1 byte")
    if value > MAX_SIZE:
        raise argparse.ArgumentTypeError("at most 1024G")
    return value


def int_between(low: int, high: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(
                f"must be between {low} and {high}" if high is not None else f"must be at least {low}")
        return value

    return parse
