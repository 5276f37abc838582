"""PcapngSink end to end: the files it writes, read back by tshark and by scapy. The sink's own behaviour
(link types, times, counts, flushes, options, writev, name blocks) is in test_sink_behaviour.py, which builds
its connections with the helpers here."""

from __future__ import annotations

import os

import h2.config
import h2.connection
import msgspec
import pytest
from scapy.layers.inet import TCP
from scapy.layers.l2 import Ether  # noqa: F401  (registers link type 1 for rdpcap)
from scapy.utils import rdpcap

from ecq2pcap.model import Chunk, ChunkInfo, Closed, Connection, Direction, Opened, PayloadForm, Protocol
from ecq2pcap.sinks.pcapng import PcapngSink, PortMap
from ecq2pcap.sinks.pcapng.resume import CONTINUATION_PREFACE
from tests.support.dissect import bad_expert, dissect, follow, syns, warnings

C2S, S2C = Direction.C2S, Direction.S2C
T0 = 1_700_000_000_000_000_000
REQUEST = b"GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.0\r\n\r\n"
BODY = os.urandom(200_000)
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 200000\r\n\r\n" + BODY


def connection(id=1, client=("10.1.1.1", 51000), server=("10.2.2.2", 8443), **kw) -> Connection:
    return Connection(id=id, pid=4242, comm="curl", fd=7, client=client, server=server, uuids=[f"uuid-{id}"], **kw)


def chunk(conn: Connection, direction: Direction, data: bytes, t: int, *, raw: bytes | None = None, notes=()) -> Chunk:
    sent = direction is C2S  # the client process wrote c2s bytes
    info = ChunkInfo(
        pid=conn.pid,
        tid=conn.pid + 1,
        comm=conn.comm,
        fd=conn.fd,
        uuid=f"{conn.uuids[0]}-{direction.label}",
        ectype=1 if sent else 3,
        form=PayloadForm.HTTP1_RENDERED if raw is not None else PayloadForm.RAW,
        origin=f"dump.jsonl:{t - T0}",
        notes=tuple(notes),
    )
    return Chunk(conn, direction, t, data, raw if raw is not None else data, info, Protocol.HTTP1)


def exchange(conn: Connection, pieces, t=T0) -> list:
    """Opened, one chunk per (direction, bytes), Closed."""
    events = [Opened(conn, t)]
    for i, (d, data) in enumerate(pieces, 1):
        events.append(chunk(conn, d, data, t + 1000 * i))
    events.append(Closed(conn, t + 1000 * (len(pieces) + 1), "end of input", ("2 stale re-emits omitted",)))
    return events


def write(tmp_path, events, name="out.pcapng", **kw):
    path = tmp_path / name
    with open(path, "wb") as f:
        sink = PcapngSink(f, **kw)
        for e in events:
            sink.handle(e)
        sink.finish()
    return path


def expert_problems(frames) -> list[str]:
    """What ``tshark -z expert`` would show as a problem: our list of bad messages, and any Warning or Error."""
    return sorted(set(bad_expert(frames)) | set(warnings(frames)))


def comment(frame) -> str:
    return ",".join(frame["frame.comment"])


def test_expert_check_can_fail(tshark, tmp_path):
    """Sanity of expert_problems: segments swapped and repeated by hand are reported."""
    from ecq2pcap.sinks.pcapng import blocks
    from ecq2pcap.sinks.pcapng.tcp import TcpFlow

    f = TcpFlow("10.0.0.1", 5000, "10.0.0.2", 80, mss=1000)
    pkts = f.handshake() + f.data(C2S, REQUEST)
    seg = f.data(S2C, RESPONSE[:3000])
    pkts += [seg[0], seg[2], seg[1], seg[1]] + f.ack(C2S)
    path = tmp_path / "broken.pcapng"
    path.write_bytes(
        blocks.section_header()
        + blocks.interface_description(blocks.LINKTYPE_ETHERNET)
        + b"".join(blocks.enhanced_packet(fr, T0 + i) for i, (_, fr) in enumerate(pkts))
    )
    frames = dissect(tshark, path, payload=True)
    problems = expert_problems(frames)
    for text in ("Previous segment(s) not captured", "out-of-order", "retransmission"):
        assert any(text in p for p in problems), (text, problems)
    assert any("out-of-order" in w for w in warnings(frames))  # a Warning: the severity check can fail too
    assert any("retransmission" in m for m in bad_expert(frames))  # a Note: only the message list catches it
    # and follow() does not hide the damage the way a reassembling reader would
    assert follow(frames)[1] != RESPONSE[:3000]


# -- HTTP/1 over a TLS port, IPv4 and IPv6 --------------------------------------------------


