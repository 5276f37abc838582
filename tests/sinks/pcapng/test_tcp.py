"""TcpFlow: headers, checksums (recomputed by scapy and by a naive reference) and
sequence bookkeeping."""

from __future__ import annotations

import os
import struct

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether

from ecq2pcap.model import Direction
from ecq2pcap.sinks.pcapng.blocks import LINKTYPE_ETHERNET, LINKTYPE_RAW
from ecq2pcap.sinks.pcapng.checksum import SUM_PIECE
from ecq2pcap.sinks.pcapng.tcp import MAX_MSS, TcpFlow
from tests.support.pcapng import textbook_sum

C2S, S2C = Direction.C2S, Direction.S2C
ENDPOINTS = {4: ("192.0.2.10", "198.51.100.7"), 6: ("2001:db8::10", "fd00::7")}


def flow(version=4, link=LINKTYPE_ETHERNET, mss=MAX_MSS, client_isn=1000, server_isn=5000):
    c, s = ENDPOINTS[version]
    return TcpFlow(c, 51000, s, 80, client_isn=client_isn, server_isn=server_isn, link_type=link, mss=mss)


def parse(frame: bytes, link=LINKTYPE_ETHERNET):
    if link == LINKTYPE_ETHERNET:
        return Ether(frame)
    return IP(frame) if frame[0] >> 4 == 4 else IPv6(frame)


def rebuilt_by_scapy(frame: bytes, link=LINKTYPE_ETHERNET) -> bytes:
    """The frame after scapy recomputes every checksum (and lengths) itself."""
    pkt = parse(frame, link)
    if IP in pkt:
        del pkt[IP].chksum
        del pkt[IP].len
    if IPv6 in pkt:
        del pkt[IPv6].plen
    del pkt[TCP].chksum
    return bytes(parse(bytes(pkt), link))


def reference_tcp_checksum(frame: bytes, link=LINKTYPE_ETHERNET) -> int:
    """Textbook checksum: 16-bit words with end-around carry, over pseudo-header + segment."""
    ip = frame[14:] if link == LINKTYPE_ETHERNET else frame
    if ip[0] >> 4 == 4:
        seg = ip[20:]
        pseudo = ip[12:20] + struct.pack("!BBH", 0, 6, len(seg))
    else:
        seg = ip[40:]
        pseudo = ip[8:40] + struct.pack("!IxxxB", len(seg), 6)
    return ~textbook_sum(pseudo + seg[:16] + b"\0\0" + seg[18:]) & 0xFFFF


def conversation(f: TcpFlow, sizes=((C2S, 300), (S2C, 5001), (C2S, 1), (S2C, 77))):
    out = f.handshake()
    for d, n in sizes:
        out += f.data(d, os.urandom(n))
        out += f.ack(d.other)
    return out + f.close()


@pytest.mark.parametrize("version", [4, 6])
@pytest.mark.parametrize("link", [LINKTYPE_ETHERNET, LINKTYPE_RAW])
def test_checksums_and_lengths_match_scapy(version, link):
    for _, frame in conversation(flow(version, link, mss=1460)):
        assert rebuilt_by_scapy(frame, link) == frame


@pytest.mark.parametrize("version", [4, 6])
def test_checksum_edge_values(version):
    """Sweep the first payload word over all 65536 values: covers the sums that fold
    to 0 and to 0xFFFF (checksum 0x0000 must then be written, never 0xFFFF)."""
    seen = set()
    for word in range(0x10000):
        f = flow(version, mss=100)  # same headers each time: only the payload varies
        ((_, frame),) = f.data(C2S, struct.pack("!H", word) + b"\x01")
        tcp_off = 14 + (20 if version == 4 else 40)
        (csum,) = struct.unpack_from("!H", frame, tcp_off + 16)
        if csum in (0, 0xFFFF, 1) or word % 4099 == 0:
            assert csum == reference_tcp_checksum(frame)
            assert rebuilt_by_scapy(frame) == frame
        seen.add(csum)
    assert 0 in seen and 0xFFFF not in seen


