"""eCapture v2.1+ text renderings (protocol doc §4.4, §5, §10.17, §11)."""

from __future__ import annotations

import base64
import calendar
import gzip
import hashlib
import json
import time
from collections import defaultdict

import hyperframe.frame as hf
import pytest

from ecq2pcap import dialects
from ecq2pcap.dialects.v2_text import decode_v2_payload, gotls_client_server
from ecq2pcap.payloads.hexdump import ECAPTURE_V2, reverse
from ecq2pcap.dialects.v15_proto import encode_event
from fixtures.encoders import go_v2_dump
from ecq2pcap.model import (Annotation, Capture, ConnectInfo, DataType, Message, NotedTuple, Opcode, PayloadForm,
                            Tuple)

T0 = calendar.timegm((2026, 11, 26, 17, 56, 41)) * 10**9 + 246_000_000
HDR = b"[2026-11-26 17:56:41.246] PID:316 TID:317 Comm:curl FD:5 "


def v2(text: bytes, recv: int | None = None, origin: str = "f:1"):
    """Through the whole dispatcher, as eCapture v2 frames it (payload+length only)."""
    return dialects.decode(Message(encode_event(payload=text), Opcode.BINARY, origin, recv))


def rendered(data: bytes, direction: bytes = b"READ", header: bytes = HDR) -> bytes:
    """What v2's TextHandler sends: String() plus a newline when missing."""
    text = header + direction + b" (%d bytes):\n" % len(data) + data
    return text if text.endswith(b"\n") else text + b"\n"


# --------------------------------------------------------------------------- data lines


@pytest.mark.parametrize(
    "data",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",  # no trailing newline: v2 adds one
        b"line one\nline two\n",  # ends in a newline: nothing added, nothing stripped
        b"\n\n",
        b"",
        b"x\n[2026-11-26 17:56:41.300] PID:316 TID:317 Comm:curl FD:5 READ (4 bytes):\nfake",  # fake header inside
        bytes(range(256)) * 3,  # binary
    ],
)
def test_data_is_sliced_exactly(data):
    (cap,) = v2(rendered(data))
    assert isinstance(cap, Capture)
    assert cap.payload == data
    assert (cap.pid, cap.tid, cap.comm, cap.fd) == (316, 317, "curl", 5)
    assert cap.data_type is DataType.READ and cap.tuple is None and cap.uuid is None
    assert cap.form is PayloadForm.RAW and cap.ectype is None and cap.module == "openssl"
    assert cap.timestamp_ns == T0 and cap.notes == ()


def test_write_and_comm_with_spaces():
    text = rendered(b"GET / HTTP/1.1\r\n\r\n", b"WRITE", b"[2026-11-26 17:56:41.246] PID:9 TID:10 Comm:Socket Thread FD:44 ")
    (cap,) = decode_v2_payload(text, "o", None)
    assert cap.data_type is DataType.WRITE and cap.comm == "Socket Thread" and cap.fd == 44


def test_short_data_is_kept_with_a_note():
    text = HDR + b"READ (100 bytes):\nonly this\n"
    (cap,) = decode_v2_payload(text, "o", None)
    assert cap.payload == b"only this\n" and "only 10 follow" in cap.notes[0]


def test_hex_layout_reversed_exactly():
    line = (b"0000  474554202F6F6C64 2D70616765204854  54502F312E310D0A 486F73743A203132    "
            b"GET /old-page HTTP/1.1..Host: 12\n")
    assert reverse(line, ECAPTURE_V2) == b"GET /old-page HTTP/1.1\r\nHost: 12"
    for data in (b"", b"a", bytes(range(256)), b"GET /x HTTP/1.1\r\n\r\n" * 7, bytes(16384)):
        dump = go_v2_dump(data)
        assert reverse(dump, ECAPTURE_V2) == data
        text = HDR + b"WRITE (%d bytes, hex):\n" % len(data) + dump
        text += b"" if text.endswith(b"\n") else b"\n"
        # openssl --hex passes nanoseconds as seconds: a nonsense year, receive time instead
        text = text.replace(b"2026-11-26", b"8352703-05-17")
        (cap,) = v2(text, recv=123_000)
        assert cap.payload == data and cap.data_type is DataType.WRITE
        assert cap.timestamp_ns == 123_000 and any("bogus header time" in n for n in cap.notes)


