"""Header limits: HTTP/1 header lines and sections, the HPACK dynamic table and the decoded HTTP/2
header list. Each has its flag, bites where stated (HAR _error) and is counted in the summary."""

from __future__ import annotations

import base64
import json

import hpack
from hyperframe.frame import HeadersFrame, SettingsFrame

from ecq2pcap.model import Direction
from ecq2pcap.payloads.h2 import H2PassiveDecoder
from tests.limits.support import RSS_BUDGET_MB, Dump, convert_measured, load_har
from tests.support.pcapng import epbs

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def _block(enc: hpack.Encoder, sid: int, extra: list[tuple[str, str]], *, request: bool = True) -> bytes:
    head = ([(":method", "GET"), (":scheme", "https"), (":authority", "x"), (":path", f"/s{sid}")] if request
            else [(":status", "200")])
    return HeadersFrame(sid, data=enc.encode(head + extra, huffman=False),
                        flags={"END_HEADERS", "END_STREAM"}).serialize()


def _table_abuse(n_blocks: int, size: int = 16384) -> tuple[bytes, bytes]:
    """Client bytes whose encoder announced a 1 GiB table and fills it with ``size``-byte values, and
    the server's answers."""
    enc, srv = hpack.Encoder(), hpack.Encoder()
    enc.header_table_size = 1 << 30  # (the decoder's SETTINGS would forbid it; a hostile peer does not care)
    c2s = PREFACE + SettingsFrame(0).serialize()
    s2c = SettingsFrame(0).serialize()
    for i in range(n_blocks):
        sid = 2 * i + 1
        c2s += _block(enc, sid, [(f"x-big-{i}-{k}", chr(65 + k) * size) for k in range(4)])
        s2c += _block(srv, sid, [], request=False)
    return c2s, s2c


def test_hpack_table_is_clipped_to_its_limit():
    c2s, s2c = _table_abuse(40)  # 2.5 MiB of indexed values
    dec = H2PassiveDecoder(max_table=64 << 10)
    streams = dec.feed(Direction.C2S, c2s, 1) + dec.feed(Direction.S2C, s2c, 2) + dec.close(3)
    assert len(streams) == 40
    table = dec._hpack[Direction.C2S]
    assert table.table_limit <= 64 << 10 and table.table_size <= 64 << 10  # what it keeps, whatever the encoder says
    first = streams[0]
    assert any("(limit: --max-hpack-table)" in e for e in first.errors)
    # the headers of each block are decoded from the block itself (literals), so nothing is wrong
    assert all(dict(s.request_headers)[":path"] == f"/s{s.stream_id}" for s in streams)


