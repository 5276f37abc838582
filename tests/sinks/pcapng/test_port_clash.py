"""Two connections open at once from one client address and port to one server address, on two server ports (Linux
reuses a source port for another destination; a NAT does): the default port map showed both on 80, one 4-tuple, and
Wireshark made them one stream (port reuse, spurious retransmissions, a response lost to dissection)."""

from __future__ import annotations

import json

from tests.conftest import run_tshark
from tests.support.cli import run_main
from tests.support.mixed_stream import event_line

A, B = "10.0.0.1:50000-10.0.0.2:443", "10.0.0.1:50000-10.0.0.2:8443"
GET = b"GET /%s HTTP/1.1\r\nHost: h\r\n\r\n"
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def _convert(tmp_path, events):
    dump = tmp_path / "in.jsonl"
    dump.write_text("\n".join(events) + "\n")
    p = run_main("convert", str(dump), "-w", str(tmp_path / "o.pcapng"), "--har", str(tmp_path / "o.har"), "-q",
                 text=True)
    assert p.returncode == 0, p.stderr
    return tmp_path / "o.pcapng", json.loads((tmp_path / "o.har").read_text())["log"]["entries"]


def test_two_open_connections_that_the_map_would_merge_keep_apart(tmp_path, tshark):
    pcap, entries = _convert(tmp_path, [
        event_line(1, 400, "curl", 5, 1, A, 1, GET % b"a"), event_line(1, 400, "curl", 6, 1, B, 1, GET % b"b"),
        event_line(1, 400, "curl", 5, 0, A, 3, OK), event_line(1, 400, "curl", 6, 0, B, 3, OK)])
    syns = run_tshark(tshark, pcap, "-Y", "tcp.flags.syn==1 && tcp.flags.ack==0", "-T", "fields", "-e", "tcp.dstport",
                      "-e", "frame.comment").splitlines()
    assert [s.split("\t")[0] for s in syns] == ["80", "8443"]  # (the first as mapped; the second on its own port)
    assert "server port kept: another connection" in syns[1]
    assert run_tshark(tshark, pcap, "-Y", "tcp.analysis.flags") == ""
    assert len(run_tshark(tshark, pcap, "-Y", "http.response", "-T", "fields", "-e", "frame.number").split()) == 2
    assert len(entries) == 2


def test_one_after_the_other_both_are_mapped(tmp_path, tshark):
    """The first closed (eCapture's destroy: a new connection on the fd) before the second opens: no clash."""
    pcap, _ = _convert(tmp_path, [
        event_line(1, 400, "curl", 5, 1, A, 1, GET % b"a"), event_line(1, 400, "curl", 5, 0, A, 3, OK),
        event_line(9, 400, "curl", 5, 1, B, 1, GET % b"b"), event_line(9, 400, "curl", 5, 0, B, 3, OK)])
    ports = run_tshark(tshark, pcap, "-Y", "tcp.flags.syn==1 && tcp.flags.ack==0", "-T", "fields", "-e", "tcp.dstport")
    assert ports.split() == ["80", "80"]


def test_what_the_table_keeps_of_open_connections_by_client_port_goes_with_them():
    """The connections kept by client port (keep_port) leave with their close: a client port that once had two open
    is not kept for ever."""
    from ecq2pcap.flows import ConnectionTable
    from ecq2pcap.model import Capture, DataType, PayloadForm, Tuple
    from ecq2pcap.report import Report

    table = ConnectionTable(Report())

    def cap(fd, port, t):
        tup = Tuple("10.0.0.1", 50000, "10.0.0.2", port)
        return Capture(pid=400, tid=400, comm="curl", fd=fd, data_type=DataType.WRITE, tuple=tup, timestamp_ns=t,
                       payload=GET % b"x", form=PayloadForm.HTTP1_RENDERED, ectype=1,
                       uuid=f"400_400_curl_{fd}_1_10.0.0.1:50000-10.0.0.2:{port}")

    events = table.feed(cap(5, 443, 10**9)) + table.feed(cap(6, 8443, 10**9)) + table.close_all()
    assert [e.conn.keep_port for e in events if type(e).__name__ == "Opened"] == [False, True]
    assert table._from == {}


def test_the_summary_shows_the_server_port_kept(tmp_path):
    """``summary`` says the port the pcapng shows: the real one kept, not the one the map would give (it said 80)."""
    dump = tmp_path / "in.jsonl"
    dump.write_text("\n".join([
        event_line(1, 400, "curl", 5, 1, A, 1, GET % b"a"), event_line(1, 400, "curl", 6, 1, B, 1, GET % b"b"),
        event_line(1, 400, "curl", 5, 0, A, 3, OK), event_line(1, 400, "curl", 6, 0, B, 3, OK)]) + "\n")
    p = run_main("summary", str(dump), "--json", text=True)
    assert p.returncode == 0, p.stderr
    rows = json.loads(p.stdout)["connections"]
    assert [(r["server"], r["shown_server_port"]) for r in rows] == [("10.0.0.2:443", 80), ("10.0.0.2:8443", 8443)]
    assert "10.0.0.2:8443 (as" not in run_main("summary", str(dump), text=True).stdout
