"""The live backlog: arrival order and every field kept across memory and its temporary file,
memory bounded, the file emptied once read out, a file that cannot be written losing nothing."""

from __future__ import annotations

import os
import tempfile
from collections import deque

import pytest
from hypothesis import given, settings, strategies as st

from ecq2pcap.sources import backlog as backlog_mod
from ecq2pcap.sources.backlog import MESSAGE_OVERHEAD, Backlog, Delivery
from ecq2pcap.model import Message, Opcode
from tests.support.recordings import delivery, message_of

deliveries = st.builds(
    lambda data, binary, origin, t, replayed: (data, binary, origin, t, replayed),
    st.binary(max_size=300),
    st.booleans(),
    st.text(max_size=20) | st.just("ws://127.0.0.1:28257/#7") | st.just("bad \udcff name"),
    st.none() | st.integers(0, 2**63 - 1),
    st.booleans(),
)
# (append a delivery) or (take up to n)
operations = st.lists(st.tuples(st.just("append"), deliveries) | st.tuples(st.just("take"), st.integers(1, 9)),
                      max_size=120)


@pytest.fixture
def small_chunks(monkeypatch):
    """Writes and reads of a few bytes, so that records straddle both."""
    monkeypatch.setattr(backlog_mod, "WRITE_CHUNK", 40)
    monkeypatch.setattr(backlog_mod, "READ_CHUNK", 23)


@settings(max_examples=300, deadline=None)
@given(ops=operations, memory_limit=st.sampled_from([0, 400, 1000, 2000, 1 << 20]))
def test_fifo_with_every_field_and_bounded_memory(ops, memory_limit):
    old = backlog_mod.WRITE_CHUNK, backlog_mod.READ_CHUNK
    backlog_mod.WRITE_CHUNK, backlog_mod.READ_CHUNK = 40, 23  # (hypothesis: no function-scoped fixture)
    try:
        q, ref = Backlog(memory_limit), deque()
        for op, arg in ops:
            if op == "append":
                q.append(arg)
                ref.append(arg)
            else:
                taken = q.take(arg)
                assert 0 < len(taken) <= arg or not ref  # (fewer when the file's fill the batch's bytes)
                assert taken == [ref.popleft() for _ in range(len(taken))]  # the oldest, in order
                assert sum(map(backlog_mod._size, taken[:-1])) < memory_limit + max(memory_limit,
                                                                                     backlog_mod.MIN_BATCH_BYTES)
            assert q.memory_bytes <= memory_limit
            assert len(q) == len(ref)
        rest = []
        while len(q):
            rest += q.take(10**9)
        assert rest == list(ref)
        assert len(q) == 0
        assert all(os.fstat(seg.file.fileno()).st_size == 0 for seg in q._segments)  # emptied once read out
        q.close()
    finally:
        backlog_mod.WRITE_CHUNK, backlog_mod.READ_CHUNK = old


def _d(i: int, size: int = 100) -> Delivery:
    return delivery(Message(bytes([i % 256]) * size, Opcode.TEXT, f"u#{i}", 10**18 + i), i % 3 == 0)


def test_spills_past_the_limit_and_keeps_memory_again_once_read_out(small_chunks):
    notes = []
    q = Backlog(3 * (100 + MESSAGE_OVERHEAD), note=notes.append)
    for i in range(10):
        q.append(_d(i))
    assert len(q._memory) == 3 and q.spilled == 7 and q._segments  # the rest went to the file
    assert q.peak == 10
    assert q.take(5) == [_d(i) for i in range(5)]
    q.append(_d(10))  # behind the ones waiting in the file, not in memory
    assert len(q._memory) == 0 and q.spilled == 8
    assert q.take(100) == [_d(i) for i in range(5, 11)]
    assert os.fstat(q._segments[0].file.fileno()).st_size == 0
    q.append(_d(11))
    assert len(q._memory) == 1 and q.spilled == 8  # in memory again
    assert len(notes) == 1 and "temporary file" in notes[0]


