"""Name Resolution Blocks: tshark -N n shows the requested host names for server addresses."""

import os
import struct
import subprocess
import sys

import pytest

from ecq2pcap.sinks.pcapng.names import NameBook, name_resolution_block
from tests.conftest import ROOT, run_tshark
from tests.support import mixed_stream
from tests.support.pcapng import blocks

ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
SYN = "tcp.flags.syn==1 && tcp.flags.ack==0"
EXPECTED = {40001: "api.example.com", 40002: "www.other.test", 40003: "api.example.com",
            50000: "shop.example.com", 40004: "plain.test"}


def syn_names(tshark, pcap, *extra):
    out = subprocess.run([tshark, "-N", "n", "-r", str(pcap), "-Y", SYN, "-T", "fields", "-e", "tcp.srcport",
                          "-e", "ip.dst_host", *extra], capture_output=True, text=True, check=True).stdout
    return {int(line.split("\t")[0]): line.split("\t")[1] for line in out.splitlines()}


def test_convert_names_every_server_before_its_first_packet(tmp_path, tshark):
    src = mixed_stream.write(tmp_path / "mixed.jsonl")
    pcap = tmp_path / "out.pcapng"
    p = subprocess.run([sys.executable, "-m", "ecq2pcap", "convert", str(src), "-w", str(pcap), "-q"], env=ENV,
                       capture_output=True)
    assert p.returncode == 0, p.stderr
    assert syn_names(tshark, pcap) == EXPECTED  # one pass: each name was known before the SYN
    # without -N n, addresses stay addresses
    plain = run_tshark(tshark, pcap, "-Y", SYN, "-T", "fields", "-e", "ip.dst_host").split()
    assert plain == ["10.0.0.1", "10.0.0.2", "10.0.0.1", "10.0.0.5", "10.0.0.3"]
    # 4 distinct server addresses: 4 NRBs, none repeated
    assert sum(1 for t, _ in blocks(pcap) if t == 4) == 4


def test_filtered_out_connections_name_nothing(tmp_path, tshark):
    src = mixed_stream.write(tmp_path / "mixed.jsonl")
    pcap = tmp_path / "out.pcapng"
    subprocess.run([sys.executable, "-m", "ecq2pcap", "convert", str(src), "-w", str(pcap), "-q", "--comm", "wget"],
                   env=ENV, check=True)
    nrbs = [b for t, b in blocks(pcap) if t == 4]
    assert len(nrbs) == 1 and b"api.example.com\0" in nrbs[0] and b"other" not in nrbs[0]


@pytest.mark.live
def test_live_names_learned_later_go_in_later_blocks(tmp_path, tshark):
    from tests.support.fake_ecapture import FakeECapture

    lines = mixed_stream.lines()
    pcap = tmp_path / "live.pcapng"
    with FakeECapture(replay=lines[:1], script=lines[1:]) as server:
        p = subprocess.run([sys.executable, "-m", "ecq2pcap", "live", server.url, "-w", str(pcap), "--duration", "2",
                            "--idle-timeout", "0", "-q"], env=ENV, capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    kinds = [t for t, _ in blocks(pcap)]
    nrb_at = [i for i, t in enumerate(kinds) if t == 4]
    assert len(nrb_at) == 4 and nrb_at[1] > kinds.index(6)  # a later NRB after packets were written
    assert syn_names(tshark, pcap) == EXPECTED


def test_name_resolution_block_layout():
    block = name_resolution_block([("10.1.2.3", "a.test"), ("2001:db8::1", "b.test")])
    assert struct.unpack_from("=II", block) == (4, len(block)) and len(block) % 4 == 0
    rtype, rlen = struct.unpack_from("=HH", block, 8)
    assert (rtype, rlen) == (1, 4 + 7) and block[12:16] == bytes([10, 1, 2, 3]) and block[16:23] == b"a.test\0"
    rtype, rlen = struct.unpack_from("=HH", block, 24)
    assert (rtype, rlen) == (2, 16 + 7)
    assert block[-8:-4] == b"\0\0\0\0"  # nrb_record_end
    book = NameBook()
    assert book.block("10.0.0.1", "x.test") and book.block("10.0.0.1", "y.test") is None
    assert book.block("not-an-ip", "x.test") is None and book.block("10.0.0.2", "10.0.0.2") is None


def test_a_new_ring_file_names_the_open_connections_servers(tmp_path):
    """After a rotation the open connections' servers are named again (at their first event in the new file), a
    connection that was not read for its own name (its address was named before) by its address's name."""
    import io

    from ecq2pcap.filters import ConnectionView
    from ecq2pcap.sinks.pcapng import PcapngSink
    from tests.sinks.pcapng.test_sink import C2S, T0, chunk, connection

    view, first, second = ConnectionView(), io.BytesIO(), io.BytesIO()
    sink = PcapngSink(first, hosts=view.host)
    earlier, later = connection(1, client=("10.1.1.1", 51000)), connection(2, client=("10.1.1.1", 51001))
    for events in ([chunk(earlier, C2S, b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n", T0)],
                   [chunk(later, C2S, b"GET / HTTP/1.1\r\nHost: b.test\r\n\r\n", T0 + 1)]):
        sink.handle_events(view.process(events))
    sink.rotate(second, "continued")
    sink.handle_events(view.process([chunk(later, C2S, b"GET /next HTTP/1.1\r\nHost: b.test\r\n\r\n", T0 + 2)]))
    sink.finish()
    for n, out in enumerate((first, second)):
        path = tmp_path / f"{n}.pcapng"
        path.write_bytes(out.getvalue())
        nrbs = [b for t, b in blocks(path) if t == 4]
        assert len(nrbs) == 1 and b"a.test\0" in nrbs[0] and b"b.test" not in nrbs[0]


def test_max_names_bounds_the_named_addresses(tmp_path, tshark):
    """A pcapng names at most --max-names server addresses (each kept for the rest of the file); the later ones
    stay addresses, and the run says which limit did it."""
    src = mixed_stream.write(tmp_path / "mixed.jsonl")
    pcap = tmp_path / "out.pcapng"
    p = subprocess.run([sys.executable, "-m", "ecq2pcap", "convert", str(src), "-w", str(pcap), "--max-names", "2"],
                       env=ENV, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert sum(1 for t, _ in blocks(pcap) if t == 4) == 2
    assert syn_names(tshark, pcap) == {**EXPECTED, 50000: "10.0.0.5", 40004: "10.0.0.3"}
    assert "(limit: --max-names)" in p.stderr and "limits reached: --max-names 1" in p.stderr


def test_a_full_name_book_names_no_new_address():
    book = NameBook(max_names=1)
    assert book.block("10.0.0.1", "a.test") and not book.full
    assert book.block("10.0.0.2", "b.test") is None and book.full
    assert book.block("10.0.0.1", "a.test") is None and len(book) == 1
