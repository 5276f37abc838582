"""Property-based fuzzing of every decoder (issue 7): on any input a decoder returns its result
or raises its one documented error type; nothing else escapes, and what comes out is well formed.
Here the dialects, uuids and tuples, and hex dumps; the payload decoders and the HAR are in
test_decoders_payloads.py, which uses the mutations here.

Each target mixes arbitrary bytes with mutations of valid inputs (hypothesis shrinks both)."""

from __future__ import annotations

import base64
import json
import re

from hypothesis import example, given
from hypothesis import strategies as st

from ecq2pcap.dialects import decode
from ecq2pcap.dialects.raw_text import decode_raw_text
from ecq2pcap.dialects.state import StreamState
from ecq2pcap.dialects.v15_proto import encode_event, encode_heartbeat, encode_run_log
from ecq2pcap.dialects.v2_text import _unhex, decode_v2_payload
from ecq2pcap.model import Annotation, Capture, ConnectInfo, DecodeError, Heartbeat, Message, Opcode, ProcessLog
from ecq2pcap.payloads.hexdump import ECAPTURE_V1, ECAPTURE_V2, GO, reverse
from ecq2pcap.uuids import parse_tuple, parse_uuid, parse_uuid_generally
from fixtures.encoders import go_hex_dump, go_v1_dump, go_v2_dump, v2_connect_text, v2_data_text
from tests.support.zerolog_console import event_record, record

RECORDS = (Capture, ConnectInfo, Heartbeat, ProcessLog, Annotation)


@st.composite
def mutated(draw, valid: st.SearchStrategy[bytes]) -> bytes:
    """A valid input with a few byte-level mutations: flip, cut, insert, duplicate a slice, or insert a run
    of digits too long for int() (which refuses 4,300 and more: a Content-Length of 5,000 nines once ended a
    conversion's connections)."""
    data = bytearray(draw(valid))
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "dup", "digits"]))
        pos = draw(st.integers(0, len(data)))
        if op == "flip" and pos < len(data):
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "cut":
            data = data[:pos] + data[pos + draw(st.integers(0, 64)):]
        elif op == "insert":
            data[pos:pos] = draw(st.binary(max_size=16))
        elif op == "dup":
            data[pos:pos] = data[pos:pos + draw(st.integers(0, 64))]
        elif op == "digits":
            data[pos:pos] = b"9" * draw(st.sampled_from([19, 4301]))
    return bytes(data)


def either(valid: st.SearchStrategy[bytes], max_size: int = 512) -> st.SearchStrategy[bytes]:
    return st.one_of(st.binary(max_size=max_size), mutated(valid))


def check_records(records) -> None:
    assert isinstance(records, list)
    for r in records:
        assert isinstance(r, RECORDS), r
        if isinstance(r, Capture):
            assert isinstance(r.payload, bytes) and r.pid >= 0


# -- dialects ---------------------------------------------------------------------------

