"""ecq2pcap.sinks.units: a file ends after a whole unit, whatever the size of the units and wherever a write fails."""

from __future__ import annotations

import errno

import pytest

from ecq2pcap.sinks.units import UnitWriter
from tests.support.disks import FillingFile

UNITS = [b"a" * 10, b"b" * 300, b"c" * 5, b"d" * 1000, b"e" * 64, b"f" * 2]


@pytest.mark.parametrize("room", [0, 9, 10, 200, 315, 316, 1314, 1315, 1379, 1381, 10_000])
@pytest.mark.parametrize("buffer_size", [1, 64, 256, 4096])
def test_the_file_ends_after_a_whole_unit(room, buffer_size):
    with FillingFile(room) as out:
        writer = UnitWriter(out, buffer_size=buffer_size)
        try:
            for unit in UNITS:
                writer.write(unit)
            writer.flush()
            failed = False
        except OSError as exc:
            failed = exc.errno == errno.ENOSPC
        assert failed == (sum(map(len, UNITS)) > room)
        if failed:
            writer.write(b"z" * 5000)  # after the error: nothing more, no second error
            writer.flush()
        data = out.getvalue()
    ends = [sum(map(len, UNITS[:i])) for i in range(len(UNITS) + 1)]
    assert len(data) in ends and len(data) <= room and data == b"".join(UNITS)[:len(data)]
    if buffer_size == 1:  # each unit written on its own: every one that fits is there
        assert len(data) == max(e for e in ends if e <= room)


def test_a_unit_larger_than_the_buffer_is_written_as_it_is_after_what_was_queued():
    with FillingFile(1 << 20) as out:
        writer = UnitWriter(out, buffer_size=256)
        writer.write(b"a" * 100)
        writer.write(b"b" * 1000)  # the queued 100 bytes first, then these 1,000 as one write
        writer.write(b"c" * 10)
        writer.flush()
        assert out.writes == [100, 1000, 10]
        assert out.getvalue() == b"a" * 100 + b"b" * 1000 + b"c" * 10
