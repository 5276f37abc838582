"""Stale re-emits come from the worker that rendered the message (one eCapture uuid: a thread and a direction): an
identical message from another thread is real (a server's pool threads answer identical polls alike)."""

from __future__ import annotations

from ecq2pcap.flows.reemits import is_stale_reemit
from ecq2pcap.model import Direction

NOT_MODIFIED = b"HTTP/1.1 304 Not Modified\r\nDate: Mon, 30 Nov 2026 10:00:00 GMT\r\nEtag: \"abc\"\r\n\r\n"
POLL = b"GET /poll HTTP/1.1\r\nHost: h\r\n\r\n"
C2S, S2C = Direction.C2S, Direction.S2C
A, B = "500_501_java_40_1_10.0.0.5:40000-10.0.0.1:8443", "500_502_java_40_1_10.0.0.5:40000-10.0.0.1:8443"
REQ_A, REQ_B = A.replace("_1_10", "_0_10"), B.replace("_1_10", "_0_10")


def test_an_identical_answer_of_another_thread_in_the_same_second_is_real():
    last: dict = {}
    assert not is_stale_reemit(last, False, POLL, C2S, 1, REQ_A)
    assert not is_stale_reemit(last, False, NOT_MODIFIED, S2C, 1, A)
    assert not is_stale_reemit(last, False, POLL, C2S, 1, REQ_B)  # (v1.4's whole seconds: the same time)
    assert not is_stale_reemit(last, False, NOT_MODIFIED, S2C, 1, B)


def test_the_same_workers_repeat_is_still_a_re_emit():
    last: dict = {}
    assert not is_stale_reemit(last, False, POLL, C2S, 1, REQ_A)
    assert not is_stale_reemit(last, False, NOT_MODIFIED, S2C, 1, A)
    assert is_stale_reemit(last, False, NOT_MODIFIED, S2C, 2, A)  # (nothing came the other way since)
    assert is_stale_reemit(last, False, POLL, C2S, 1, REQ_A)  # (at close: the same capture time)


def test_the_table_keeps_both_threads_answers():
    """Through the table (v1.4: whole seconds): the second poll and its 304, from thread 502, were dropped as
    thread 501's re-emits, and the HAR paired the next answer with the wrong request."""
    from ecq2pcap.flows import ConnectionTable
    from ecq2pcap.model import Capture, Chunk, DataType, PayloadForm, Tuple
    from ecq2pcap.report import Report

    tup = Tuple("10.0.0.5", 40000, "10.0.0.1", 8443)

    def cap(uuid: str, data_type: DataType, payload: bytes) -> Capture:
        return Capture(pid=500, tid=int(uuid.split("_")[1]), comm="java", fd=40, data_type=data_type, tuple=tup,
                       timestamp_ns=10**9, payload=payload, form=PayloadForm.HTTP1_RENDERED, ectype=1, uuid=uuid)

    table = ConnectionTable(Report())
    events = []
    for uuid, data_type, payload in ((REQ_A, DataType.READ, POLL), (A, DataType.WRITE, NOT_MODIFIED),
                                     (REQ_B, DataType.READ, POLL), (B, DataType.WRITE, NOT_MODIFIED)):
        events += table.feed(cap(uuid, data_type, payload))
    events += table.close_all()
    # (all four: in capture time order, a second's requests first)
    assert sorted(e.wire for e in events if type(e) is Chunk) == sorted([POLL, NOT_MODIFIED, POLL, NOT_MODIFIED])
