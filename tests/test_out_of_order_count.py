"""Captures placed after later ones are counted in the summary (found by a fuzz run: the README said their comments
said so, but a capture late against *other* connections' packets, not its own's, was said nowhere, while the pcapng
went back in time at it)."""

from __future__ import annotations

from tests.support.curl_events import T, convert_timed, exchange


def _convert(tmp_path, capsys, lines: list[str]) -> tuple[str, str]:
    return convert_timed(tmp_path, lines)[1], capsys.readouterr().err


def test_a_connection_later_than_the_reorder_window_is_counted(tmp_path, capsys):
    # B's exchange is released once D moves the clock past it; C's, captured before B's, comes after that
    late = exchange(T + 1, 5) + exchange(T + 10, 6) + exchange(T + 20, 8) \
        + exchange(T + 3, 7)
    capinfos, err = _convert(tmp_path, capsys, late)
    assert "Strict time order:   False" in capinfos  # (the premise: the file goes back in time)
    line = next(x for x in err.splitlines() if "out of time order" in x)
    assert line.split()[4] == "2" and "reordercap" in line  # (C's request and response)


def test_captures_in_order_are_not_counted(tmp_path, capsys):
    ordered = exchange(T + 1, 5) + exchange(T + 3, 7) + exchange(T + 10, 6) \
        + exchange(T + 20, 8)
    capinfos, err = _convert(tmp_path, capsys, ordered)
    assert "Strict time order:   True" in capinfos
    assert "out of time order" not in err
