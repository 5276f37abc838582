"""eCapture v2.1+'s event log (``--eventaddr``): renderings back to back, split again (sources/eventlog.py) into
exactly what eCaptureQ would have sent one a message, whatever the data holds and however the stream is read."""

from __future__ import annotations

import io

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ecq2pcap.sources.eventlog import iter_renderings, looks_like_event_log

HEAD = b"[2026-11-26 17:56:41.246] PID:316 TID:316 Comm:curl FD:5 "


def data_event(payload: bytes, way: bytes = b"WRITE") -> bytes:
    return HEAD + way + b" (%d bytes):\n" % len(payload) + payload


def gotls_event(payload: bytes) -> bytes:
    return (b"PID:9, TID:9, Comm:go, FD:3, Tuple:[10.0.0.1]:40000->[10.0.0.2]:443, Type:READ, Len:%d\nData:\n"
            % len(payload) + payload)


CONNECT = b"PID:316, Comm:curl, TID:316, FD:5, Tuple: [127.0.0.1]:46890->[127.0.0.1]:8443"
DESTROY = b"PID:0, Comm:, TID:0, FD:0, Tuple: [::]:0->[::]:0"
BASH = b"PID:77, UID:0, Comm:bash, Retvalue:0, Line:\nls -l"
HEX = HEAD + b"READ (5 bytes, hex):\n0000  68 65 6c 6c 6f                                    hello"
GOTLS_HEX = b"PID:9, TID:9, Comm:go, FD:3, Type:WRITE, Len:2\nData(hex):\n6869"


def written(renderings: list[bytes]) -> bytes:
    """What eCapture's TextHandler writes: each rendering, and a newline when it does not end in one."""
    return b"".join(r if r.endswith(b"\n") else r + b"\n" for r in renderings)


class Trickle(io.RawIOBase):
    """A stream that hands out at most ``sizes[i]`` bytes a read (a pipe, a TCP collector)."""

    def __init__(self, data: bytes, sizes: list[int]) -> None:
        self.data, self.sizes, self.at, self.i = data, sizes or [1 << 20], 0, 0

    def readable(self) -> bool:
        return True

    def read1(self, n: int = -1) -> bytes:
        size = max(1, self.sizes[self.i % len(self.sizes)])
        self.i += 1
        piece = self.data[self.at:self.at + min(size, n if n > 0 else size)]
        self.at += len(piece)
        return piece


def split(data: bytes, sizes: list[int] = (), max_size: int = 1 << 20) -> list:
    return list(iter_renderings(Trickle(data, list(sizes)), max_size))


def test_data_is_sliced_by_its_length_whatever_it_holds():
    tricky = b"GET / HTTP/1.1\r\n\r\n" + CONNECT + b"\n" + HEAD + b"READ (3 bytes):\nabc"  # (header-like lines)
    events = [data_event(tricky), CONNECT, data_event(b"ends in a newline\n"), data_event(b""), DESTROY]
    got = split(written(events))
    assert [r for _, r, _ in got] == [e if e.endswith(b"\n") else e + b"\n" for e in events]
    assert [line for line, _, _ in got] == [1, 7, 8, 10, 11]  # (each rendering's first line: the first has 6 line ends)


def test_renderings_without_a_length_end_where_the_next_begins():
    events = [BASH, HEX, GOTLS_HEX, gotls_event(b"x\nPID:1, y"), CONNECT, b"TLS Version: 771, ClientRandom: 00ff\nmore"]
    assert [r for _, r, _ in split(written(events))] == [e + b"\n" for e in events]


def test_text_before_the_first_rendering_and_a_cut_last_one():
    cut = data_event(b"0123456789")[:-4]  # (the collector stopped: what is there, said short by the dialect)
    data = b"garbage a shell printed\n" + written([CONNECT]) + cut
    assert [r for _, r, _ in split(data)] == [b"garbage a shell printed\n", CONNECT + b"\n", cut]


def test_renderings_over_the_limit_are_read_past_and_measured():
    big = data_event(b"y\n" * 3000)
    long_bash = b"PID:77, UID:0, Comm:bash, Retvalue:0, Line:\n" + b"z" * 9000
    no_newline = data_event(b"w" * 5000)  # (eCapture added one after it: read past with it)
    got = split(written([CONNECT, big, CONNECT, long_bash, no_newline, DESTROY]), [700], max_size=4096)
    assert [(line, r) for line, r, _ in got] == [(1, CONNECT + b"\n"), (2, None), (3003, CONNECT + b"\n"),
                                                 (3004, None), (3006, None), (3008, DESTROY + b"\n")]
    assert got[1][2] == len(big) and got[3][2] == len(long_bash) + 1