@pytest.mark.parametrize(
    "client, server", [(("10.1.1.1", 51000), ("10.2.2.2", 8443)), (("2001:db8::1", 51000), ("2001:db8::2", 8443))]
)
@pytest.mark.parametrize("mss", [1000, 65495])
def test_http1_on_8443(tshark, tmp_path, client, server, mss):
    conn = connection(client=client, server=server)
    path = write(tmp_path, exchange(conn, [(C2S, REQUEST), (S2C, RESPONSE)]), mss=mss)

    frames = dissect(tshark, path, payload=True)
    rows = [[f.first("tcp.dstport"), f.first("http.request.method"), f.first("http.response.code")]
            for f in frames if f.has("http")]
    assert ["80", "GET", ""] in rows  # server port 8443 shown as 80
    assert ["51000", "", "200"] in rows
    assert expert_problems(frames) == []
    assert follow(frames) == (REQUEST, RESPONSE)
    sizes = [int(f.first("tcp.len")) for f in frames if int(f.first("tcp.len")) > 0]
    assert max(sizes) <= mss and sum(sizes) == len(REQUEST) + len(RESPONSE)
    if mss == 1000:
        assert len(sizes) > 200
    # window scaling is seen: every window is far larger than anything in flight
    windows = [int(f.first("tcp.window_size")) for f in frames if not f.flag("tcp.flags.syn")]
    assert min(windows) > 10 * len(RESPONSE)


def test_checksums_valid_per_tshark(tshark, tmp_path):
    conn4, conn6 = connection(1), connection(2, client=("fd00::1", 40000), server=("fd00::2", 443))
    events = exchange(conn4, [(C2S, REQUEST), (S2C, RESPONSE[:3001])]) + exchange(conn6, [(C2S, b"x" * 999)])
    path = write(tmp_path, events, mss=1460)
    opts = ("-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE")
    frames = dissect(tshark, path, opts=opts)
    tcp_status = [f["tcp.checksum.status"] for f in frames]
    assert tcp_status and all(s == ["1"] for s in tcp_status)  # 1: good (0 is bad, 2 unverified)
    ip_status = [f["ip.checksum.status"] for f in frames if f.has("ip.src")]
    assert 0 < len(ip_status) < len(frames) and all(s == ["1"] for s in ip_status)
    assert all(not f.has("ip.checksum.status") for f in frames if f.has("ipv6.src"))

    # the check above can fail: a flipped payload byte is reported as a bad checksum
    data = bytearray(path.read_bytes())
    i = data.rindex(b"x" * 999)
    data[i] ^= 1
    bad = tmp_path / "bad.pcapng"
    bad.write_bytes(bytes(data))
    assert [f["tcp.checksum.status"] for f in dissect(tshark, bad, opts=opts) if f.first("tcp.len") == "999"] == [["0"]]


def test_acks_come_as_a_tcp_stack_delays_them(tshark, tmp_path):
    """Data is acked by the receiver's next data or FIN; a pure ACK comes only when the same side sends
    again first, just before that data. tcp analysis stays clean and every ack covers what was sent."""
    conn = connection()
    pieces = [(C2S, b"a" * 10), (C2S, b"b" * 20), (S2C, b"c" * 30), (S2C, b"d" * 40), (C2S, b"e" * 50)]
    frames = dissect(tshark, write(tmp_path, exchange(conn, pieces)))
    port = "51000"  # the client's
    shape = [("c" if f.first("tcp.srcport") == port else "s") + f.first("tcp.len") + ":"
             + "".join(c for c, flag in zip("APSF", ("ack", "push", "syn", "fin")) if f.flag(f"tcp.flags.{flag}"))
             for f in frames]
    assert shape == ["c0:S", "s0:AS", "c0:A",  # handshake
                     "c10:AP", "s0:A", "c20:AP",  # the server acks the first data before the client's second
                     "s30:AP", "c0:A", "s40:AP",  # the response acks the request; the client acks before more
                     "c50:AP",  # acks the server's data
                     "c0:AF", "s0:AF", "c0:A"], shape  # FINs ack everything
    assert expert_problems(frames) == []
    sent = {"c": 0, "s": 0}  # bytes each side sent so far: an ack never covers more
    for f in frames:
        side = "c" if f.first("tcp.srcport") == port else "s"
        if f.flag("tcp.flags.ack"):
            assert int(f.first("tcp.ack")) <= sent["s" if side == "c" else "c"] + 2
        sent[side] += int(f.first("tcp.len"))