@pytest.mark.parametrize("mss,sizes", [
    (997, ((C2S, 4000), (S2C, 3333), (C2S, 0), (S2C, 12345))),
    # long segments are summed in pieces (SUM_PIECE): around a piece's size, odd and even lengths, and the
    # pieces of a payload cut at the largest MSS (an odd 65495 bytes, then the rest)
    (MAX_MSS, ((C2S, SUM_PIECE), (S2C, SUM_PIECE + 1), (C2S, 2 * SUM_PIECE - 1), (S2C, 16384), (C2S, 70001))),
])
def test_reference_agrees_on_random_segments(mss, sizes):
    for version in (4, 6):
        f = flow(version, mss=mss)
        for _, frame in conversation(f, sizes):
            assert struct.unpack_from("!H", frame, 14 + (20 if version == 4 else 40) + 16)[0] == (
                reference_tcp_checksum(frame)
            )


def test_handshake():
    f = flow(mss=1400, client_isn=0xFFFFFFFF, server_isn=7)
    (d1, syn), (d2, synack), (d3, ack) = f.handshake()
    assert (d1, d2, d3) == (C2S, S2C, C2S)
    syn, synack, ack = Ether(syn), Ether(synack), Ether(ack)
    assert syn[TCP].flags == "S" and syn[TCP].seq == 0xFFFFFFFF and syn[TCP].ack == 0
    assert synack[TCP].flags == "SA" and synack[TCP].seq == 7 and synack[TCP].ack == 0  # wrapped
    assert ack[TCP].flags == "A" and ack[TCP].seq == 0 and ack[TCP].ack == 8
    for p in (syn, synack):
        opts = dict(p[TCP].options)
        assert opts["MSS"] == 1400 and opts["WScale"] == 14
    assert ack[TCP].options == []
    assert syn[Ether].src == "02:00:00:00:00:01" and syn[Ether].dst == "02:00:00:00:00:02"
    assert synack[Ether].src == "02:00:00:00:00:02" and synack[Ether].type == 0x0800
    assert (syn[IP].src, syn[IP].dst, syn[TCP].sport, syn[TCP].dport) == ("192.0.2.10", "198.51.100.7", 51000, 80)
    assert (synack[IP].src, synack[TCP].sport, synack[TCP].dport) == ("198.51.100.7", 80, 51000)
    assert syn[IP].ttl == 64 and syn[IP].flags == "DF"


def test_data_segments_seq_ack_and_psh():
    f = flow(mss=1000)
    f.handshake()
    c0, s0 = f.next_seq(C2S), f.next_seq(S2C)
    payload = os.urandom(2500)
    segs = f.data(C2S, payload)
    assert [d for d, _ in segs] == [C2S] * 3
    pkts = [Ether(fr) for _, fr in segs]
    assert [len(p[TCP].payload) for p in pkts] == [1000, 1000, 500]
    assert [p[TCP].seq for p in pkts] == [c0, c0 + 1000, c0 + 2000]
    assert all(p[TCP].ack == s0 for p in pkts)
    assert [str(p[TCP].flags) for p in pkts] == ["A", "A", "PA"]
    assert b"".join(bytes(p[TCP].payload) for p in pkts) == payload
    ((d, ack),) = f.ack(S2C)
    ack = Ether(ack)
    assert d == S2C and ack[TCP].flags == "A" and ack[TCP].seq == s0 and ack[TCP].ack == c0 + 2500
    assert len(ack[TCP].payload) == 0
    # the server's reply acks all of the client's data
    (_, reply), = f.data(S2C, b"hi")
    assert Ether(reply)[TCP].ack == c0 + 2500 and Ether(reply)[TCP].seq == s0
    assert f.next_seq(S2C) == s0 + 2


def test_ipv4_identification_increments_per_sender():
    f = flow()
    frames = f.handshake() + f.data(C2S, b"a") + f.data(S2C, b"b")
    ids = [(d, Ether(fr)[IP].id) for d, fr in frames]
    assert [i for d, i in ids if d == C2S] == [0, 1, 2]
    assert [i for d, i in ids if d == S2C] == [0, 1]


def test_empty_data_sends_nothing():
    f = flow()
    f.handshake()
    before = f.next_seq(C2S)
    assert f.data(C2S, b"") == []
    assert f.next_seq(C2S) == before