def test_header_limits_from_the_command_line(tmp_path):
    d = Dump()
    fd = d.open()
    c2s, s2c = _table_abuse(40, 1024)  # 160 KiB of indexed values, 4 KiB per header list
    d.send(fd, c2s)
    d.recv(fd, s2c)
    fd = d.open(80)
    d.send(fd, b"GET /long HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 5000 + b"\r\n\r\n")
    d.recv(fd, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    d.send(fd, b"GET /fine HTTP/1.1\r\nHost: x\r\n\r\n")
    d.recv(fd, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    fd = d.open()
    enc = hpack.Encoder()
    d.send(fd, PREFACE + SettingsFrame(0).serialize() + _block(enc, 1, [("x-list", "v" * 9000)]))
    har = tmp_path / "o.har"
    code, _, err = convert_measured("convert", str(d.write(tmp_path / "in.jsonl")), "--har", str(har),
                                    "--max-hpack-table", "32K", "--max-header-line", "4K",
                                    "--max-header-list", "8K")
    assert code == 0, err
    errors = " | ".join(e.get("_error", "") for e in load_har(har))
    assert "(limit: --max-hpack-table)" in errors
    assert "header line longer than 4096 bytes (limit: --max-header-line)" in errors
    assert "header list over 8192 bytes not decoded (limit: --max-header-list)" in errors
    hits = err.split("limits reached: ")[1].splitlines()[0]
    assert all(f in hits for f in ("--max-hpack-table", "--max-header-line", "--max-header-list"))


def _event(dt: int, ectype: int, payload: bytes) -> str:
    """One v1.4 event line of curl's connection 10.0.0.1:40000 → 10.0.0.2:443 (``dt``: 1 write, 0 read)."""
    tup = "10.0.0.1:40000-10.0.0.2:443"
    return json.dumps({"log_type": 2, "payload": {
        "timestamp": 1795800001, "uuid": f"5_5_curl_5_{dt}_{tup}", "src_ip": "10.0.0.1", "src_port": 40000,
        "dst_ip": "10.0.0.2", "dst_port": 443, "pid": 5, "pname": "curl", "type": ectype, "length": 0,
        "payload_base64": base64.b64encode(payload).decode()}})


def test_a_rendered_head_of_millions_of_fields_stays_within_the_memory_budget(tmp_path):
    """eCapture renders whatever head a peer sent: 5.9 million empty fields in a 23 MB head (under the 32 MiB
    message limit) took the HTTP/1 framing repair to 820 MB, a run to 976 MB. A head over --max-header-size is
    left as rendered and says so; the HAR skips it as before."""
    head = b"HTTP/1.1 200 OK\r\n" + b"a:\r\n" * 5_000_000 + b"\r\n"
    dump = tmp_path / "in.jsonl"
    dump.write_text(_event(1, 1, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n") + "\n" + _event(0, 3, head + b"ok") + "\n")
    code, peak_mb, err = convert_measured("convert", str(dump), "-w", str(tmp_path / "o.pcapng"),
                                          "--har", str(tmp_path / "o.har"))
    assert code == 0, err
    assert peak_mb < RSS_BUDGET_MB
    assert "--max-header-size" in err.split("limits reached:")[1]


def _h2_dump_events(request_dump: bytes, response_dump: bytes) -> str:
    """Two v1.4 events of one connection: an HTTP/2 request dump (type 2) and a response dump (type 4)."""
    return _event(1, 2, request_dump) + "\n" + _event(0, 4, response_dump) + "\n"


def _dump_headers(sid: int, fields: list[tuple[bytes, bytes]]) -> bytes:
    return (b"\nFrame Type\t=>\tHEADERS\nFrame StreamID\t=>\t%d\nFrame Length\t=>\t50\n" % sid
            + b"".join(b'header field "%s" = "%s"\n' % f for f in fields))


REQUEST = [(b":method", b"GET"), (b":path", b"/"), (b":scheme", b"https"), (b":authority", b"a.example")]


def test_an_http2_dump_of_a_million_fields_stays_within_the_memory_budget(tmp_path):
    """eCapture prints whatever header block a peer sent: one HEADERS frame of a million fields (30 MB, under
    the 32 MiB message limit) became a million field objects, then a million tuples to encode: 336 MB. The
    fields are now read and encoded a batch at a time: the pcapng keeps the whole block, the HAR refuses it
    at --max-header-list as before."""
    dump = tmp_path / "in.jsonl"
    dump.write_text(_h2_dump_events(_dump_headers(1, REQUEST + [(b"x", b"y")] * 1_000_000),
                                    _dump_headers(1, [(b":status", b"200")])))
    pcapng, har = tmp_path / "o.pcapng", tmp_path / "o.har"
    code, peak_mb, err = convert_measured("convert", str(dump), "-w", str(pcapng), "--har", str(har))
    assert code == 0, err
    assert peak_mb < RSS_BUDGET_MB
    assert "--max-header-list" in err.split("limits reached:")[1]
    assert sum(len(packet) for _, packet, _ in epbs(pcapng)) > 4_000_000  # (each field 4 bytes in the block)
    [entry] = load_har(har)
    assert entry["response"]["status"] == 200
    assert "header list over 1048576 bytes not decoded (limit: --max-header-list)" in entry["_error"]


def test_an_http2_dump_of_many_streams_stays_within_the_memory_budget(tmp_path):
    """120,000 HEADERS frames in one 31 MB dump: every frame's fields, then every stream's HAR objects at once
    (the chunk fed whole), with all streams open: 365 MB. Now the fields are read a frame at a time, a huge
    chunk goes to the HAR's decoder in pieces, and before one more stream opens past the connection's buffer
    (each open stream counted as 2 KiB) the one open longest ends there, saying so."""
    dump = tmp_path / "in.jsonl"
    dump.write_text(_h2_dump_events(b"".join(_dump_headers(2 * i + 1, REQUEST) for i in range(120_000)),
                                    _dump_headers(1, [(b":status", b"200")])))
    har = tmp_path / "o.har"
    code, peak_mb, err = convert_measured("convert", str(dump), "--har", str(har))
    assert code == 0, err
    assert peak_mb < RSS_BUDGET_MB
    assert "--max-connection-buffer" in err.split("limits reached:")[1]
    entries = load_har(har)
    # stream 1's answer came long after its stream ended early and was forgotten (past 65,536 ended streams a
    # connection forgets the older half): its own entry, not dropped (and one more stream made room for it)
    assert len(entries) == 120_001
    early = [e for e in entries if "ended early: 32768 streams open at once" in e.get("_error", "")]
    assert len(early) == 120_000 - 32_768 + 1
    assert [e["response"]["status"] for e in entries if e["_streamId"] == 1] == [0, 200]
