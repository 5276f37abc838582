"""HAR times (ecq2pcap.sinks.har.times): each fast way against the straightforward one it replaces."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from ecq2pcap.payloads.http import HttpRequest, HttpResponse
from ecq2pcap.sinks.har.times import http_timings, iso, iso_via_datetime, ms


# -- startedDateTime: the per-second text made once, against datetime itself --------------------

_NEAR_TIES = st.builds(lambda s, f: s * 10**9 + f, st.integers(-2 * 10**9, 4 * 10**9),
                       st.sampled_from([0, 1, 499_999, 500_000, 500_001, 1_500, 999_499_999, 999_500_000,
                                        999_999_499, 999_999_500, 999_999_999]))


@settings(max_examples=3000, deadline=None)
@given(st.one_of(st.integers(-(2**63), 2**63 - 1), st.integers(-(10**13), 10**13), _NEAR_TIES))
@example(253402300799_999_999_999)  # the last millisecond datetime can show
@example(253402300800_000_000_000)  # past year 9999: the epoch, as datetime's error path gives
@example(-62135596801_000_000_000)
def test_started_date_time_is_what_datetime_gives(ns):
    assert iso(ns) == iso_via_datetime(ns)


# -- timings: whole microseconds without round(), against round() itself -----------------------


@settings(max_examples=3000, deadline=None)
@given(st.one_of(st.integers(-(10**6), 10**18).map(lambda k: k * 1000), st.integers(-(2**63), 2**63),
                 st.sampled_from([2**53 - 1000, 2**53, 2**53 + 1000, 1_500, 2_500, 1_500_000, 2_500_000])))
def test_milliseconds_are_what_round_gives(ns):
    assert ms(ns) == round(max(ns, 0) / 1e6, 3)
    assert repr(ms(ns)) == repr(round(max(ns, 0) / 1e6, 3))  # (the same float, as JSON writes it)


# -- timings: phases that do not overlap -------------------------------------------------------

_MS = 1_000_000


@settings(max_examples=500, deadline=None)
@given(st.lists(st.integers(0, 10_000), min_size=4, max_size=4), st.booleans())
@example([100, 300, 200, 400], True)  # a 100 Continue at 200 ms to an upload that ends at 300: 300 ms, not 400
@example([0, 500, 100, 200], True)  # an early 413, received while the upload went on
def test_timings_add_up_to_the_exchange_as_it_lasted(times, ended):
    req_start, req_end, resp_start, resp_end = (t * _MS for t in times)
    req_end, resp_end = max(req_start, req_end), max(resp_start, resp_end)
    req = HttpRequest(start_ns=req_start, end_ns=req_end if ended else None)
    resp = HttpResponse(start_ns=resp_start, end_ns=resp_end)
    t = http_timings(req, resp)
    last = max(req_end if ended else req_start, resp_end)
    assert t["send"] + t["wait"] + t["receive"] == (last - req_start) / _MS
    assert min(t["send"], t["wait"], t["receive"]) >= 0
