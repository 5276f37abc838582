"""The summary's "out of time order" counts the captures at which the pcapng goes back in time. A capture late
against its *own* connection's data is written at that connection's latest time (its comment says "placed here"),
not at its own: it was counted all the same, while capinfos found the file in strict time order (a fuzz run of
random v1.4 streams disagreed with the pcapng's own times in 122 of 300)."""

from __future__ import annotations

import re

from tests.support.curl_events import REQUEST, RESPONSE, T, convert_timed, event as _event


def _convert(tmp_path, capsys, lines: list[str]) -> tuple[str, str]:
    return convert_timed(tmp_path, lines)[1], capsys.readouterr().err


def test_a_capture_late_in_the_connection_written_last_is_not_counted(tmp_path, capsys):
    # A's request at T+5 comes once its response (T+10) was released (B's T+14 moved the clock): it is written at
    # T+10, A's latest and the file's, before B's packets
    capinfos, err = _convert(tmp_path, capsys, [_event(T + 1, 5, True, REQUEST), _event(T + 10, 5, False, RESPONSE),
                                                _event(T + 14, 6, True, REQUEST), _event(T + 5, 5, True, REQUEST),
                                                _event(T + 15, 6, False, RESPONSE)])
    assert "Strict time order:   True" in capinfos  # (the premise)
    assert re.search(r"late events +1 ", err)  # (late in its own connection: said so, and in its comment)
    assert "out of time order" not in err


def test_a_capture_late_in_a_connection_behind_the_file_is_counted(tmp_path, capsys):
    # the same, but B's request (T+12) was written before A's late one: A's latest (T+10) is behind the file's
    capinfos, err = _convert(tmp_path, capsys, [_event(T + 1, 5, True, REQUEST), _event(T + 10, 5, False, RESPONSE),
                                                _event(T + 12, 6, True, REQUEST), _event(T + 16, 6, False, RESPONSE),
                                                _event(T + 5, 5, True, REQUEST)])
    assert "Strict time order:   False" in capinfos
    line = next(x for x in err.splitlines() if "out of time order" in x)
    assert line.split()[4] == "1"