def test_a_rendering_is_told_whatever_the_pieces_the_stream_is_read_in():
    """A piece ending right after a line end, or in the first bytes of the next line: whether that line starts a
    rendering is told from its own bytes, not from where a read stopped."""
    events = [BASH, CONNECT, HEX, data_event(b"abc"), b"MySQL Query[PID=5, Comm=mysqld, Len=1/1, Status=0]: x"]
    data = written(events)
    for size in range(1, len(data) + 1):
        assert [r for _, r, _ in split(data, [size])] == [e + b"\n" for e in events], size
    # a rendering longer than what is read ahead at its start (4 KiB), a piece ending after each of its line ends
    long_bash = b"PID:77, UID:0, Comm:bash, Retvalue:0, Line:\n" + b"x" * 5000 + b"\nPI\nls"
    events = [long_bash, CONNECT]
    data = written(events)
    ends = [i + 1 for i, byte in enumerate(data) if byte == 0x0A]
    for size in ends + [end + 1 for end in ends] + [end + 2 for end in ends]:
        assert [r for _, r, _ in split(data, [size])] == [e + b"\n" for e in events], size


def test_what_an_event_log_starts_with():
    assert looks_like_event_log(written([CONNECT]))
    assert looks_like_event_log(data_event(b"x"))
    assert looks_like_event_log(gotls_event(b"x"))
    for first in (BASH, b"PID:5, UID:0, \tComm:zsh, \tLine:\nls", b"MySQL Query[PID=5, Comm=mysqld, Len=1/1, Status=0]: x",
                  b"PID=5 Comm=postgres Query=select 1",
                  b"TLSDataEvent{Timestamp: 1, PID: 5, TID: 5, Comm: ff, FD: 7, Direction: read, DataLen: 9}"):
        assert looks_like_event_log(first)
    for other in (b'{"log_type":0}', b"\x08\x02", b"[1, 2, 3]", b"PID:1 hello", b"", b"Label: CLIENT_RANDOM x",
                  b"Version: 0x303"):
        assert not looks_like_event_log(other)


_DATA = st.binary(max_size=300).map(lambda b: b.replace(b"\r", b"\n"))  # (newlines and header-like bytes likely)
_EVENTS = st.lists(st.one_of(
    _DATA.map(data_event), _DATA.map(gotls_event), st.sampled_from([CONNECT, DESTROY, BASH, HEX, GOTLS_HEX]),
    _DATA.map(lambda b: data_event(written([CONNECT, data_event(b)]))),  # (a rendering inside the data)
), min_size=1, max_size=12)


@settings(max_examples=300, deadline=None)
@given(events=_EVENTS, sizes=st.lists(st.integers(1, 200), max_size=6))
@example(events=[data_event(b"a"), CONNECT], sizes=[1])
def test_any_renderings_read_in_any_pieces_come_back_as_written(events, sizes):
    got = split(written(events), sizes)
    assert [r for _, r, _ in got] == [e if e.endswith(b"\n") else e + b"\n" for e in events]


class _NothingMoreYet(Exception):
    """A pipe with nothing more to read yet (a collector between two events)."""


class Pipe(io.RawIOBase):
    """Hands out ``data`` in pieces; asked for more after it, raises instead of blocking."""

    def __init__(self, data: bytes, size: int) -> None:
        self.data, self.size, self.at = data, size, 0

    def readable(self) -> bool:
        return True

    def read1(self, n: int = -1) -> bytes:
        if self.at >= len(self.data):
            raise _NothingMoreYet
        piece = self.data[self.at:self.at + self.size]
        self.at += len(piece)
        return piece


def test_a_pipe_s_renderings_come_out_without_waiting_for_more_than_the_next():
    """``nc -l 8090 | ecq2pcap convert - …``: a connect or destroy line is given as soon as its own bytes are read;
    a data event when the next rendering's first bytes are (they tell that its header's length was right)."""
    events = [CONNECT, data_event(b"GET / HTTP/1.1\r\n\r\n"), data_event(b"ends in a newline\n"), gotls_event(b"hi"),
              DESTROY, data_event(b"")]
    for k in range(1, len(events) + 1):  # (each kind the last one there)
        for size in (1, 7, 100, 1 << 16):
            got = []
            with pytest.raises(_NothingMoreYet):
                for _, rendering, _ in iter_renderings(Pipe(written(events[:k]), size), 1 << 20):
                    got.append(rendering)
            told = events[:k] if events[k - 1] in (CONNECT, DESTROY) else events[:k - 1]
            assert got == [e if e.endswith(b"\n") else e + b"\n" for e in told], (k, size)


def test_a_header_that_says_more_than_follows_ends_where_the_next_rendering_starts():
    """v2.5.1's gnutls event renders 4 KiB of data under the length its eBPF side sent (up to 16 KiB): slicing that
    length would take the renderings after it in as data."""
    for said in (60, 9000):  # (within what follows, and past the end of the stream)
        short = HEAD + b"READ (%d bytes):\nonly this" % said
        events = [short, CONNECT, data_event(b"next")]
        assert [r for _, r, _ in split(written(events))] == [e + b"\n" for e in events], said