@pytest.mark.parametrize("bad", [
    b"0000  474554202F6F6C64 2D70616765204854  54502F312E310D0A 486F73743A203132    GET /old-page HTTP/1.1..Host: 13\n",
    b"0020  474554202F6F6C64 2D70616765204854  54502F312E310D0A 486F73743A203132    GET /old-page HTTP/1.1..Host: 12\n",
    b"0000  474554202f6f6c64 2d70616765204854  54502f312e310d0a 486f73743a203132    GET /old-page HTTP/1.1..Host: 12\n",
])
def test_hex_layout_mismatch_is_refused(bad):
    with pytest.raises(ValueError):
        reverse(bad, ECAPTURE_V2)
    (rec,) = decode_v2_payload(HDR + b"READ (32 bytes, hex):\n" + bad, "o", None)
    assert isinstance(rec, Annotation) and rec.kind == "unreadable-hex"


def test_gnutls_plain_hex_and_1970_time():
    text = b"[1970-01-03 04:05:06.789] PID:1 TID:1 Comm:wget FD:3 READ (5 bytes, hex):\n68656c6c6f\n"
    (cap,) = v2(text, recv=77)
    assert cap.payload == b"hello" and cap.module == "gnutls" and cap.timestamp_ns == 77
    (cap,) = v2(text.replace(b", hex", b"").replace(b"68656c6c6f", b"hello"), recv=None)
    assert cap.payload == b"hello" and cap.timestamp_ns is None


def test_local_time_offset_is_removed_with_an_absolute_receive_time():
    # eCapture host at UTC+8 renders 17:56:41.246 local; the client received it 15 ms later
    recv = T0 - 8 * 3600 * 10**9 + 15_000_000
    (cap,) = v2(rendered(b"x"), recv=recv)
    assert cap.timestamp_ns == T0 - 8 * 3600 * 10**9
    # a relative receive time (samples: seconds since connect) tells nothing
    (cap,) = v2(rendered(b"x"), recv=2_000_000_000)
    assert cap.timestamp_ns == T0
    # UTC host
    (cap,) = v2(rendered(b"x"), recv=T0 + 3_000_000)
    assert cap.timestamp_ns == T0


# --------------------------------------------------------------------------- connect / destroy


def test_connect_and_destroy_lines():
    (c,) = v2(b"PID:316, Comm:curl, TID:316, FD:5, Tuple: [127.0.0.1]:46890->[127.0.0.1]:8443\n", recv=9)
    assert c == ConnectInfo("connect", 316, 5, Tuple("127.0.0.1", 46890, "127.0.0.1", 8443), comm="curl",
                            tid=316, timestamp_ns=9, origin="f:1")
    (c,) = v2(b"PID:7, Comm:my app, TID:8, FD:12, Tuple: [2001:db8::1]:5000->[2001:db8::2]:443\n")
    assert c.tuple == Tuple("2001:db8::1", 5000, "2001:db8::2", 443) and c.comm == "my app"
    (d,) = v2(b"PID:0, Comm:, TID:0, FD:0, Tuple: [::]:0->[::]:0\n", recv=10)
    assert d == ConnectInfo("destroy", 0, 0, None, timestamp_ns=10, origin="f:1")