def test_scapy_reads_every_packet_with_comments(tmp_path):
    conn = connection()
    path = write(tmp_path, exchange(conn, [(C2S, REQUEST), (S2C, RESPONSE)]), mss=1460)
    pkts = rdpcap(str(path))
    # 3 handshake + request + response segments (they ack the request) + 3 FIN (the first acks the response)
    assert len(pkts) == 3 + 1 + (-(-len(RESPONSE) // 1460)) + 3
    assert all(TCP in p for p in pkts)
    comments = [p.comments[0].decode() for p in pkts if p.comments]
    assert len(comments) == 4  # SYN, first segment of each chunk, first FIN
    assert "pid 4242" in comments[0] and "uuid-1" in comments[0]
    assert all(p.direction in (1, 2) for p in pkts)


# -- comments and direction -----------------------------------------------------------------


def test_comments(tshark, tmp_path):
    conn = connection(synthetic_reason="no tuple in the event: fd 7 of pid 4242")
    events = exchange(conn, [(C2S, REQUEST)])
    rendered = REQUEST.replace(b"\r\n", b"\n")
    events[1] = chunk(conn, C2S, REQUEST, T0 + 1000, raw=rendered, notes=("added CRLF line ends",))
    path = write(tmp_path, events)
    frames = dissect(tshark, path)
    rows = [f for f in frames if f.has("frame.comment")]
    assert [f.first("frame.number") for f in rows] == ["1", "4", "5"]  # SYN, the data, the FIN that acks it
    syn, data, fin = (comment(f) for f in rows)
    for text in ("connection 1", "pid 4242", "comm curl", "fd 7", "captured process is the client", "uuid-1",
                 "server port 8443, invented, shown as 80",
                 "endpoints invented: no tuple in the event: fd 7 of pid 4242"):  # fmt: skip
        assert text in syn
    for text in ("pid 4242 tid 4243 comm curl fd 7 uuid uuid-1-c2s", "eCapture type 1 (HTTP/1 request)",
                 "payload http1_rendered", "origin dump.jsonl:1000", "added CRLF line ends"):  # fmt: skip
        assert text in data
    assert fin == "connection 1 closed: end of input; 2 stale re-emits omitted"
    assert [f.first("frame.number") for f in frames if "uuid-1-c2s" in comment(f)] == ["4"]


def test_explicit_port_map_comment(tshark, tmp_path):
    path = write(tmp_path, exchange(connection(), [(C2S, REQUEST)]), port_map=PortMap.parse("8443:8080"))
    ((port, text),) = [(f.first("tcp.dstport"), comment(f)) for f in syns(dissect(tshark, path))]
    assert port == "8080" and "server port 8443 shown as 8080 (--port-map)" in text


def test_keep_ports_comment_has_no_rewrite_note(tshark, tmp_path):
    path = write(tmp_path, exchange(connection(), [(C2S, REQUEST)]), port_map=PortMap(keep_ports=True))
    ((port, text),) = [(f.first("tcp.dstport"), comment(f)) for f in syns(dissect(tshark, path))]
    assert port == "8443" and "shown as" not in text


@pytest.mark.parametrize(
    "role, c2s_flag, s2c_flag", [("client", "0x00000002", "0x00000001"), ("server", "0x00000001", "0x00000002")]
)
def test_direction_flags(tshark, tmp_path, role, c2s_flag, s2c_flag):
    conn = connection(process_role=role)
    path = write(tmp_path, exchange(conn, [(C2S, REQUEST), (S2C, RESPONSE[:500])]))
    rows = [(f.first("tcp.srcport"), f.first("frame.packet_flags_direction")) for f in dissect(tshark, path)]
    assert rows and all(flag == (c2s_flag if src == "51000" else s2c_flag) for src, flag in rows)


# -- HTTP/2 ---------------------------------------------------------------------------------


def h2_exchange() -> tuple[bytes, bytes]:
    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    server = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    client.initiate_connection()
    request = [(":method", "GET"), (":path", "/"), (":scheme", "https"), (":authority", "example.com")]
    client.send_headers(1, request, end_stream=True)
    c2s = client.data_to_send()
    server.initiate_connection()
    server.receive_data(c2s)
    server.send_headers(1, [(":status", "200"), ("content-type", "text/plain")])
    server.send_data(1, b"hello over h2", end_stream=True)
    return c2s, server.data_to_send()


@pytest.mark.parametrize("keep_ports, expected", [(False, 2), (True, 0)])
def test_http2_on_8443(tshark, tmp_path, keep_ports, expected):
    c2s, s2c = h2_exchange()
    assert c2s.startswith(b"PRI * HTTP/2.0")
    path = write(tmp_path, exchange(connection(), [(C2S, c2s), (S2C, s2c)]), port_map=PortMap(keep_ports=keep_ports))
    frames = dissect(tshark, path)
    headers = [f for f in frames if "1" in f["http2.type"]]
    assert len(headers) == expected
    if not keep_ports:
        assert any("200" in f["http2.header.value"] for f in headers)
        assert any("GET" in f["http2.header.value"] for f in headers)
        assert expert_problems(frames) == []


@pytest.mark.parametrize("mss", [30, 40, 41, 50])
def test_the_http2_preface_is_a_segment_of_its_own_with_a_small_mss(tshark, tmp_path, mss):
    """With a small --mss, a segment holding the 24-byte preface and the start of a frame made Wireshark 4.0
    read none of the client's HTTP/2 (the audit's M1). The client's first bytes are cut after the preface."""
    c2s, s2c = h2_exchange()
    conn = connection()
    events = [Opened(conn, T0), msgspec.structs.replace(chunk(conn, C2S, c2s, T0 + 1000), protocol=Protocol.HTTP2),
              msgspec.structs.replace(chunk(conn, S2C, s2c, T0 + 2000), protocol=Protocol.HTTP2),
              Closed(conn, T0 + 3000, "end of input")]
    frames = dissect(tshark, write(tmp_path, events, mss=mss), payload=True)
    headers = [f for f in frames if "1" in f["http2.type"]]
    assert any("GET" in f["http2.header.value"] for f in headers)
    assert any("200" in f["http2.header.value"] for f in headers)
    assert follow(frames) == (c2s, s2c)


def test_rotation_repeats_the_http2_preface_whole_with_a_small_mss(tshark, tmp_path):
    """A new file of a ring goes on with an open HTTP/2 connection: its synthesized preface (33 bytes) is
    written in mss-sized segments, all of them, so the new file has no gap and carries the client's preface
    and the server's bytes whole."""
    c2s, s2c = h2_exchange()
    conn = connection()
    first, second = tmp_path / "1.pcapng", tmp_path / "2.pcapng"
    with open(first, "wb") as f1, open(second, "wb") as f2:
        sink = PcapngSink(f1, mss=10)
        sink.handle(Opened(conn, T0))
        sink.handle(msgspec.structs.replace(chunk(conn, C2S, c2s, T0 + 1000), protocol=Protocol.HTTP2))
        sink.rotate(f2, "continued from 1.pcapng")
        sink.handle(msgspec.structs.replace(chunk(conn, S2C, s2c, T0 + 3000), protocol=Protocol.HTTP2))
        sink.handle(Closed(conn, T0 + 4000, "end of input"))
        sink.finish()
    frames = dissect(tshark, second, payload=True)
    assert expert_problems(frames) == []
    assert follow(frames) == (CONTINUATION_PREFACE, s2c)


def test_rotation_in_the_middle_of_a_websocket_connection_goes_on_as_websocket(tshark, tmp_path):
    """A new file of a ring goes on with an open WebSocket connection: without the upgrade in that file, tshark
    read its frames as HTTP ("Illegal characters found in header name") and no WebSocket at all. The new file
    starts it again with a made-up request and the captured 101 (whose extensions say how to read the frames)."""
    conn = connection()
    upgrade = (b"GET /chat HTTP/1.1\r\nHost: ws.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    switch = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
    hello = b"\x81\x85\x01\x02\x03\x04" + bytes(b ^ k for b, k in zip(b"hello", b"\x01\x02\x03\x04\x01"))
    first, second = tmp_path / "1.pcapng", tmp_path / "2.pcapng"
    with open(first, "wb") as f1, open(second, "wb") as f2:
        sink = PcapngSink(f1)
        sink.handle(Opened(conn, T0))
        sink.handle(chunk(conn, C2S, upgrade, T0 + 1000))
        sink.handle(chunk(conn, S2C, switch, T0 + 2000))
        sink.handle(chunk(conn, C2S, hello, T0 + 3000))
        sink.rotate(f2, "continued from 1.pcapng")
        sink.handle(chunk(conn, S2C, b"\x81\x05world", T0 + 5000))
        sink.handle(chunk(conn, C2S, hello, T0 + 6000))
        sink.handle(Closed(conn, T0 + 7000, "end of input"))
        sink.finish()
    frames = dissect(tshark, second, payload=True)
    assert expert_problems(frames) == []
    assert sum(len(f["websocket.opcode"]) for f in frames) == 2  # both frames of this file, as WebSocket
    c2s, s2c = follow(frames)
    assert c2s.endswith(hello) and s2c == switch + b"\x81\x05world"  # (the captured 101, then the frames)
    assert any("synthetic WebSocket upgrade" in c for f in frames for c in f["frame.comment"])
