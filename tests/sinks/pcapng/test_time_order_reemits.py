"""A FIN timed at a stale re-emit's time keeps the pcapng in time order (found by a fuzz run).

eCapture v1 re-emits a connection's last HTTP/1 headers at socket close: the table leaves the re-emit out, and the
connection's FIN is timed at it (its last activity). The FINs closed after it (the end of input closes the
connections in the order they were made) were timed at the latest capture *written*, which did not count the
re-emit: the file went back in time."""

from __future__ import annotations

from tests.support.curl_events import REQUEST, RESPONSE, T, convert_timed, event
from tests.support.pcapng import epbs


def test_fins_after_one_timed_at_a_stale_reemit_are_not_timed_before_it(tmp_path, tshark):
    lines = [event(T + 1, 5, True, REQUEST), event(T + 2, 5, False, RESPONSE),  # A
             event(T + 3, 6, True, REQUEST), event(T + 4, 6, False, RESPONSE),  # B
             event(T + 20, 5, False, RESPONSE)]  # A's headers re-emitted at its close
    out, capinfos = convert_timed(tmp_path, lines, "-q")
    blocks = epbs(out)
    fins = [t for t, _, opts in blocks if b"closed: end of input" in opts]
    assert len(fins) == 2 and fins[0] == (T + 20) * 10**9  # (A's FIN at its re-emit: the test's premise)
    times = [t for t, _, _ in blocks]
    assert times == sorted(times)
    assert "Strict time order:   True" in capinfos