def test_a_tuple_longer_than_ecapture_writes_is_kept_as_text_not_as_a_connection():
    """A connection keeps its tuple while it is open (4,096 at once): a connect or gotls line whose tuple is
    megabytes long (a hostile stream's) is an annotation of its text, not a connection."""
    huge = "[" + "1." * 50_000 + "1]:5->[10.0.0.2]:443"
    (a,) = v2(f"PID:7, Comm:c, TID:8, FD:12, Tuple: {huge}\n".encode())
    (g,) = v2(f"PID:50, TID:51, Comm:g, FD:7, Tuple:{huge}, Type:WRITE, Len:4\nData:\nping\n".encode())
    assert isinstance(a, Annotation) and isinstance(g, Annotation) and a.kind == g.kind == "text"
    address = "[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:65535"
    longest = f"{address}->{address}"
    (c,) = v2(f"PID:7, Comm:c, TID:8, FD:12, Tuple: {longest}\n".encode())
    assert isinstance(c, ConnectInfo) and c.tuple.src_port == 65535

# --------------------------------------------------------------------------- gotls


def test_gotls_write_read_and_orientation():
    w = b"PID:50, TID:51, Comm:goclient, FD:7, Tuple:[10.0.0.1]:40000->[10.0.0.2]:443, Type:WRITE, Len:4\nData:\nping\n"
    r = b"PID:50, TID:52, Comm:goclient, FD:7, Tuple:[10.0.0.2]:443->[10.0.0.1]:40000, Type:READ, Len:5\nData:\npong\n"
    (cw,) = v2(w, recv=1)
    (cr,) = v2(r, recv=2)
    client_server = Tuple("10.0.0.1", 40000, "10.0.0.2", 443)
    assert cw.tuple == cr.tuple == client_server
    assert cw.payload == b"ping" and cr.payload == b"pong\n"
    assert (cw.data_type, cr.data_type) == (DataType.WRITE, DataType.READ)
    assert cw.module == "gotls" and cw.fd == 7 and cr.tid == 52 and cr.timestamp_ns == 2
    # a Go server: it reads the request (remote→local rendering) and writes the response
    (sr,) = v2(b"PID:60, TID:60, Comm:goserver, FD:9, Tuple:[10.0.0.1]:40000->[10.0.0.2]:8443, Type:READ, Len:1\n"
               b"Data:\nG\n")
    (sw,) = v2(b"PID:60, TID:60, Comm:goserver, FD:9, Tuple:[10.0.0.2]:8443->[10.0.0.1]:40000, Type:WRITE, Len:1\n"
               b"Data:\nH\n")
    assert sr.tuple == sw.tuple == Tuple("10.0.0.1", 40000, "10.0.0.2", 8443)
    # both ports outside the ephemeral range: the lower one is the server
    assert gotls_client_server(Tuple("a", 1024, "b", 8443), DataType.WRITE) == Tuple("b", 8443, "a", 1024)
    (bad,) = v2(b"PID:6, TID:6, Comm:g, FD:9, Tuple:[999.0.0.1]:40000->[10.0.0.2]:8443, Type:READ, Len:1\nData:\nG\n")
    assert type(bad.tuple) is NotedTuple and bad.tuple == Tuple("999.0.0.1", 40000, "10.0.0.2", 8443)  # (turned
    # round twice, and still noted: its connection's endpoints are invented)


def test_gotls_hex_and_unknown_tuple():
    text = b"PID:1, TID:2, Comm:go, FD:3, Tuple:0.0.0.0:0-0.0.0.0:0, Type:READ, Len:3\nData(hex):\n00ff0a\n"
    (cap,) = v2(text)
    assert cap.payload == b"\x00\xff\n" and cap.tuple is None and cap.data_type is DataType.READ


# --------------------------------------------------------------------------- not TLS data


