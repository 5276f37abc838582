"""HAR times: ``startedDateTime``, ``timings`` and a cookie's ``expires``.

``startedDateTime`` is UTC with milliseconds and ``Z`` (HAR needs a zone); ``timings`` in milliseconds rounded to
3 places, ``blocked``/``dns``/``connect``/``ssl`` -1 (eCapture sees none of them). Each fast way here is held
by a test to the straightforward one it replaces (datetime, round).
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from functools import lru_cache

from .exchange import HttpRequest, HttpResponse

__all__ = ["http_date", "http_timings", "iso", "iso_via_datetime", "ms"]


def http_date(value: str) -> str | None:
    """A cookie's ``Expires`` date as HAR writes it (UTC, milliseconds, ``Z``); None when it is not a date."""
    try:
        dt = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@lru_cache(maxsize=256)
def iso(ns: int) -> str:
    """UTC ISO 8601 with milliseconds and ``Z`` (HAR needs a zone): what :func:`iso_via_datetime` gives,
    with the text of each second made once (~1 µs instead of ~3.5 per entry). Kept by time: entries start at
    the same few times (v1.4's are whole seconds), a hit ~0.7k instructions instead of ~7k (a miss ~0.8k more)."""
    # datetime.fromtimestamp's reading of a float: whole seconds, and the fraction rounded to microseconds,
    # half to even (CPython's _PyTime_DoubleToDenominator)
    frac, whole = math.modf(ns / 1e9)
    us = round(frac * 1e6)
    if us >= 1_000_000:
        us -= 1_000_000
        whole += 1.0
    elif us < 0:
        us += 1_000_000
        whole -= 1.0
    second = _iso_second(whole)
    return f"{second}.{us // 1000:03d}Z" if second is not None else _EPOCH


@lru_cache(maxsize=64)
def _iso_second(whole: float) -> str | None:
    try:
        return datetime.fromtimestamp(whole, tz=timezone.utc).isoformat(timespec="seconds")[:-6]  # (no +00:00)
    except (OverflowError, OSError, ValueError):
        return None


def iso_via_datetime(ns: int) -> str:
    """:func:`iso` the straightforward way (tests compare the two)."""
    try:
        dt = datetime.fromtimestamp(ns / 1e9, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        dt = datetime.fromtimestamp(0, tz=timezone.utc)
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


_EPOCH = iso_via_datetime(0)


def ms(ns: int) -> float:
    """``ns`` in milliseconds rounded to 3 places (0 when negative)."""
    if ns <= 0:
        return 0.0
    if not ns % 1000 and ns < _EXACT:
        # whole microseconds: no rounding to do, and k / 1000 is the float round() gives (the nearest to k/1000),
        # without round()'s decimal conversion (~2.5k instructions; v1.4's times are whole seconds)
        return ns // 1000 / 1000
    return round(ns / 1e6, 3)


_EXACT = 1 << 53  # below it, ns / 1e6 is one correctly rounded division


def http_timings(req: HttpRequest | None, resp: HttpResponse | None) -> dict:
    """An entry's ``timings``: the request's sending, the wait for the response, its receiving. The three do not
    overlap (HAR's ``time`` is their sum): a response that began before the request ended (a ``100 Continue`` to
    an upload, an early ``413``, an HTTP/2 answer to a stream still sending) is received from the request's end."""
    # (ms() called only for a time that passed: v1.4's whole seconds mostly give none, ~0.6k instructions a call)
    send = wait = receive = 0.0
    received_from = None if resp is None else resp.start_ns
    if req is not None:
        req_end = req.end_ns if req.end_ns is not None else req.start_ns
        if req_end > req.start_ns:
            send = ms(req_end - req.start_ns)
        if resp is not None:
            if resp.start_ns > req_end:
                wait = ms(resp.start_ns - req_end)
            else:
                received_from = req_end
    if resp is not None:
        resp_end = resp.end_ns if resp.end_ns is not None else resp.start_ns
        if resp_end > received_from:
            receive = ms(resp_end - received_from)
    return {"blocked": -1, "dns": -1, "connect": -1, "ssl": -1, "send": send, "wait": wait, "receive": receive}
