"""--max-connections: the connection idle longest ends early; a warning only when a later capture of it goes on (in
a new connection), before its idle timeout would have ended it anyway. eCapture v1.4 sends no close, so on a busy
host most connections end by the limit or the idle timeout and never go on: each said a warning, for nothing parted."""

from msgspec.structs import replace

from ecq2pcap.flows import ConnectionTable
from ecq2pcap.flows.lifecycle import ENDED_REMEMBERED
from ecq2pcap.limits import CONTINUES, Limits
from ecq2pcap.model import Chunk, Closed, ConnectInfo, PayloadForm, Tuple
from ecq2pcap.report import OPEN_LIMIT_PARTED, Count, Report

from .test_table import REQ, RESP, S, cap


def _tup(i: int) -> Tuple:
    return Tuple("10.0.0.1", 40000 + i, "10.0.0.2", 443)


def _exchange(i: int, t: int, **kw) -> list:
    """Connection ``i``'s request and answer at second ``t`` (its own fd and tuple)."""
    return [cap(REQ, 1, t * S, fd=100 + i, tup=_tup(i), **kw), cap(RESP, 0, t * S, fd=100 + i, tup=_tup(i), **kw)]


def _convert(caps, limit: int, idle_s: int = 300) -> tuple[Report, list]:
    report = Report()
    table = ConnectionTable(report, limits=Limits(open_connections=limit), idle_timeout_ns=idle_s * S,
                            reorder_window_ns=0, repair_http1=False)
    events = []
    for c in caps:
        events += table.feed(c)
    return report, events + table.close_all()


def test_a_connection_the_limit_ended_that_goes_on_is_warned_where_it_does():
    caps = _exchange(0, 1) + _exchange(1, 2) + _exchange(2, 3) + _exchange(0, 10)  # (0 ends at 2's opening)
    report, events = _convert(caps, limit=2)
    assert report.warnings == {OPEN_LIMIT_PARTED: 1}  # (0 went on; 1, ended by 0's going on, did not)
    assert report.counts[Count.ENDED_EARLY] == 2 and report.limits["--max-connections"] == 2
    ended = [e.conn.id for e in events if type(e) is Closed and e.reason == "too many open connections"]
    went_on = [e for e in events if type(e) is Chunk and any(n.startswith(CONTINUES) for n in e.notes)]
    assert ended == [1, 2] and len(went_on) == 1
    assert went_on[0].conn.id == 4 and went_on[0].conn.client == ("10.0.0.1", 40000)
    assert went_on[0].notes[-1].startswith(f"{CONTINUES}1,")


def test_what_comes_after_the_idle_timeout_would_have_ended_it_is_no_warning():
    caps = _exchange(0, 1) + _exchange(1, 2) + _exchange(2, 3) + _exchange(0, 400)
    report, events = _convert(caps, limit=2)
    assert not report.warnings and report.counts[Count.ENDED_EARLY] == 1  # (1 and 2 ended idle before it)
    assert not any(n.startswith(CONTINUES) for e in events if type(e) is Chunk for n in e.notes)


def test_without_idle_timeout_a_later_capture_still_goes_on():
    caps = _exchange(0, 1) + _exchange(1, 2) + _exchange(0, 100_000)
    report, _ = _convert(caps, limit=1, idle_s=0)
    assert report.warnings == {OPEN_LIMIT_PARTED: 1}


def test_the_memory_of_ended_connections_is_bounded_and_what_it_forgot_is_counted():
    most = ENDED_REMEMBERED  # (times --max-connections 1)
    n = most + 4
    caps = [c for i in range(n) for c in _exchange(i, 1 + i)]  # (each ends the one before: n - 1 ended)
    caps += _exchange(0, 200) + _exchange(n - 2, 201)  # (the first, forgotten; the last ended, remembered)
    report, _ = _convert(caps, limit=1)
    assert report.counts[Count.ENDED_UNTOLD] == n - most  # (n - 1, and the last, which the first's return ended)
    assert report.warnings == {OPEN_LIMIT_PARTED: 1}
    assert report.counts[Count.ENDED_EARLY] == n + 1  # (and the two that came back ended one each)


def test_those_past_their_idle_timeout_are_forgotten():
    """A busy host ends connections by the limit all day: the memory holds those of an idle timeout, not of the day
    (nor counts the others as untold once it is full)."""
    caps = [c for i in range(100) for c in _exchange(i, 1 + i)]  # (one a second, 4 open: 96 ended)
    report = Report()
    table = ConnectionTable(report, limits=Limits(open_connections=4), idle_timeout_ns=10 * S, reorder_window_ns=0,
                            repair_http1=False)
    for c in caps:
        table.feed(c)
    assert len(table._ended) <= 12 and report.counts[Count.ENDED_UNTOLD] == 0
    assert report.counts[Count.ENDED_EARLY] > 4 * ENDED_REMEMBERED  # (more than the memory holds)


def test_one_forgotten_past_its_idle_timeout_is_not_counted_untold():
    """The memory full between two sweeps (once a second of capture time): the earliest key it forgets may be past its
    idle timeout already, and then nothing was untold."""
    ms, most = S // 1000, 2 * ENDED_REMEMBERED
    caps = [c for i in range(most + 2) for c in _exchange(i, 100)]  # (2 open: the memory full, deadlines at 101 s)
    for i, t in ((most + 2, 100_900), (most + 3, 101_000), (most + 4, 101_500)):  # (each ends one more: the first two
        caps += [replace(c, timestamp_ns=t * ms) for c in _exchange(i, 0)]  # forget a key before its deadline,
        # the third one after it, before the sweep at 102 s)
    report = Report()
    table = ConnectionTable(report, limits=Limits(open_connections=2), idle_timeout_ns=S, reorder_window_ns=0,
                            repair_http1=False)
    for c in caps:
        table.feed(c)
    assert report.counts[Count.ENDED_EARLY] == most + 3 and report.counts[Count.ENDED_UNTOLD] == 2


def test_a_v2_connect_line_opens_a_new_connection_not_the_ended_ones_continuation():
    """eCapture v2 says where a connection opens (§11.1): a connect line of an ended connection's (pid, fd) and
    4-tuple (its client port reused) opens a new one, which does not go on with the ended one."""
    report = Report()
    table = ConnectionTable(report, limits=Limits(open_connections=1), reorder_window_ns=0, repair_http1=False)
    for i, (fd, k) in enumerate(((100, 0), (101, 1), (100, 0))):  # (the first ended by the second, then its key again)
        t = (1 + i) * S
        table.feed(ConnectInfo("connect", pid=1, fd=fd, tuple=_tup(k), timestamp_ns=t))
        for dt, payload in ((1, REQ), (0, RESP)):
            table.feed(replace(cap(payload, dt, t + dt, fd=fd, tup=None, form=PayloadForm.RAW), uuid=None))
    table.close_all()
    assert report.counts[Count.ENDED_EARLY] == 2 and not report.warnings


def test_a_connection_without_socket_is_warned_when_it_ends():
    """eCapture gave no fd (gnutls: a connection per thread, endpoints invented): a later capture of its thread gets
    other endpoints, so no key tells that it goes on; it is said when the limit ends it, as it may."""
    caps = [cap(REQ, 1, S, fd=None, tup=None, tid=1), cap(REQ, 1, 2 * S, fd=None, tup=None, tid=2)]
    report, _ = _convert(caps, limit=1)
    assert report.warnings == {OPEN_LIMIT_PARTED: 1} and report.counts[Count.ENDED_EARLY] == 1