def test_close_exchange():
    f = flow()
    f.handshake()
    f.data(C2S, b"abc")
    c, s = f.next_seq(C2S), f.next_seq(S2C)
    (d1, fin1), (d2, fin2), (d3, last) = f.close(S2C)
    assert (d1, d2, d3) == (S2C, C2S, S2C)
    fin1, fin2, last = Ether(fin1)[TCP], Ether(fin2)[TCP], Ether(last)[TCP]
    assert (str(fin1.flags), fin1.seq, fin1.ack) == ("FA", s, c)
    assert (str(fin2.flags), fin2.seq, fin2.ack) == ("FA", c, s + 1)
    assert (str(last.flags), last.seq, last.ack) == ("A", s + 1, c + 1)
    assert f.closed


def test_default_mss_keeps_ipv4_length_in_16_bits():
    f = flow()
    payload = os.urandom(200_000)
    segs = [Ether(fr) for _, fr in f.data(S2C, payload)]
    assert len(segs) == 4
    assert all(p[IP].len <= 0xFFFF for p in segs)
    assert segs[0][IP].len == 0xFFFF  # 20 + 20 + 65495
    assert b"".join(bytes(p[TCP].payload) for p in segs) == payload


def test_ipv6_frames():
    f = flow(6)
    (_, syn), *_ = f.handshake()
    p = Ether(syn)
    assert p.type == 0x86DD and p[IPv6].src == "2001:db8::10" and p[IPv6].hlim == 64 and p[IPv6].nh == 6
    (_, raw), *_ = flow(6, LINKTYPE_RAW).handshake()
    assert raw[0] >> 4 == 6 and raw[8:24] == p[IPv6].build()[8:24]


def test_raw_link_has_no_ethernet_header():
    (_, syn), *_ = flow(4, LINKTYPE_RAW).handshake()
    assert syn[0] == 0x45 and IP(syn)[TCP].flags == "S"


@pytest.mark.parametrize("mss", [0, MAX_MSS + 1])
def test_mss_is_validated(mss):
    with pytest.raises(ValueError, match="mss"):
        flow(mss=mss)


def test_mixed_address_families_rejected():
    with pytest.raises(ValueError, match="mixed"):
        TcpFlow("10.0.0.1", 1, "::1", 2)


def test_endpoints_kept_are_bounded_and_give_the_same_packets():
    # a connection's packed addresses are kept by address pair (clients talk to the same servers again
    # and again), and each address (a new pair is mostly of addresses seen); a flood of distinct pairs or
    # addresses keeps at most max_entries of each, and a pair's packets are the same whatever was kept
    from ecq2pcap.sinks.pcapng import tcp

    tcp._ENDPOINTS.known.clear()
    tcp._ADDRESSES.known.clear()
    for i in range(3 * tcp._ADDRESSES.max_entries):
        TcpFlow(f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}", 1000, f"192.0.{i >> 8 & 255}.{i & 255}", 443)
        assert len(tcp._ENDPOINTS.known) <= tcp._ENDPOINTS.max_entries
        assert len(tcp._ADDRESSES.known) <= tcp._ADDRESSES.max_entries
    for client, server in (("10.0.0.1", "192.0.2.1"), ("fe80::1%eth0", "2001:db8::2")):
        packets = []
        for clear in ((tcp._ENDPOINTS, tcp._ADDRESSES), (tcp._ENDPOINTS,), ()):  # nothing kept, addresses, both
            for memo in clear:
                memo.known.clear()
            flow = TcpFlow(client, 1000, server, 443, client_isn=7, server_isn=9)
            packets.append(flow.handshake() + flow.data(C2S, b"hello"))
        assert (client, server, LINKTYPE_ETHERNET) in tcp._ENDPOINTS.known and server in tcp._ADDRESSES.known
        assert packets[0] == packets[1] == packets[2]
    with pytest.raises(ValueError, match="mixed"):
        TcpFlow("10.0.0.1", 1000, "2001:db8::2", 443)
    assert ("10.0.0.1", "2001:db8::2", LINKTYPE_ETHERNET) not in tcp._ENDPOINTS.known
