"""Re-encoding eCapture HTTP/2 dumps, as real peers see the bytes: an HTTP/2 client's raw preface event (its
real frames kept, a later dump continuing its streams), the v1.5 paced sample's server dumps re-encoded whole
(status, body and END_STREAM of every stream), and tshark's dissection of a re-encoded connection (every
stream's headers and DATA, one preface, no warning). The dumps and the independent decoders are
test_encoder.py's."""

from __future__ import annotations

import hashlib
import json

import h2.config
import h2.connection

from ecq2pcap.model import Direction
from ecq2pcap.payloads.h2dump import parse_h2_dump
from ecq2pcap.payloads.h2 import PREFACE, SETTINGS_FRAME, H2Reencoder, is_raw_preface
from tests.support.dissect import dissect, warnings
from tests.payloads.test_h2dump import data_block, headers_block, sample_dumps

from .test_encoder import (BODY3, GZ_BODY, REQ1, REQ3, RESP1, b, by_stream, decoded, h2_server, request_dump,
                           response_dump)

C2S, S2C = Direction.C2S, Direction.S2C


# ---------------------------------------------------------------------------
# raw preface events

def _real_client_bytes() -> bytes:
    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    conn.send_headers(1, b(REQ1), end_stream=True)
    conn.send_headers(3, b(REQ3))
    conn.send_data(3, BODY3[:1000])
    return conn.data_to_send()


def test_is_raw_preface():
    raw = _real_client_bytes()
    assert is_raw_preface(raw) and is_raw_preface(PREFACE) and is_raw_preface(b"PRI * HTTP/2.0\r\n")
    assert not is_raw_preface(b"PRI * HTTP/1.1\r\n\r\n") and not is_raw_preface(b"GET / HTTP/1.1\r\n")
    assert not is_raw_preface(b"PRI * HTTP/2") and not is_raw_preface(request_dump())


def test_encode_raw_preface_with_frames():
    raw = _real_client_bytes()
    r = H2Reencoder()
    out = r.encode_raw(C2S, raw + b"\x00\x00\x10\x00")  # + a partial frame header
    assert out.preface == PREFACE + SETTINGS_FRAME and "HTTP/2 connection preface captured" in out.notes
    assert any("trailing" in n for n in out.notes)
    streams = by_stream(h2_server(out.preface + out.wire))
    assert streams[1]["headers"] == b(REQ1) and streams[1]["ended"]  # real END_STREAM kept
    assert streams[3]["body"] == BODY3[:1000] and not streams[3]["ended"]
    # the rest of stream 3 arrives later as a dump: state continues
    more = r.encode(C2S, parse_h2_dump(data_block(3, BODY3[1000:])))
    assert more.preface == b""
    assert by_stream(h2_server(out.preface + out.wire + more.wire))[3] == \
        {"headers": b(REQ3), "body": BODY3, "ended": True, "trailers": None}


def test_encode_raw_preface_cut_at_nul_and_after_synthetic():
    r = H2Reencoder()
    out = r.encode_raw(C2S, PREFACE)  # DefaultParser cuts the payload at the first NUL
    assert out.preface == PREFACE + SETTINGS_FRAME and out.wire == b"" and out.notes == ["HTTP/2 connection preface captured"]
    r2 = H2Reencoder()
    r2.encode(S2C, parse_h2_dump(headers_block(1, RESP1)))
    late = r2.encode_raw(C2S, PREFACE[:18])
    assert late.preface == b"" and any("dropped" in n for n in late.notes)


# ---------------------------------------------------------------------------
# real stream

def test_sample_server_dump_reencodes(samples_dir):
    exp = json.loads((samples_dir / "v15_client_pace.expected.json").read_text())
    expected = {e["h2_stream_id"]: e for e in exp["partial_exchanges"] if e.get("http_version") == "HTTP/2"}
    r = H2Reencoder()
    wire, first = b"", None
    for dump in sample_dumps(samples_dir, "v15_client_pace.frames.jsonl.gz"):  # six flushes
        out = r.encode(S2C, parse_h2_dump(dump))
        first = first if first is not None else out.preface
        wire += out.wire
    assert first.startswith(PREFACE)
    streams: dict[int, dict] = {}
    for kind, sid, flags, payload in decoded(wire):
        st = streams.setdefault(sid, {"status": None, "body": b"", "ended": False})
        if kind == "HEADERS":
            st["status"] = int(dict(payload)[b":status"])
        elif kind == "DATA":
            assert not st["ended"]
            st["body"] += payload
        st["ended"] |= "END_STREAM" in flags
    for sid, e in expected.items():
        assert streams[sid]["status"] == e["status"]
        assert hashlib.sha256(streams[sid]["body"]).hexdigest() == e["response_body_sha256"]
        assert streams[sid]["ended"], sid


