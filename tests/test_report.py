"""The report's tallies read and add as the collections.Counter they stand in for (the summary lists warnings
and limits by most_common; convert -j adds the workers' counts)."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from ecq2pcap.report import Tally

steps = st.lists(st.tuples(st.sampled_from("abcde"), st.integers(1, 3)), max_size=30)


@given(steps, steps)
def test_a_tally_counts_ranks_and_adds_as_a_counter(first, second):
    tally, counter = Tally(), Counter()
    for key, n in first:
        tally[key] += n
        counter[key] += n
    assert tally["never"] == 0 and "never" not in tally  # (read as 0, not kept)
    assert dict(tally) == dict(counter) and tally.most_common() == counter.most_common()
    other = Counter()
    for key, n in second:
        other[key] += n
    tally.add(dict(other))
    counter.update(other)
    assert dict(tally) == dict(counter) and tally.most_common() == counter.most_common()


def test_a_line_repeated_word_for_word_is_shown_once_and_counted():
    """The open limit's warning is the same line for every connection it ends (thousands in a busy v1.4
    capture): its 20 identical lines said nothing the first did not. Different lines of a reason are all shown,
    up to the limit; the summary counts every one."""
    from ecq2pcap.report import Report

    lines = []
    report = Report(emit=lines.append, max_lines_per_reason=3)
    for _ in range(5):
        report.warn("connection ended early", detail="same")
    for i in range(5):
        report.warn("body cut", origin=f"f:{i}")
    assert lines == ["warning: connection ended early: same",
                     "warning: (further 'connection ended early' messages are counted in the summary only)",
                     "f:0: warning: body cut", "f:1: warning: body cut", "f:2: warning: body cut",
                     "warning: (further 'body cut' messages are counted in the summary only)"]
    assert report.warnings == {"connection ended early": 5, "body cut": 5}


def test_a_long_detail_is_cut_on_its_line():
    """A warning's detail may quote what a hostile input holds (h11 quoted a 100 KB chunk-size line whole: one
    stderr line of 100 KB); its line shows at most MAX_DETAIL characters of it and says how long it was."""
    from ecq2pcap.report import MAX_DETAIL, Report

    lines = []
    Report(emit=lines.append).warn("odd", "f:1", "x" * 100_000)
    (line,) = lines
    assert line.startswith("f:1: warning: odd: xxx") and len(line) < MAX_DETAIL + 100
    assert line.endswith("… (100000 characters)")


def test_a_chunk_size_line_of_100_kb_makes_no_line_of_100_kb(tmp_path, capsys):
    """End to end: h11's error quoting the line is bounded in the warning and in the HAR entry's _error."""
    import json

    from ecq2pcap.cli import main
    from tests.limits.support import Dump

    d = Dump()
    fd = d.open()
    d.send(fd, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    resp = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"1" * 100_000 + b"\r\nabc\r\n0\r\n\r\n"
    for at in range(0, len(resp), 16_000):
        d.recv(fd, resp[at:at + 16_000])
    dump, har = tmp_path / "in.jsonl", tmp_path / "o.har"
    dump.write_bytes(d.dump())
    assert main(["convert", str(dump), "--har", str(har)]) == 0
    err = capsys.readouterr().err
    assert "did not frame (illegal chunk header" in err and max(map(len, err.splitlines())) < 1000
    (entry,) = json.loads(har.read_text())["log"]["entries"]
    assert "illegal chunk header" in entry["_error"] and len(entry["_error"]) < 1000
