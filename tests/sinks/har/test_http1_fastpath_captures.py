"""Http1Parser fast path, captures read at once: a capture on a direction with nothing left to read that is one
whole message (eCapture v1 renders one a message) is read from its own bytes (``Http1Decoder._whole_capture``), with
the exchanges h11 gives (``fast=False``), and the fast path is asked once a message also when it is not."""

from __future__ import annotations

import random

import pytest

from ecq2pcap.payloads.http1 import decoder as http1

from . import test_http1 as base
from .test_http1_fastpath import MS, C, S, _random_steps, replay


class CountingCaptures:
    """Counts the captures the decoder read at once as one whole message (``Http1Decoder._whole_capture``)."""

    def __init__(self, monkeypatch):
        self.taken = 0
        orig = http1.Http1Decoder._whole_capture

        def wrapped(decoder, s, data):
            taken = orig(decoder, s, data)
            self.taken += taken
            return taken

        monkeypatch.setattr(http1.Http1Decoder, "_whole_capture", wrapped)


@pytest.mark.parametrize("seed", range(4))
def test_random_captures_of_a_message_each_give_identical_exchanges(seed, monkeypatch):
    captures = CountingCaptures(monkeypatch)
    rng = random.Random(seed)
    for _ in range(150):
        steps = _random_steps(rng, per_message=True)
        kw = {"reorder_window_ns": 5 * MS} if rng.random() < 0.2 else {}
        assert replay(steps, True, **kw) == replay(steps, False, **kw), steps
    assert captures.taken > 200  # (read at once; the others went the general way, held to h11 alike)


def test_the_fast_path_is_asked_once_a_message(monkeypatch):
    # (a capture is asked whether it is one whole message; when it holds more, or less, the answer is the first
    # message's reading: not asked again of the same bytes)
    asked = []
    for name in ("fast_request", "fast_response"):
        orig = getattr(http1, name)
        monkeypatch.setattr(http1, name, lambda *args, _orig=orig: asked.append(args[1]) or _orig(*args))
    two = base.get(b"/a") + base.get(b"/b")
    steps = [("feed", C, two, MS, None), ("feed", S, base.resp(200, b"hi") + base.resp(200, b"yo")[:-1], 2 * MS, None),
             ("feed", C, base.get(b"/c"), 3 * MS, None), ("close", 4 * MS)]
    assert replay(steps, True) == replay(steps, False)
    assert asked == [0, len(base.get(b"/a")), 0, len(base.resp(200, b"hi")), 0]  # (/c: a response is being read)