# ---------------------------------------------------------------------------
# tshark

def _write_pcap(path, segments: list[tuple[Direction, bytes]]) -> None:
    """Classic pcap: Ether/IPv4/TCP on port 80 with a handshake, then the segments."""
    import logging
    logging.getLogger("scapy").setLevel(logging.ERROR)
    from scapy.all import IP, TCP, Ether, Raw, wrpcap

    cli, srv = ("10.0.0.1", 40000), ("10.0.0.2", 80)
    seq = {C2S: 1000, S2C: 5000}
    t = [1_700_000_000.0]

    def pkt(d: Direction, flags: str, payload: bytes = b""):
        src, dst = (cli, srv) if d is C2S else (srv, cli)
        p = Ether() / IP(src=src[0], dst=dst[0]) / TCP(sport=src[1], dport=dst[1], flags=flags,
                                                        seq=seq[d], ack=seq[d.other])
        if payload:
            p = p / Raw(payload)
        t[0] += 0.001
        p.time = t[0]
        return p

    pkts = [pkt(C2S, "S")]
    seq[C2S] += 1
    pkts.append(pkt(S2C, "SA"))
    seq[S2C] += 1
    pkts.append(pkt(C2S, "A"))
    for d, data in segments:
        for pos in range(0, len(data), 1400):
            chunk = data[pos:pos + 1400]
            pkts.append(pkt(d, "PA", chunk))
            seq[d] += len(chunk)
    wrpcap(str(path), pkts)


def test_tshark_dissects_reencoded_http2(tmp_path, tshark):
    r = H2Reencoder()
    # the server's flush comes first (one-sided order): the preface still opens the c2s stream
    resp = r.encode(S2C, parse_h2_dump(response_dump()))
    req = r.encode(C2S, parse_h2_dump(request_dump() + headers_block(7, [(":method", "GET"), (":scheme", "https"),
                                                                          (":authority", "example.test"),
                                                                          (":path", '/q "x" \\ y')])))
    pcap = tmp_path / "h2.pcap"
    _write_pcap(pcap, [(C2S, resp.preface), (S2C, resp.wire), (C2S, req.wire)])

    frames = dissect(tshark, pcap, payload=True)  # one tshark run answers every question below
    h2 = [(int(t), int(s)) for f in frames for t, s in zip(f["http2.type"], f["http2.streamid"], strict=True)]
    assert {s for t, s in h2 if t == 1} == {1, 3, 5, 7}  # HEADERS
    assert {s for t, s in h2 if t == 0} == {1, 3, 5}  # DATA
    assert len([f for f in frames if f.has("http2.magic")]) == 1  # the preface, once
    values = [v for f in frames for v in f["http2.header.value"]]
    for v in ("/index.html", "/upload", "/data.json", "Bearer s3cr3t", "application/json", '/q "x" \\ y'):
        assert v in values, v
    assert not any("gzip" in v for v in values)  # content-encoding dropped with the decoded bodies
    names = [n for f in frames for n in f["http2.header.name"]]
    assert "authorization" in names and ":status" in names
    assert not any("<unknown>" in n for n in names)  # what Wireshark shows when HPACK decoding goes wrong
    assert warnings(frames) == []  # no Warning or Error (a malformed packet is an Error)
    # the decoded gzip bodies are the server's DATA on their streams, whole
    assert h2_data(frames, "80", 5) == GZ_BODY
    assert h2_data(frames, "80", 3) == b"created"


def h2_data(frames, srcport: str, sid: int) -> bytes:
    """The payload of the DATA frames of stream ``sid`` sent from ``srcport``, in order (``http2.data.data``
    occurs once per DATA frame: it pairs with the DATA entries of ``http2.type``/``http2.streamid``)."""
    out = b""
    for f in frames:
        data_sids = [int(s) for t, s in zip(f["http2.type"], f["http2.streamid"], strict=True) if t == "0"]
        assert len(data_sids) == len(f["http2.data.data"]), f.first("frame.number")
        if f.first("tcp.srcport") == srcport:
            out += b"".join(bytes.fromhex(d) for s, d in zip(data_sids, f["http2.data.data"]) if s == sid)
    return out