@pytest.mark.parametrize(
    "text, kind, pid, body",
    [
        (b"TLSDataEvent{Timestamp: 1970-01-01 03:00:00.1 +0000 UTC, PID: 5, TID: 6, Comm: Socket Thread, FD: 40, "
         b"Direction: write, DataLen: 517}\n", "nspr-metadata", 5, None),
        (b"TLSDataEvent{Timestamp: 1970-01-01 03:00:00.1 +0000 UTC, PID: 5, TID: 6, Comm: Socket Thread, FD: 40, "
         b"Direction: read, DataLen: 2, Data(hex): 6869}\n", "nspr-metadata", 5, None),
        (b"PID:12, UID:0, Comm:bash, Retvalue:0, Line:\ncurl https://example.com\n", "bash", 12,
         "curl https://example.com"),
        (b"PID:12, UID:0, Comm:bash, Retvalue:0, Line(hex):\n6c73202d6c\n", "bash", 12, "ls -l"),
        (b"PID:13, UID:0, \tComm:zsh, \tLine:\nls\n", "zsh", 13, "ls"),
        (b"MySQL Query[PID=14, Comm=mysqld, Len=8/8, Status=SUCCESS]: select 1\n", "sql", 14, "select 1"),
        (b"PID=15 Comm=postgres Query=select 2\n", "sql", 15, "select 2"),
        (b"TLS Version: TLS 1.3, ClientRandom: 0011\n", "masterkey", None, None),
        (b"Label: CLIENT_HANDSHAKE_TRAFFIC_SECRET, ClientRandom: 00\n", "masterkey", None, None),
        (b"Packet captured: len=60 bytes, timestamp=1, interface=2\n", "packet", None, None),
        (b"something new\n", "text", None, "something new"),
    ],
)
def test_annotations(text, kind, pid, body):
    recs = v2(text, recv=42)
    assert len(recs) == 1 and isinstance(recs[0], Annotation)
    ann = recs[0]
    assert (ann.kind, ann.pid, ann.timestamp_ns) == (kind, pid, 42)
    if body is not None:
        assert ann.text == body
    if kind == "nspr-metadata":
        assert "Data(hex)" not in ann.text and ann.comm == "Socket Thread"


def test_big_hex_message_is_fast():
    data = bytes(range(256)) * 64  # 16 KiB, one SSL call
    text = HDR + b"READ (16384 bytes, hex):\n" + go_v2_dump(data)
    start = time.perf_counter()
    for _ in range(10):
        (cap,) = decode_v2_payload(text, "o", None)
    assert (time.perf_counter() - start) / 10 < 0.05
    assert cap.payload == data


# --------------------------------------------------------------------------- the v2 sample stream


def _sample(samples_dir, name):
    with gzip.open(samples_dir / f"{name}.frames.jsonl.gz", "rt") as fh:
        for n, line in enumerate(fh, 1):
            d = json.loads(line)
            yield Message(base64.b64decode(d["data_b64"]), Opcode(d["opcode"]), f"{name}:{n}", int(d["t"] * 1e9))


