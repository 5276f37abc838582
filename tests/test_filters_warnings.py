"""With --pid/--comm/--host/--port, the warnings about a connection the filters left out (data eCapture lost in it,
the open limit ending it) were said as FILE:LINE lines and counted in the summary's warnings as if that traffic
were in the outputs. They now wait for the filters' decision on their connection: those of a kept connection are
said as before, those of one left out are counted apart on the summary's warnings line, by reason."""

from __future__ import annotations

import re

import pytest

from tests.support.cli import run_main
from tests.support.v2_stream import V2Stream
from tests.test_filters_made_up import _dump as websocket_frame_lost

APART = "more in connections the filters left out"


def _convert(tmp_path, dump, *options: str, jobs: int = 1):
    out = tmp_path / f"j{jobs}"
    out.mkdir(exist_ok=True)
    p = run_main("convert", str(dump), "-w", str(out / "o.pcapng"), "--har", str(out / "o.har"), "-j", str(jobs),
                 "--no-progress", *options, text=True)
    assert p.returncode == 0, p.stderr
    return p.stderr


def _summary(stderr: str) -> str:
    return stderr[stderr.index("ecq2pcap summary:"):]


def _warnings_line(stderr: str) -> str:
    return next(line for line in _summary(stderr).splitlines() if line.strip().startswith("warnings"))


@pytest.mark.parametrize("jobs", [1, 2])
def test_ecaptures_loss_in_a_connection_left_out_is_counted_apart(tmp_path, jobs):
    dump = websocket_frame_lost(tmp_path)  # (pid 7: a WebSocket frame whose rest eCapture lost; pid 8: curl)
    err = _convert(tmp_path, dump, "--pid", "8", jobs=jobs)
    assert "warning:" not in err and not re.search(r"^\s+\d+ × data lost by eCapture$", err, re.M)  # (no reason)
    line = _warnings_line(err)
    assert re.match(r"\s*warnings\s+0\s", line) and f"(1 {APART}: 1 × data lost by eCapture)" in line
    kept = _convert(tmp_path, dump, "--pid", "7", jobs=jobs)  # (kept: said at its line, as without filters)
    assert f"{dump}:5: warning: data lost by eCapture" in kept and APART not in kept
    assert re.match(r"\s*warnings\s+1$", _warnings_line(kept))