def test_a_file_that_cannot_be_written_loses_nothing(small_chunks, tmp_path):
    path = tmp_path / "spool"
    path.write_bytes(b"")
    notes = []
    q = Backlog(0, note=notes.append, spool=lambda: open(path, "rb"))  # (pwrite fails: EBADF)
    items = [_d(i) for i in range(50)]
    for d in items:
        q.append(d)
    assert q.spill_error is not None
    assert sum("cannot be written" in n for n in notes) == 1  # said once
    assert q.take(20) + q.take(100) == items
    q.close()


def test_a_writable_spool_is_really_used(small_chunks):
    """(The data goes through the file: a file whose contents are changed behind the backlog's
    back changes what comes out, so the test above is not passing through memory alone.)"""
    f = tempfile.TemporaryFile()
    q = Backlog(0, spool=lambda: f)
    q.append(delivery(Message(b"A" * 50, Opcode.TEXT, "o", 1), False))
    q.append(delivery(Message(b"B" * 50, Opcode.TEXT, "o", 2), False))
    data = os.pread(f.fileno(), 1 << 16, 0)
    assert b"A" * 50 in data
    os.pwrite(f.fileno(), data.replace(b"A" * 50, b"Z" * 50), 0)
    assert [message_of(d).data for d in q.take(2)] == [b"Z" * 50, b"B" * 50]


def test_a_file_cut_behind_its_back_is_said_not_spun_on(small_chunks):
    f = tempfile.TemporaryFile()
    notes = []
    q = Backlog(0, note=notes.append, spool=lambda: f)
    for i in range(5):
        q.append(_d(i))
    os.ftruncate(f.fileno(), 0)
    got = q.take(10)  # whatever was still in memory buffers, then nothing: no endless loop
    assert len(got) < 5 and q.lost == 5 - len(got) and len(q) == 0
    assert any("lost" in n for n in notes)


def test_the_file_is_private_and_has_no_name(small_chunks):
    """It holds captured plaintext: readable by this user only, and unlinked (nothing left after a crash)."""
    q = Backlog(0)
    for i in range(5):
        q.append(_d(i))
    st = os.fstat(q._segments[0].file.fileno())
    assert st.st_mode & 0o077 == 0 and st.st_nlink == 0
    assert q.take(5) == [_d(i) for i in range(5)]
    q.close()


def test_a_message_of_megabytes_is_read_back_in_one_piece(monkeypatch):
    """Single messages of 2-3 MB are normal (protocol doc §11.11): one spilled with the real write size
    and a small read size comes back whole, read at once rather than grown piece by piece."""
    monkeypatch.setattr(backlog_mod, "READ_CHUNK", 1000)
    reads = []
    real_pread = os.pread
    monkeypatch.setattr(backlog_mod.os, "pread", lambda fd, n, off: reads.append(n) or real_pread(fd, n, off))
    big = delivery(Message(bytes(range(256)) * 12_000, Opcode.BINARY, "ws://h/#1", 5), False)  # ~3 MB
    q = Backlog(0)
    q.append(big)
    q.append(_d(1))
    assert q._segments[0].written > 3_000_000  # (it went to the file)
    assert q.take(2) == [big]  # (a batch of the file's ends once it holds its bytes: see the test below)
    assert q.take(2) == [_d(1)]
    assert len(reads) <= 3


def test_what_is_read_back_is_handed_out_within_the_memory_limit():
    """Messages of 1 MB waiting in the file were handed out 2,000 at a time (the reading process held 1.1 GB with
    64 MiB allowed); a batch of the file's now ends once it holds the limit's bytes."""
    q = Backlog(4 << 20)
    for i in range(40):
        q.append(_d(i, 1 << 20))
    batches = []
    while len(q):
        batches.append(q.take(2000))
    assert [d[2] for b in batches for d in b] == [f"u#{i}" for i in range(40)]
    assert max(sum(len(d[0]) for d in b) for b in batches) <= 2 * (4 << 20) + (1 << 20)
    q.close()