HTTP = [b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi", b"\x00\x01\xfe" * 9]
UUIDS = ["1_2_curl_5_1_10.0.0.1:40000-10.0.0.2:443", "sock:7_7_nginx_12_0_0.0.0.0:0-0.0.0.0:0_0",
         "100_100_curl worker_1_7_1_[2001:db8::10]:50000-[2001:db8::1]:9443", "3_3_firefox_0", "9_9_go_1_2_3"]


@st.composite
def v14_json(draw) -> bytes:
    payload = draw(st.sampled_from(HTTP))
    event = {"timestamp": draw(st.integers(-2, 1 << 40)), "uuid": draw(st.sampled_from(UUIDS)),
             "src_ip": "10.0.0.1", "src_port": 40000, "dst_ip": "10.0.0.2", "dst_port": 443,
             "pid": draw(st.integers(-1, 1 << 33)), "pname": "curl", "type": draw(st.integers(0, 9)),
             "length": 0, "payload_base64": base64.b64encode(payload).decode()}
    msg = draw(st.sampled_from([{"log_type": 2, "payload": event},
                                {"log_type": 0, "payload": {"timestamp": 1, "count": 2, "message": "hb"}},
                                {"log_type": 1, "payload": {"level": "info", "Version": "linux_amd64:v1.4.2"}}]))
    return json.dumps(msg).encode()


@given(either(v14_json()))
def test_v14_json_frames(data):
    try:
        check_records(decode(Message(data, Opcode.TEXT, "fuzz:1")))
    except DecodeError:
        pass


@st.composite
def log_entry(draw) -> bytes:
    kind = draw(st.sampled_from(["event", "heartbeat", "log"]))
    if kind == "heartbeat":
        return encode_heartbeat(draw(st.integers(0, 1 << 33)), draw(st.integers(0, 99)))
    if kind == "log":
        return encode_run_log(draw(st.sampled_from(['{"level":"info","Version":"v1.5.2"}\n', "plain\n"])))
    return encode_event(timestamp=draw(st.integers(0, 1 << 62)), uuid=draw(st.sampled_from(UUIDS)), pid=7,
                        pname="nginx", type=draw(st.integers(0, 5)), payload=draw(st.sampled_from(HTTP)),
                        src_ip="10.0.0.1", src_port=1, dst_ip="10.0.0.2", dst_port=2)


@given(either(log_entry()))
def test_protobuf_log_entries_and_raw_text_frames(data):
    state = StreamState()
    try:
        check_records(decode(Message(data, Opcode.BINARY, "fuzz:1"), state))
    except DecodeError:
        pass


@st.composite
def raw_text(draw) -> bytes:
    body = draw(st.sampled_from(HTTP))
    kind = draw(st.sampled_from(["gotls", "hex", "bash"]))
    if kind == "gotls":
        return json.dumps({"pid": 3, "comm": "go", "payload": base64.b64encode(body).decode()}).encode()
    if kind == "hex":
        return go_v1_dump(body)
    return b"PID:12, UID:0, \tComm:bash, \tRetvalue:0, \tLine:\nls -l"


@given(either(raw_text()))
def test_raw_text_frames(data):
    try:
        check_records(decode_raw_text(data, "fuzz:1"))
    except DecodeError:
        pass


@st.composite
def v2_text(draw) -> bytes:
    kind = draw(st.sampled_from(["data", "connect", "hex"]))
    if kind == "connect":
        return v2_connect_text(7, 7, "nginx", 12, ("127.0.0.1", draw(st.integers(0, 70000))), ("::1", 443))
    body = draw(st.sampled_from(HTTP))
    text = v2_data_text(draw(st.floats(0, 2e9)), 7, 7, "nginx", 12, draw(st.booleans()), body)
    if kind == "hex":
        head, _, _ = text.partition(b":\n")
        text = head.replace(b"bytes)", b"bytes, hex)") + b":\n" + go_v2_dump(body)
    return text


@given(either(v2_text()))
@example(b"PID:" + b"9" * 4302 + b", Comm:nginx, TID:7, FD:12, Tuple: [127.0.0.1]:0->[::1]:443\n")  # int() refused it
@example(b"[2026-11-26 17:56:40.000] PID:" + b"9" * 4302 + b" TID:1 Comm:curl FD:5 WRITE (2 bytes):\nhi")
def test_v2_text_renderings_and_connect_lines(data):
    check_records(decode_v2_payload(data, "fuzz:1", None, StreamState()))  # documented never to raise


def console_record() -> st.SearchStrategy[bytes]:
    """eCapture v2's console records: an event's rendering, a connect line or a log line, coloured or not, as
    ``tests/support/zerolog_console.py`` writes them."""
    renderings = st.one_of(v2_text(), st.binary(max_size=200))
    return st.one_of(
        st.builds(lambda r, colour: event_record(r, "2026-12-07T10:00:01+08:00", colour=colour), renderings,
                  st.booleans()),
        st.builds(lambda m, colour: record(m, "2026-12-07T10:00:01Z", {"Version": "linux_amd64:v2.5.1", "a": m},
                                           colour=colour, escape=False), st.text(max_size=60), st.booleans()))


@given(either(console_record()))
@example(b"2026-12-07T10:00:01Z INF" + b" a=b" * 20000)  # (a field a search: at most _FIELDS of them)
def test_v2_console_records(data):
    for state in (None, StreamState()):
        try:
            records = decode(Message(data, Opcode.CONSOLE, "fuzz:1"), state)
        except DecodeError:
            continue
        check_records(records)
        for r in records:
            if isinstance(r, ProcessLog):
                assert len(r.fields) <= 32 + 2


# -- uuids, hex dumps --------------------------------------------------------------------

@given(st.one_of(st.text(max_size=80), st.sampled_from(UUIDS).flatmap(
    lambda u: st.integers(0, len(u)).flatmap(lambda i: st.text(max_size=4).map(lambda t: u[:i] + t + u[i:])))))
def test_uuid_and_tuple_parsing(text):
    for parse in (parse_uuid, parse_tuple):
        try:
            parse(text)
        except ValueError:
            pass


# digits that str.isdigit, int() or a str regex's \d take but eCapture never prints
_UUID_ALPHABET = st.sampled_from(list("0123456789_:.->[]abf\x00 ") + ["١", "٢", "²", "𝟘", "٥٠", "sock:"])


@given(st.one_of(st.lists(_UUID_ALPHABET, max_size=40).map("".join),
                 st.sampled_from(UUIDS).flatmap(lambda u: st.integers(0, len(u)).flatmap(
                     lambda i: _UUID_ALPHABET.map(lambda t: u[:i] + t + u[i:])))))
def test_uuid_and_tuple_numbers_are_ascii(text):
    try:
        info = parse_uuid(text)
    except ValueError:
        info = None
    if info is not None:
        pid = text.removeprefix("sock:").split("_", 1)[0]
        assert pid.isascii() and int(pid) == info.pid
        assert info.tuple is None or text.isascii() or info.comm and not text.isascii()
    try:
        t = parse_tuple(text)
    except ValueError:
        t = None
    if t is not None:
        assert text.isascii() and 0 < t.src_port <= 65535 and 0 < t.dst_port <= 65535


def _outcome(parse, text):
    try:
        return parse(text)
    except ValueError as exc:
        return str(exc)


@given(st.one_of(st.text(max_size=80), st.lists(_UUID_ALPHABET, max_size=40).map("".join),
                 st.sampled_from(UUIDS).flatmap(lambda u: st.integers(0, len(u)).flatmap(
                     lambda i: st.one_of(st.text(max_size=4), _UUID_ALPHABET).map(lambda t: u[:i] + t + u[i:])))))
@example("1_2_curl\x00\x00\x00_5_1_10.0.0.1:1-10.0.0.2:2")  # NUL-padded comm
@example("1_2_my_app_5_0_[::1]:1-[::1]:2")  # "_" in the comm
@example("1_2__5_0_10.0.0.1:1-10.0.0.2:2")  # empty comm
@example("1_2_c_5_1_0.0.0.0:0-0.0.0.0:0")  # unknown tuple
@example("1_2_c_5_1_10.0.0.1:1-10.0.0.2:70000")  # port out of range
def test_uuid_fast_path_parses_as_the_general_walk_does(text):
    """parse_uuid's one-regex path for the common openssl form gives what the general walk gives; so does
    the connection's other uuid (the other data type), which that path parsed with it."""
    outcome = _outcome(parse_uuid, text)
    assert outcome == _outcome(parse_uuid_generally, text)
    m = re.fullmatch(r"(.*_)([01])(_[^_]*)", text, re.DOTALL)
    if m is not None and not isinstance(outcome, str):
        other = m[1] + ("0" if m[2] == "1" else "1") + m[3]
        assert _outcome(parse_uuid, other) == _outcome(parse_uuid_generally, other)


@given(st.binary(max_size=300))
def test_hex_dumps_round_trip(data):
    # (the dumps come from independent ports of the Go code, fixtures/encoders.py)
    assert reverse(go_hex_dump(data), GO) == data
    assert reverse(go_v1_dump(data), ECAPTURE_V1) == data
    assert reverse(go_v2_dump(data), ECAPTURE_V2) == data


@given(either(st.binary(max_size=200).map(go_hex_dump), 600))
def test_hex_dump_reversal_only_raises_value_error(text):
    for fn in (lambda t: reverse(t, GO), lambda t: reverse(t, ECAPTURE_V1), lambda t: reverse(t, ECAPTURE_V2), _unhex):
        try:
            assert isinstance(fn(text), bytes)
        except ValueError as exc:
            assert type(exc) is ValueError, exc  # not UnicodeDecodeError & co