def test_the_hex_forms_and_nspr_from_the_protocol_doc():
    """Protocol doc §11.4: v2 ``--hex`` data under ``(N bytes, hex)`` with its own dump layout, and header dates that
    can be nonsense (openssl's --hex passes nanoseconds as seconds: year 8352703), also as a log's first event;
    gnutls's hex is plain ``%x``; nspr renders metadata only (§10.17: no data)."""
    openssl_hex = (b"[8352703-01-01 00:00:00.000] PID:316 TID:316 Comm:curl FD:5 WRITE (16 bytes, hex):\n"
                   b"0000  474554202F6F6C64 2D70616765204854                                      GET /old-page HT")
    gnutls_hex = b"[1970-01-01 00:00:12.345] PID:9 TID:9 Comm:wget FD:4 READ (3 bytes, hex):\n616263"
    nspr = b"TLSDataEvent{Timestamp: 12, PID: 5, TID: 5, Comm: firefox, FD: 7, Direction: read, DataLen: 9}"
    events = [openssl_hex, gnutls_hex, nspr, CONNECT, data_event(b"GET / HTTP/1.1\r\n\r\n")]
    data = written(events)
    assert looks_like_event_log(data)
    for size in (1, 13, 1 << 16):
        assert [r for _, r, _ in split(data, [size])] == [e if e.endswith(b"\n") else e + b"\n" for e in events]


def test_a_header_that_says_more_than_the_limit_ends_where_the_next_rendering_starts():
    """A header over ``max_size`` cannot be checked against what follows its bytes (they are not held): trusted, one
    saying 10^12 bytes took in all the log after it. The event ends at the next rendering, and the cut is told."""
    liar = HEAD + b"WRITE (1000000000000 bytes):\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"  # (27 bytes of data)
    long_liar = HEAD + b"READ (99999999 bytes):\n" + b"x\n" * 3000  # (past max_size too: skipped, measured)
    events = [CONNECT, liar, CONNECT, data_event(b"next"), long_liar, DESTROY, data_event(b"last")]
    data = written(events)
    for size in (1, 7, 700, 1 << 16):
        cuts = []
        got = list(iter_renderings(Trickle(data, [size]), 4096, lambda *cut: cuts.append(cut)))
        assert [(line, r) for line, r, _ in got] == [(1, CONNECT + b"\n"), (2, liar), (6, CONNECT + b"\n"),
                                                     (7, data_event(b"next") + b"\n"), (9, None),
                                                     (3010, DESTROY + b"\n"), (3011, data_event(b"last") + b"\n")]
        assert got[4][2] == len(long_liar)
        assert cuts == [(2, 10**12, 27), (9, 99999999, 6000)], size


def test_a_pipe_s_renderings_after_a_header_over_the_limit_come_out_as_they_come():
    """``nc -lk 8090 | ecq2pcap convert -``: what follows a header saying 10^12 bytes is not held for them."""
    liar = HEAD + b"WRITE (1000000000000 bytes):\nGET / HTTP/1.1\r\n\r\n"
    for size in (1, 7, 1 << 16):
        got = []
        with pytest.raises(_NothingMoreYet):
            for _, rendering, _ in iter_renderings(Pipe(written([liar, CONNECT]), size), 1 << 20):
                got.append(rendering)
        assert got == [liar, CONNECT + b"\n"], size


class _Huge(io.RawIOBase):
    """A data event of ``n`` bytes whose data holds no rendering's start and ends in no newline (eCapture adds
    one), then a connect line: made as it is read."""

    def __init__(self, n: int) -> None:
        self.parts = iter([HEAD + b"READ (%d bytes):\n" % n, *([b"y" * 4095 + b"\n"] * (n // 4096)),
                           b"z" * (n % 4096), b"\n" + CONNECT + b"\n"])
        self.left = b""

    def readable(self) -> bool:
        return True

    def read1(self, n: int = -1) -> bytes:
        if not self.left:
            self.left = next(self.parts, b"")
        piece, self.left = self.left[:n], self.left[n:]
        return piece


def test_a_real_event_over_the_limit_is_skipped_whole_in_bounded_memory():
    """Its bytes are there, a rendering follows them: read past (never held: the limit's worth at most), measured,
    and not said to be cut."""
    import tracemalloc

    n, limit, cuts = (48 << 20) + 5, 1 << 20, []
    tracemalloc.start()
    try:
        got = [(line, r, size) for line, r, size in iter_renderings(_Huge(n), limit, lambda *cut: cuts.append(cut))]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    head = len(HEAD + b"READ (%d bytes):\n" % n)
    assert got == [(1, None, head + n + 1), (n // 4096 + 3, CONNECT + b"\n", len(CONNECT) + 1)]
    assert cuts == []
    assert peak < 4 * limit, peak
