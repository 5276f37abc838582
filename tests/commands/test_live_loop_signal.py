"""A stop signal while ``live``'s event loop is being made (the start of ``run_session``): the run stops as at any
Ctrl-C, and no traceback is printed. asyncio's loop, interrupted inside its ``__init__``, was left half made: its
``__del__`` then printed "Exception ignored … AttributeError: … '_signal_handlers'" with a traceback (seen once in
a whole-suite run of tests/test_live_signal_at_start.py, timing-dependent); here the signal comes there every time."""

from __future__ import annotations

import argparse
import gc
import io
import os
import signal
import sys
from asyncio import selector_events

from ecq2pcap.commands.live import run_session
from ecq2pcap.commands.status import StatusLine


def test_a_stop_signal_while_the_event_loop_is_made(monkeypatch):
    real = selector_events.selectors.DefaultSelector

    def interrupted():  # (inside the loop's __init__, before it is whole)
        os.kill(os.getpid(), signal.SIGINT)
        return real()

    unraisable = []
    monkeypatch.setattr(selector_events.selectors, "DefaultSelector", interrupted)
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        reason = run_session(None, None, argparse.Namespace(duration=None), StatusLine(io.StringIO(), False), "x")
    finally:
        signal.signal(signal.SIGINT, previous)
    gc.collect()  # (a half-made loop's __del__ runs here at the latest)
    assert reason == "signal"
    assert [u.exc_value for u in unraisable] == []