def _http1_responses(stream: bytes):
    """(status, body) of each HTTP/1.1 response in a byte stream (Content-Length or chunked)."""
    pos = 0
    while pos < len(stream):
        end = stream.index(b"\r\n\r\n", pos)
        head = stream[pos:end].split(b"\r\n")
        status = int(head[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, v in (h.split(b":", 1) for h in head[1:])}
        pos = end + 4
        if status == 101:
            yield status, b"", stream[pos:]
            return
        if headers.get(b"transfer-encoding") == b"chunked":
            body = bytearray()
            while True:
                eol = stream.index(b"\r\n", pos)
                size = int(stream[pos:eol].split(b";")[0], 16)
                body += stream[eol + 2 : eol + 2 + size]
                pos = eol + 2 + size + 2
                if size == 0:
                    break
        else:
            size = int(headers.get(b"content-length", b"0"))
            body, pos = stream[pos : pos + size], pos + size
        yield status, bytes(body), b""


def _ws_frames(stream: bytes):
    pos = 0
    while pos + 2 <= len(stream):
        b0, b1 = stream[pos], stream[pos + 1]
        n, pos = b1 & 0x7F, pos + 2
        if n == 126:
            n, pos = int.from_bytes(stream[pos : pos + 2], "big"), pos + 2
        elif n == 127:
            n, pos = int.from_bytes(stream[pos : pos + 8], "big"), pos + 8
        mask = b""
        if b1 & 0x80:
            mask, pos = stream[pos : pos + 4], pos + 4
        data = stream[pos : pos + n]
        pos += n
        if mask:
            data = bytes(c ^ mask[i % 4] for i, c in enumerate(data))
        yield b0 & 0x0F, data


def test_v2_sample_stream(samples_dir):
    expected = json.loads((samples_dir / "v2_client.expected.json").read_text())
    streams: dict[tuple, bytearray] = defaultdict(bytearray)
    connects: dict[tuple, Tuple] = {}
    kinds: dict[str, int] = defaultdict(int)
    data_events: dict[tuple, int] = defaultdict(int)
    for msg in _sample(samples_dir, "v2_client"):
        for rec in dialects.decode(msg):
            kinds[type(rec).__name__] += 1
            if isinstance(rec, ConnectInfo):
                kinds[rec.kind] += 1
                if rec.kind == "connect":
                    connects[(rec.pid, rec.fd)] = rec.tuple
            elif isinstance(rec, Capture):
                assert rec.notes == () and rec.timestamp_ns > 1_700_000_000 * 10**9
                streams[(rec.pid, rec.fd, rec.data_type)] += rec.payload
                data_events[(rec.pid, rec.fd)] += 1
    counts = expected["counts"]
    assert kinds["Capture"] == counts["events_by_type"]["data"]
    assert kinds["connect"] == counts["events_by_type"]["connect"] + counts["events_by_type"]["connect_peer"]
    assert kinds["destroy"] == counts["events_by_type"]["destroy"]
    assert kinds["Heartbeat"] == counts["heartbeats"] and kinds["ProcessLog"] == counts["replay_logs"]

    by_conn = {c["conn"]: c for c in expected["connections"]}
    for c in expected["connections"]:
        tup = connects[(c["pid"], c["fd"])]
        assert (f"{tup.src_ip}:{tup.src_port}", f"{tup.dst_ip}:{tup.dst_port}") == (c["client"], c["server"])
        assert data_events[(c["pid"], c["fd"])] == c["data_events"]
    # connect lines of the peer (nginx) carry no data
    assert set(data_events) == {(c["pid"], c["fd"]) for c in expected["connections"]}
    assert len(connects) > len(data_events)

    def s2c(conn):
        return bytes(streams[(by_conn[conn]["pid"], by_conn[conn]["fd"], DataType.READ)])

    def c2s(conn):
        return bytes(streams[(by_conn[conn]["pid"], by_conn[conn]["fd"], DataType.WRITE)])

    checked = 0
    for conn in {x["conn"] for x in expected["exchanges"] if x["http_version"] == "HTTP/1.1"}:
        want = [x for x in expected["exchanges"] if x["conn"] == conn]
        got = list(_http1_responses(s2c(conn)))
        assert [g[0] for g in got] == [x["status"] for x in want]
        for (status, body, _), x in zip(got, want):
            assert len(body) == x["response_body_length"]
            if x["response_body_sha256"]:
                assert hashlib.sha256(body).hexdigest() == x["response_body_sha256"]
                checked += 1
    assert checked >= 4

    # HTTP/2: every response body (DATA per stream) is intact
    h2 = s2c(2)
    bodies: dict[int, bytearray] = defaultdict(bytearray)
    pos = 0
    while pos < len(h2):
        frame, length = hf.Frame.parse_frame_header(memoryview(h2[pos : pos + 9]))
        frame.parse_body(memoryview(h2[pos + 9 : pos + 9 + length]))
        pos += 9 + length
        if isinstance(frame, hf.DataFrame):
            bodies[frame.stream_id] += frame.data
    assert pos == len(h2) and c2s(2).startswith(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
    want = sorted(x["response_body_sha256"] for x in expected["exchanges"] if x["conn"] == 2)
    assert sorted(hashlib.sha256(b).hexdigest() for b in bodies.values()) == want

    # WebSocket frames after the upgrade, both ways
    *_, (status, _, ws_s2c) = _http1_responses(s2c(8))
    assert status == 101
    ws_c2s = c2s(8).split(b"\r\n\r\n", 1)[1]
    seen = {("s2c", i): f for i, f in enumerate(_ws_frames(ws_s2c))}
    seen |= {("c2s", i): f for i, f in enumerate(_ws_frames(ws_c2s))}
    assert len(seen) == len(expected["websocket_messages"]) == 44
    for wm in expected["websocket_messages"]:
        opcode, data = seen[(wm["dir"], wm["index"])]
        assert (opcode, len(data), hashlib.sha256(data).hexdigest()) == (wm["opcode"], wm["length"], wm["sha256"])


def test_utc_offset_is_decided_once_per_stream():
    """A per-message estimate flips when receive lag crosses the tolerance; a stream keeps one."""
    from ecq2pcap.dialects.state import StreamState
    from ecq2pcap.dialects.v2_text import header_time

    S = 1_000_000_000
    header = b"2026-11-26 19:56:41.000"  # host at UTC+2
    utc = 1795715801 * S  # 2026-11-26 17:56:41 UTC
    state = StreamState()
    first, _, _ = header_time(header, utc + 1 * S, state)
    assert first == utc and state.utc_offset_ns == 2 * 3600 * S
    # received 6 minutes late: alone it would not be recognised as a 2 h offset any more
    alone, _, _ = header_time(header, utc + 6 * 60 * S)
    kept, _, _ = header_time(header, utc + 6 * 60 * S, state)
    assert alone != utc and kept == utc


HEADER_TIMES = [b"2026-11-26 19:56:41.000", b"2026-11-26 19:56:41.999", b"2024-02-29 23:59:59.123",
                b"2025-02-29 10:00:00.000", b"2026-13-01 00:00:00.000", b"1999-12-31 23:59:59.000",
                b"2200-01-01 00:00:00.000", b"-2026-11-26 19:56:41.000", b"2026-11-26 19:56:41.1a3",
                b"2026-11-26 19:56:41", b"2026-11-26 19:56:41.1234", b"2026-11-26 19:56:41.12",
                b"02026-11-26 19:56:41.500", b"2026-11-26 19:56:61.000", b"x2026-11-26 19:56:41.000",
                b"2026-11-26 19:56:41.000\n", b".123", b"", b"2026-11-26 19:56:41,000",
                b"8352703-04-05 06:07:08.009",  # (§11.5: a nonsense year eCapture printed)
                b"2026-11-26 19:56:41.-12", b"2026-11-26 19:56:41.+12", b"2026-11-26 19:56:41. 12", b"2026-11-26 19:56:41.12 ",
                b"2026-11-26 19:56:41.123456", b"2026-11-26 19:56:41.123456789", b"2026-11-26 19:56:41:123", b".000",
                b"2026-11-26 19:56:41.\xd9\xa3", b"2026-11-26 19:56:41..12", b"2026-11-26 19:56:41.099"]  # (ms, µs, ns)


@pytest.mark.parametrize("recv", [None, 1795715801 * 1_000_000_000])
def test_a_header_time_read_through_its_seconds_memo_is_the_one_read_alone(recv, monkeypatch):
    """Each second's time is kept and a header of that second read from it (its milliseconds from _MILLIS): the same
    (time, year, note) as the reading of the whole header, for headers it takes and those it does not (bad dates,
    years, milliseconds, a header's end that is not a dot and three digits)."""
    from ecq2pcap.dialects import v2_text
    from ecq2pcap.memo import Memo

    kept = [v2_text.header_time(t, recv) for t in HEADER_TIMES * 2]  # (the second time from the memo)
    monkeypatch.setattr(v2_text, "_SECONDS", Memo(lambda second: None))  # (nothing kept: the whole reading)
    assert kept == [v2_text.header_time(t, recv) for t in HEADER_TIMES * 2]
    assert sum(note is None for _, _, note in kept) == 2 * 7