def _open_limit(first_kept: bool) -> V2Stream:
    """Two connections, of pids 7 and 8; the second one opened ends the first (--max-connections 1), whose answer to
    a second request then goes on in a new connection (which ends the second)."""
    s = V2Stream()
    pids = (7, 8) if first_kept else (8, 7)
    for pid in pids:
        s.connect(pid, 100, "client", ("10.0.0.1", 40000 + pid), ("10.0.0.2", 443))
        s.call(pid, 100, "client", True, b"GET /%d HTTP/1.1\r\nHost: h.test\r\n\r\n" % pid)
        s.call(pid, 100, "client", False, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    s.call(pids[0], 100, "client", False, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    return s


@pytest.mark.parametrize("first_kept", [False, True])
def test_the_open_limit_parting_a_connection_left_out_is_counted_apart(tmp_path, first_kept):
    dump = tmp_path / "in.jsonl"
    dump.write_bytes(_open_limit(first_kept).dump())
    said = {}
    for jobs in (1, 2):  # (-j 2: the first process's table says it, the worker that has the connection decides)
        err = _convert(tmp_path, dump, "--pid", "7", "--max-connections", "1", jobs=jobs)
        # (pid 7's connection ended: counted; pid 8's: in no output, not counted)
        assert "limits reached: --max-connections 1 " in err and re.search(r"^  ended early +1 ", err, re.M)
        if first_kept:
            assert "warning: connection ended early (too many open)" in err and APART not in err
            assert "1 went on later" in err
        else:
            assert "warning:" not in err and "nothing was parted" in err
            assert f"(1 {APART}: 1 × connection ended early (too many open))" in _warnings_line(err)
        said[jobs] = _summary(err)
    assert said[1] == said[2]


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_warning_before_the_host_filter_decides_waits_for_the_decision(tmp_path, jobs):
    """--host decides a connection at its first request head: one that has none (its request lost) is decided at
    its end, and the open limit's warning, said before that, waited for it."""
    s = V2Stream()
    s.connect(7, 100, "client", ("10.0.0.1", 40000), ("10.0.0.2", 443))
    s.call(7, 100, "client", False, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")  # (no request: undecided)
    s.connect(7, 101, "client", ("10.0.0.1", 40001), ("10.0.0.3", 443))  # (opened: connection 1 ends)
    s.call(7, 101, "client", True, b"GET / HTTP/1.1\r\nHost: h.test\r\n\r\n")
    s.call(7, 101, "client", False, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    s.call(7, 100, "client", False, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")  # (connection 1 goes on)
    dump = tmp_path / "in.jsonl"
    dump.write_bytes(s.dump())
    err = _convert(tmp_path, dump, "--host", "h.test", "--max-connections", "1", jobs=jobs)
    assert "warning: connection ended early" not in err and "2 filtered out" in err
    assert f"(1 {APART}: 1 × connection ended early (too many open)" in _warnings_line(err)


# The warnings of the flow table's bounds about one connection: each stream makes pid 8's connection the one a bound
# bites (pid 7's is small, and comes after), with the flag that sets the bound.
BLOB = bytes(range(256)) * 16  # 4 KiB that tell no role (not HTTP, not TLS)


def _placed_before_connection() -> tuple[V2Stream, tuple[str, ...], str]:
    """pid 8's calls on fd 100 with no connect line: held for their connection, past --max-connection-buffer."""
    s = V2Stream()
    for _ in range(6):
        s.call(8, 100, "client", True, BLOB)
    _small(s)
    return s, ("--max-connection-buffer", "16K"), "captures placed before their connection came"


def _role_settled() -> tuple[V2Stream, tuple[str, ...], str]:
    """pid 8's connection writes bytes that tell no role (they wait for it) until pid 7's, also waiting, pass
    --max-reorder-buffer all together: pid 8's, waiting longest, goes on."""
    s = V2Stream()
    s.connect(8, 100, "client", ("10.0.0.1", 40008), ("10.0.0.2", 5432))
    for _ in range(10):  # (10 × (4 KiB + 2 KiB held) under 64K)
        s.call(8, 100, "client", True, BLOB)
    s.connect(7, 100, "client", ("10.0.0.1", 40007), ("10.0.0.2", 5432))
    s.call(7, 100, "client", True, BLOB)
    return s, ("--max-reorder-buffer", "64K"), "connection's role settled early"


def _shorter_window() -> tuple[V2Stream, tuple[str, ...], str]:
    """pid 8's request body, in calls a millisecond apart, passes --max-reorder-buffer: its oldest go on early."""
    s = V2Stream()
    s.connect(8, 100, "client", ("10.0.0.1", 40008), ("10.0.0.2", 443))
    s.call(8, 100, "client", True, b"POST / HTTP/1.1\r\nHost: h.test\r\nContent-Length: %d\r\n\r\n" % (12 * len(BLOB)))
    for _ in range(12):
        s.call(8, 100, "client", True, BLOB)
    s.call(8, 100, "client", False, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    _small(s, connect=True)
    return s, ("--max-reorder-buffer", "64K"), "captures put in time order over a shorter window"


def _small(s: V2Stream, connect: bool = True) -> None:
    s.t += 10  # (later than pid 8's, past the reorder window)
    if connect:
        s.connect(7, 101, "client", ("10.0.0.1", 40007), ("10.0.0.3", 443))
    s.call(7, 101, "client", True, b"GET / HTTP/1.1\r\nHost: h.test\r\n\r\n")
    s.call(7, 101, "client", False, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")


@pytest.mark.parametrize("stream", [_placed_before_connection, _role_settled, _shorter_window])
def test_a_bound_biting_a_connection_left_out_is_counted_apart(tmp_path, stream):
    """The warnings of the flow table's bounds (captures waiting for their connection, or for its role, and the
    reorder buffer) were said at once, also about a connection the filters then left out; they now wait for the
    filters' decision like the others (convert -j: the worker that has the connection decides, the same summary)."""
    s, options, reason = stream()
    dump = tmp_path / "in.jsonl"
    dump.write_bytes(s.dump())
    said = {}
    for jobs in (1, 2):
        err = _convert(tmp_path, dump, "--pid", "7", *options, jobs=jobs)
        assert f"warning: {reason}" not in err and "limits reached" not in err, err
        apart = rf"\(\d+ {APART}: \d+ × {re.escape(reason)} \(limit: {options[0]}\)"
        assert re.search(apart, _warnings_line(err)), err
        said[jobs] = _summary(err)
        kept = _convert(tmp_path, dump, "--pid", "8", *options, jobs=jobs)  # (the control: said at its line)
        assert re.search(rf"^ecq2pcap: {re.escape(str(dump))}:\d+: warning: {re.escape(reason)}: ", kept, re.M), kept
        assert APART not in kept and f"limits reached: {options[0]}" in kept, kept
    assert said[1] == said[2]


def _displaced_before_it_opened() -> V2Stream:
    """Comm a's connection on fd 100 (bytes that tell no role, whose role --max-reorder-buffer settles early: its
    warning waits for its Connection) is superseded by a connect line of its own tuple, and the next connection, comm
    b's, opens while a's captures still wait in the reorder buffer: a's, closed before it ever opened, opens later."""
    s = V2Stream()
    s.connect(7, 101, "a", ("10.0.0.1", 40001), ("10.0.0.2", 443))
    s.t += 63.5
    for write, dt in ((True, 0.003), (False, 0), (True, 0), (False, 0.001)):
        s.call(7, 100, "a", write, BLOB, dt=dt)
    s.call(7, 101, "a", True, BLOB)
    s.call(7, 101, "a", True, BLOB, dt=0)
    s.connect(7, 100, "a", ("10.0.0.1", 40001), ("10.0.0.2", 5432))
    s.call(7, 100, "b", True, b"GET / HTTP/1.1\r\nHost: h.test\r\n\r\n", dt=3)
    for comm, dt in (("a", 0.001), ("a", 0), ("b", 0)):
        s.call(7, 100, comm, True, BLOB, dt=dt)
    s.connect(7, 100, "a", ("10.0.0.1", 40001), ("10.0.0.2", 5432))
    for dt in (0, 0.001, 0):
        s.call(7, 100, "b", True, BLOB, dt=dt)
    return s


def test_a_warning_about_a_connection_closed_before_it_opened_waits_for_the_filters(tmp_path):
    """A connection that a new one of its tuple ended before any of its captures went on said its held warnings at
    once, as without filters, though its captures then went on (it opens again) in a Connection the filters decide:
    they were said also with the filter that leaves that Connection out. They now wait for it (its next one)."""
    dump = tmp_path / "in.jsonl"
    dump.write_bytes(_displaced_before_it_opened().dump())
    options = ("--max-connections", "1", "--max-reorder-buffer", "32K")
    reason = "connection's role settled early"

    def said(err: str) -> int:
        return err.count(f": warning: {reason}: ")

    everything = said(_convert(tmp_path, dump, *options))
    assert everything
    total = 0
    for comm in ("a", "b"):  # (every connection is of one of the two: each warning is said with one filter)
        summaries = {}
        for jobs in (1, 2):
            err = _convert(tmp_path, dump, "--comm", comm, *options, jobs=jobs)
            apart = re.search(rf"(\d+) × {re.escape(reason)} \(limit", _warnings_line(err))
            assert said(err) + (int(apart[1]) if apart else 0) == everything, err
            summaries[jobs] = _summary(err)
        assert summaries[1] == summaries[2]
        total += said(err)
    assert total == everything
