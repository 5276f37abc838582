"""The live backlog's temporary file on disk: it holds the backlog (not all the traffic since the
backlog began), and a moment of full disk does not keep every later backlog in memory."""

from __future__ import annotations

import errno
import os
import tempfile

from ecq2pcap.sources import backlog as backlog_mod
from ecq2pcap.sources.backlog import MESSAGE_OVERHEAD, Backlog


def _d(i: int, size: int = 600):
    return (bytes([i % 256]) * size, False, f"ws://h/#{i}", i, False)


def test_the_file_holds_the_backlog_not_all_the_traffic_behind_it(monkeypatch):
    """A burst, then eCapture sending a little less than is converted: the backlog shrinks slowly. The file was
    emptied only once read out whole, so it grew with every message (482 MB for a 36 MB backlog); its
    segments read out are now freed."""
    monkeypatch.setattr(backlog_mod, "SEGMENT_BYTES", 1 << 20)
    files = []

    def spool():
        files.append(tempfile.TemporaryFile())
        return files[-1]

    q = Backlog(256 << 10, spool=spool)
    n, sent, got = 0, [], []
    for _ in range(6000):  # the burst: ~5 MB
        q.append(_d(n))
        sent.append(n)
        n += 1
    worst = 0
    for _ in range(300):  # 200 taken, 190 more come
        got += [int(d[2].split("#")[1]) for d in q.take(200)]
        for _ in range(190):
            q.append(_d(n))
            sent.append(n)
            n += 1
        on_disk = sum(os.fstat(f.fileno()).st_size for f in files if not f.closed)
        waiting = len(q) * (600 + MESSAGE_OVERHEAD)
        worst = max(worst, on_disk - waiting)
    while len(q):
        got += [int(d[2].split("#")[1]) for d in q.take(200)]
    assert got == sent  # (in order, nothing lost across the segments)
    assert n * 600 > 30 << 20  # (the traffic behind the backlog was far more than a segment...)
    assert worst <= 2 * (1 << 20) + backlog_mod.WRITE_CHUNK  # (... and the disk held at most the backlog + a segment)
    assert sum(not f.closed for f in files) <= 1
    q.close()


class _FullForAMoment:
    """A temporary file whose first write fails with ENOSPC."""

    def __init__(self) -> None:
        self.f = tempfile.TemporaryFile()
        self.failed = False

    def fileno(self) -> int:
        if not self.failed:
            self.failed = True
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return self.f.fileno()

    def close(self) -> None:
        self.f.close()


def test_a_moment_of_full_disk_does_not_keep_later_backlogs_in_memory():
    spool = _FullForAMoment()
    notes = []
    q = Backlog(1 << 20, note=notes.append, spool=lambda: spool)
    for i in range(2200):  # ~1 MiB in memory, ~1 MiB to write: the write fails
        q.append(_d(i, 1000))
    assert q.spill_error is not None and len(q._pending) > (1 << 20)
    for i in range(2200, 3000):
        q.append(_d(i, 1000))
    first = []
    while len(q):
        first += q.take(2000)
    assert [d[2] for d in first] == [f"ws://h/#{i}" for i in range(3000)]
    for i in range(60_000):  # a later burst of ~60 MB, the disk has room again
        q.append(_d(i, 1000))
    assert len(q._pending) < 2 * backlog_mod.WRITE_CHUNK  # in the file, not in memory
    assert os.fstat(spool.f.fileno()).st_size > 50 << 20
    assert sum("cannot be written" in t for t in notes) == 1 and any("written again" in t for t in notes)
    rest = []
    while len(q):
        rest += q.take(2000)
    assert [d[2] for d in rest] == [f"ws://h/#{i}" for i in range(60_000)]
    q.close()


def test_a_full_disk_is_tried_again_while_the_backlog_grows(monkeypatch):
    """Not on every message (a system call each while the disk is full), but once another memory limit's worth
    waits in memory."""
    calls = []

    class Full:
        def fileno(self):
            calls.append(1)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def close(self):
            pass

    q = Backlog(1 << 20, spool=Full)
    for i in range(10_000):  # ~9.6 MB past the limit
        q.append(_d(i, 1000))
    assert 3 <= len(calls) <= 12
    assert len(q.take(20_000)) + len(q.take(20_000)) + sum(len(q.take(20_000)) for _ in range(20)) == 10_000


def test_after_a_failed_write_read_back_the_next_backlog_goes_to_the_file_again():
    """The retry threshold was over the bytes pending at the failure: once they were read back (and while some of
    them still waited to be taken), new messages stayed in memory until they held as much again."""
    spool = _FullForAMoment()
    q = Backlog(4 << 20, spool=lambda: spool)
    for i in range(5500):  # 4 MiB in memory, then ~1.2 MB pending: the one write tried fails
        q.append(_d(i, 1000))
    assert q.spill_error is not None
    in_memory = len(q._memory)
    q.take(in_memory + 1)  # (the first of the file's share: the pending bytes are read back at once)
    assert not q._pending and q._in_spool
    for i in range(3000):  # more come behind them: ~3 MB, they go to the file
        q.append(_d(i, 1000))
    assert os.fstat(spool.f.fileno()).st_size > 0 and len(q._pending) < 2 * backlog_mod.WRITE_CHUNK
    q.close()
