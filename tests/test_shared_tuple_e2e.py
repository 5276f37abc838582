"""Two connections open at once on one 4-tuple: one socket under two fds of a process (``dup()``), under two processes
(a worker forked with it), both ends of a loopback connection captured, or v2 connect lines giving one tuple to two
fds. eCapture reports them under different uuids; written on one 4-tuple, Wireshark read a second SYN in the middle of
an open stream and mixed the two (TCP analysis errors, follow-stream giving both), and the summary's figures per
connection were not tshark's. The second is shown from another client port, said in its SYN's comment."""

from __future__ import annotations

import json
import re
import time

import pytest

from ecq2pcap import live
from tests.conftest import run_tshark
from tests.support.cli import run_main
from tests.support.fake_ecapture import FakeECapture
from tests.support.mixed_stream import T0, event_line
from tests.support.v2_stream import V2Stream
from tests.test_live import after_shb, cli_main

T = "10.0.0.1:50000-10.0.0.2:443"
OTHER = "10.0.0.1:50001-10.0.0.2:443"
A = (b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\naaa")
B = (b"GET /bb HTTP/1.1\r\nHost: h\r\nX-B: 1\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nbbbbb")
# (pid, comm, fd, the captured end) of the two connections
SHARED = {
    "dup": [(400, "curl", 5, "client"), (400, "curl", 6, "client")],
    "fork": [(400, "nginx", 7, "server"), (401, "nginx", 7, "server")],
    "both ends": [(400, "curl", 5, "client"), (500, "nginx", 9, "server")],
}


def _v1_lines(ends, t0: int = 0, tuples=(T, T)) -> list[str]:
    """Both requests, then both answers, interleaved (v1.4: whole seconds)."""
    lines = []
    for step, (i, j) in enumerate([(0, 0), (1, 0), (0, 1), (1, 1)]):
        pid, comm, fd, role = ends[i]
        sent = (j == 0) == (role == "client")  # (the request is the client's send, the server's read)
        lines.append(event_line(t0 + 1 + step // 2, pid, comm, fd, 1 if sent else 0, tuples[i], 1 + 2 * j,
                                (A, B)[i][j]))
    return lines


def _v2_dump() -> bytes:
    s = V2Stream()
    for fd in (5, 6):
        s.connect(400, fd, "curl", ("10.0.0.1", 50000), ("10.0.0.2", 443))
    s.call(400, 5, "curl", True, A[0])
    s.call(400, 6, "curl", True, B[0])
    s.call(400, 5, "curl", False, A[1])
    s.call(400, 6, "curl", False, B[1])
    return s.dump()


def _convert(tmp_path, dump, *options, name="o"):
    pcap, har = tmp_path / f"{name}.pcapng", tmp_path / f"{name}.har"
    p = run_main("convert", str(dump), "-w", str(pcap), "--har", str(har), "-q", *options, text=True)
    assert p.returncode == 0, p.stderr
    return pcap, har


def _conversations(tshark, pcap) -> dict[int, tuple[int, int]]:
    """``-z conv,tcp``: client port → (bytes client→server, bytes server→client)."""
    text = run_tshark(tshark, pcap, "-q", "-z", "conv,tcp")
    rows = re.findall(r"^10\.0\.0\.1:(\d+)\s+<-> 10\.0\.0\.2:\d+\s+\d+ (\d+) bytes\s+\d+ (\d+) bytes", text, re.M)
    out = {int(port): (int(c2s), int(s2c)) for port, s2c, c2s in rows}
    assert len(out) == len(rows), text
    return out


def _follow(tshark, pcap, stream: int) -> tuple[bytes, bytes]:
    """``-z follow,tcp,raw``: (the client's bytes, the server's) of one stream."""
    text = run_tshark(tshark, pcap, "-q", "-z", f"follow,tcp,raw,{stream}")
    sent = {True: b"", False: b""}
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Node 1:")) + 1
    for line in lines[start:]:
        if line.startswith("====="):
            break
        sent[not line.startswith("\t")] += bytes.fromhex(line.strip())
    return sent[True], sent[False]


def _check_apart(tshark, pcap, har, expected=(A, B)) -> dict[int, tuple[int, int]]:
    """Two TCP conversations, each with exactly its own connection's bytes, no TCP analysis warning or error; the
    HAR has one entry on each connection."""
    convs = _conversations(tshark, pcap)
    assert len(convs) == 2, convs
    followed = {_follow(tshark, pcap, stream) for stream in (0, 1)}
    assert followed == set(expected)
    assert run_tshark(tshark, pcap, "-Y", "tcp.analysis.flags") == ""
    assert run_tshark(tshark, pcap, "-Y", "_ws.expert.severity >= 0x00600000") == ""
    entries = json.loads(har.read_text())["log"]["entries"]
    urls = sorted((e["connection"], e["request"]["url"]) for e in entries)
    assert urls == [("1", "https://h/a"), ("2", "https://h/bb")]
    return convs


def _syn_comments(tshark, pcap) -> list[tuple[int, str]]:
    out = run_tshark(tshark, pcap, "-Y", "tcp.flags.syn==1 && tcp.flags.ack==0", "-T", "fields", "-e", "tcp.srcport",
                     "-e", "frame.comment")
    return [(int(line.split("\t")[0]), line.split("\t", 1)[1]) for line in out.splitlines()]


@pytest.mark.parametrize("kind", list(SHARED))
def test_two_open_connections_on_one_tuple_are_two_streams(tmp_path, tshark, kind):
    dump = tmp_path / "in.jsonl"
    dump.write_text("\n".join(_v1_lines(SHARED[kind])) + "\n")
    pcap, har = _convert(tmp_path, dump)
    convs = _check_apart(tshark, pcap, har)
    [(first, c1), (second, c2)] = _syn_comments(tshark, pcap)
    assert first == 50000 and second != 50000 and second in convs
    assert "client port" not in c1
    assert f"client port 50000 shown as {second}: connection 1 had this 4-tuple open" in c2
    # the summary's figures are tshark's, its client column says the port shown
    p = run_main("summary", str(dump), "--json", text=True)
    assert p.returncode == 0, p.stderr
    rows = json.loads(p.stdout)["connections"]
    assert [r["client"] for r in rows] == ["10.0.0.1:50000"] * 2
    assert {r["shown_client_port"]: (r["bytes_c2s"], r["bytes_s2c"]) for r in rows} == convs
    text = run_main("summary", str(dump), text=True).stdout
    assert f"10.0.0.1:50000 (as {second}) → 10.0.0.2:443" in text
    err = run_main("convert", str(dump), "-w", str(tmp_path / "again.pcapng"), "--no-progress", text=True).stderr
    assert "shown from another client port: 1 connection(s)" in err


def test_v2_connect_lines_giving_one_tuple_to_two_fds(tmp_path, tshark):
    dump = tmp_path / "in.jsonl"
    dump.write_bytes(_v2_dump())
    pcap, har = _convert(tmp_path, dump)
    _check_apart(tshark, pcap, har)
    assert [port != 50000 for port, _ in _syn_comments(tshark, pcap)] == [False, True]


@pytest.mark.parametrize("kind", ["dup", "v2"])
def test_jobs_2_writes_what_jobs_1_writes(tmp_path, kind):
    dump = tmp_path / "in.jsonl"
    if kind == "v2":
        dump.write_bytes(_v2_dump())
    else:
        dump.write_text("\n".join(_v1_lines(SHARED[kind])) + "\n")
    one = _convert(tmp_path, dump, "-j", "1", name="one")
    two = _convert(tmp_path, dump, "-j", "2", name="two")
    assert one[0].read_bytes() == two[0].read_bytes() and one[1].read_bytes() == two[1].read_bytes()
    assert b"shown as 61000" in one[0].read_bytes()


def test_a_tuple_used_again_after_its_connection_closed_keeps_its_port(tmp_path, tshark):
    """Not a clash: the first connection (fd 5, superseded by another tuple on its fd) has ended, FIN and all, when
    the tuple opens again on fd 6; both are shown on the real port, as a capture of port reuse is."""
    lines = [event_line(1, 400, "curl", 5, 1, T, 1, A[0]), event_line(2, 400, "curl", 5, 0, T, 3, A[1]),
             event_line(3, 400, "curl", 5, 1, OTHER, 1, A[0]), event_line(4, 400, "curl", 5, 0, OTHER, 3, A[1]),
             event_line(30, 400, "curl", 6, 1, T, 1, B[0]), event_line(31, 400, "curl", 6, 0, T, 3, B[1])]
    dump = tmp_path / "in.jsonl"
    dump.write_text("\n".join(lines) + "\n")
    pcap, _ = _convert(tmp_path, dump)
    syns = _syn_comments(tshark, pcap)
    assert [port for port, _ in syns] == [50000, 50001, 50000]
    assert not any("client port" in comment for _, comment in syns)
    fins = run_tshark(tshark, pcap, "-Y", "tcp.flags.fin==1 || (tcp.flags.syn==1 && tcp.flags.ack==0)", "-T", "fields",
                      "-e", "tcp.srcport", "-e", "tcp.flags.syn").split("\n")
    first_fin = fins.index("50000\t0")
    assert first_fin < fins.index("50000\t1", 1)  # (conn 1's FIN before conn 3's SYN)


@pytest.mark.live
@pytest.mark.slow
def test_live_burst_and_paced_give_the_same_streams_and_equal_convert_of_their_recording(tmp_path, tshark,
                                                                                         monkeypatch):
    monkeypatch.setattr(live, "TICK_S", 0.1)
    script = _v1_lines(SHARED["dup"], t0=int(time.time()) - 2 - T0)  # (times of now: the live clock is the wall's)
    results = []
    for name, at in [("burst", None), ("paced", [0.3 * i for i in range(len(script))])]:
        pcap, har, rec = tmp_path / f"{name}.pcapng", tmp_path / f"{name}.har", tmp_path / f"{name}.rec.jsonl"
        with FakeECapture(script=script, at=at) as fake:
            code = cli_main(["live", fake.url, "-w", str(pcap), "--har", str(har), "--record", str(rec),
                             "--duration", "2.5", "--reorder-window", "0.2", "-q"])
        assert code == 0
        again = _convert(tmp_path, rec, "--reorder-window", "0.2", name=f"{name}.conv")
        assert after_shb(pcap) == after_shb(again[0]) and har.read_bytes() == again[1].read_bytes()
        convs = _check_apart(tshark, pcap, har)
        results.append((convs, [port for port, _ in _syn_comments(tshark, pcap)]))
    assert results[0] == results[1]
