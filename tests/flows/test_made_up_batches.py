"""Bytes made up for frames' lost rests go to the sinks a list at a time: a release stops once its list holds
``MADE_UP_BATCH`` of them (:attr:`ConnectionTable.cut`), and :meth:`more` goes on with the same events in the same
order. 60 WebSocket frame headers saying 16 MiB each, in 32 KB of a dump, had made one list of 1 GB (3 GB of RSS in
the pcapng sink); each is a credible frame's, so its rest is made up, as eCapture's 16 KiB cap on a call makes
real ones."""

from __future__ import annotations

import pytest

from ecq2pcap.flows import ordering
from ecq2pcap.limits import Limits
from tests.support.made_up import BATCH, FRAME, converted, key, made_up, stream


@pytest.mark.parametrize("dt, later, limits, most", [
    (0.0001, False, None, 40),  # all held until the end of input (close_all_batches)
    (0.0001, True, None, 40),  # released by a later capture (feed)
    (0.5, False, None, 3),  # released a few at a time as the clock moves (feed), the rest at the end: no cut
    (0.0001, True, Limits(reorder_buffer=40 * 2048), 11),  # a reorder buffer that fills: released early
])
def test_the_bytes_made_up_in_one_list_are_bounded_and_the_events_are_the_same(dt, later, limits, most,
                                                                               monkeypatch):
    dump = stream(40, dt, later)
    monkeypatch.setattr(ordering, "MADE_UP_BATCH", 1 << 40)
    unbounded, report = converted(dump, limits)
    monkeypatch.setattr(ordering, "MADE_UP_BATCH", BATCH)
    bounded, report2 = converted(dump, limits)
    assert report.made_up == report2.made_up == 40 * (FRAME + 10 - 110)  # (each frame's rest, made up)
    assert [key(e) for events in bounded for e in events] == [key(e) for events in unbounded for e in events]
    assert max(made_up(events) for events in unbounded) == most * (FRAME - 100)  # (that many rests in one list)
    assert max(made_up(events) for events in bounded) <= BATCH + FRAME  # (a list stops after the rest that passes it)
    assert report2.warnings == report.warnings
