"""eCapture v2's console output split into records (``sources/console.py``)."""

from __future__ import annotations

import io
import os
import threading

from hypothesis import given, settings
from hypothesis import strategies as st

from ecq2pcap.sources.console import iter_records, looks_like_console
from tests.support.zerolog_console import event_record, record

T = "2026-12-07T10:00:01Z"
HEAD = b"[2026-12-07 10:00:01.250] PID:1 TID:1 Comm:curl FD:5 WRITE (%d bytes):\n"
# data whose lines look like a record's first line, a fields line, and hold what the console escapes
TRICKY = (b"2026-12-07T10:00:01Z INF not a record\n \x1b[36mprobe=\x1b[0mopenssl\n"
          b"\x1b[90m2026-12-07T10:00:01Z\x1b[0m \x1b[32mINF\x1b[0m nor this\nend")


def records(data: bytes, max_size: int = 1 << 20) -> list[tuple[int, bytes | None, int]]:
    return list(iter_records(io.BufferedReader(io.BytesIO(data)), max_size))


def sample(colour: bool) -> list[bytes]:
    return [
        record("", T, {"Version": "linux_amd64:v2.5.1"}, colour=colour, escape=False),
        record("probe started", T, {"probe": "openssl"}, colour=colour),
        event_record(HEAD % 3 + b"GET", T, colour=colour),
        event_record(HEAD % len(TRICKY) + TRICKY, T, colour=colour),
        event_record(b"PID:1, Comm:curl, TID:1, FD:5, Tuple: [10.0.0.1]:5000->[10.0.0.2]:443\n", T, colour=colour),
    ]


def test_coloured_records_are_split_where_they_are_whatever_the_data_holds():
    parts = sample(True)
    got = records(b"".join(parts))
    assert [r[1] for r in got] == parts
    lines = [1 + sum(p.count(b"\n") for p in parts[:i]) for i in range(len(parts))]
    assert [r[0] for r in got] == lines


def test_without_colours_a_record_begins_at_each_line_that_looks_like_one():
    parts = sample(False)
    got = [r[1] for r in records(b"".join(parts))]
    assert got[:3] == parts[:3] and got[-1] == parts[-1]
    assert b"".join(got) == b"".join(parts)  # (nothing lost: the tricky event cut where its data looks like one)
    assert len(got) == len(parts) + 1


def test_what_comes_before_the_first_record_is_given_line_by_line():
    data = b"Script started\nnoise\n" + b"".join(sample(True))
    got = records(data)
    assert got[:2] == [(1, b"Script started\n", 15), (2, b"noise\n", 6)]
    assert got[2][0] == 3


def test_a_record_over_the_limit_is_read_past_and_said_by_its_size():
    big = event_record(HEAD % 5000 + b"x" * 5000, T)
    small = event_record(HEAD % 3 + b"abc", T)
    got = records(small + big + small, max_size=2000)
    assert [r[1] for r in got] == [small, None, small]
    assert got[1][2] == len(big)
    huge_line = event_record(HEAD % 9000 + b"y" * 9000, T)  # (one line longer than the limit)
    got = records(small + huge_line + small, max_size=2000)
    assert [r[1] for r in got] == [small, None, small] and got[1][2] == len(huge_line)


def test_a_coloured_record_is_given_once_its_fields_are_read_from_a_pipe():
    read_fd, write_fd = os.pipe()
    stream = os.fdopen(read_fd, "rb")
    got: list = []
    done = threading.Event()

    def reader():
        for item in iter_records(stream, 1 << 20):
            got.append(item)
            done.set()

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    first = event_record(HEAD % 3 + b"GET", T)
    os.write(write_fd, first)
    assert done.wait(5), "the record waited for more input"
    assert got[0][1] == first
    os.close(write_fd)
    t.join(5)


class _Pieces(io.RawIOBase):
    """A stream that gives its bytes in the sizes given, as a pipe may."""

    def __init__(self, data: bytes, sizes: list[int]) -> None:
        self.data, self.sizes, self.pos = data, sizes, 0

    def readable(self) -> bool:
        return True

    def read1(self, n: int = -1) -> bytes:
        size = self.sizes[self.pos % len(self.sizes)]
        out = self.data[self.pos:self.pos + min(size, n if n > 0 else size)]
        self.pos += len(out)
        return out


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(range(5)), min_size=1, max_size=8), st.lists(st.integers(1, 300), min_size=1,
       max_size=5), st.booleans(), st.sampled_from([200, 400, 1 << 20]))
def test_any_records_in_any_pieces_come_back_as_written(which, sizes, colour, max_size):
    parts = [sample(colour)[i] for i in which]
    got = list(iter_records(_Pieces(b"".join(parts), sizes), max_size))
    whole = records(b"".join(parts), max_size)
    assert got == whole
    if colour:  # (split exactly)
        assert [r[1] for r in got] == [p if len(p) <= max_size else None for p in parts]
        assert [r[2] for r in got] == [len(p) for p in parts]
        assert [r[0] for r in got] == [1 + sum(p.count(b"\n") for p in parts[:i]) for i in range(len(parts))]


def test_detection():
    assert looks_like_console(b"".join(sample(True)))
    assert looks_like_console(b"\n" + b"".join(sample(False)))
    assert not looks_like_console(b'{"log_type":2,"payload":{}}\n')
    assert not looks_like_console(HEAD % 3 + b"GET\n")  # (an event log: renderings alone)
    assert not looks_like_console(b"Script started\n" + b"".join(sample(True)))
