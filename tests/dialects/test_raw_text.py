"""v1.4.3–v1.5.x binary frames that are not protobuf (protocol doc §5, §10.1)."""

from __future__ import annotations

import base64
import json

import pytest

from ecq2pcap.dialects.raw_text import decode_raw_text
from ecq2pcap.payloads.hexdump import ECAPTURE_V1, reverse
from fixtures.encoders import go_v1_dump
from ecq2pcap.model import Annotation, Capture, DataType, DecodeError, PayloadForm

GREEN, PURPLE, RESET = "\x1b[32m", "\x1b[35m", "\x1b[0m"
COMM16 = lambda name: name.encode() + b"\0" * (16 - len(name))  # noqa: E731  (Go's %s of a [16]byte)


DATA = [b"", b"G", b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", bytes(range(256)), b"x" * 4096 + b"\n"]


@pytest.mark.parametrize("data", DATA)
@pytest.mark.parametrize("prefix", ["", GREEN, PURPLE + "\t"])
def test_v1_dump_reversal(data, prefix):
    assert reverse(go_v1_dump(data, prefix) + (prefix and RESET).encode(), ECAPTURE_V1) == data


def test_v1_dump_mismatch_is_refused():
    good = go_v1_dump(b"0123456789abcdefXYZ")
    for bad in (good.replace(b"0016", b"0010"), good.replace(b"30 31", b"30 32"), good.replace(b"X", b"Q", 1)):
        with pytest.raises(ValueError):
            reverse(bad, ECAPTURE_V1)


def test_gotls_json_v143():
    payload = b"GET /api HTTP/1.1\r\nHost: go\r\n\r\n"
    b64 = base64.b64encode(payload).decode()
    text = json.dumps({"timestamp": 1_795_715_801_000_000_000, "uuid": "100_101_gohttp\u0000\u0000\u0000",
                       "src_ip": "127.0.0.1", "src_port": 0, "dst_ip": "127.0.0.1", "dst_port": 0, "pid": 100,
                       "pname": "gohttp", "type": 0, "length": len(b64), "payload": b64}).encode()
    (cap,) = decode_raw_text(text, "r:1", 5)
    assert isinstance(cap, Capture)
    assert cap.payload == payload and cap.module == "gotls" and cap.data_type is DataType.WRITE
    assert (cap.pid, cap.tid, cap.comm) == (100, 101, "gohttp") and cap.timestamp_ns == 1_795_715_801_000_000_000
    with pytest.raises(DecodeError, match="gotls"):
        decode_raw_text(b'{"uuid": 5}', "r:2", None)


def test_gotls_hex():
    data = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"
    text = (b"PID: 100, Comm: " + COMM16("gohttp") + b", TID: 102, PayloadType:1, Payload: \n"
            + go_v1_dump(data, GREEN) + RESET.encode() + b"\n")
    (cap,) = decode_raw_text(text, "r:3", 77)
    assert isinstance(cap, Capture) and cap.payload == data
    assert (cap.pid, cap.tid, cap.comm, cap.fd, cap.tuple) == (100, 102, "gohttp", None, None)
    assert cap.data_type is DataType.READ and cap.module == "gotls" and cap.timestamp_ns == 77
    assert cap.form is PayloadForm.RAW


@pytest.mark.parametrize("kind, color, prefix, dt", [
    ("Received", GREEN, GREEN, DataType.READ),
    ("Send", PURPLE, PURPLE + "\t", DataType.WRITE),
])
def test_gnutls_nspr_hex(kind, color, prefix, dt):
    data = bytes(range(40))
    text = ("PID:9, Comm:".encode() + COMM16("Socket Thread") + f", Type:{color}{kind}{RESET}, TID:11, "
            f"DataLen:{len(data)} bytes, Payload:\n".encode() + go_v1_dump(data, prefix) + RESET.encode())
    (cap,) = decode_raw_text(text, "r:4", None)
    assert isinstance(cap, Capture) and cap.payload == data and cap.data_type is dt
    assert cap.comm == "Socket Thread" and cap.module == "gnutls/nspr" and cap.fd is None


def test_broken_dump_is_an_annotation():
    text = b"PID: 1, Comm: go, TID: 2, PayloadType:0, Payload: \n\x1b[32m0000    zz\n"
    (ann,) = decode_raw_text(text, "r:5", None)
    assert isinstance(ann, Annotation) and ann.kind == "unreadable-hex" and ann.pid == 1


@pytest.mark.parametrize(
    "text, kind, pid, comm, body",
    [
        (b"PID:4242, UID:0, \tComm:" + COMM16("bash") + b", \tRetvalue:0, \tLine:\nls -la /tmp",
         "bash", 4242, "bash", "ls -la /tmp"),
        (b"PID:4242, UID:0, \tComm:" + COMM16("bash") + b", \tRetvalue:127, \tLine:\n" + go_v1_dump(b"curl -k x")
         + b",", "bash", 4242, "bash", "curl -k x"),
        (b"PID:77, UID:1000, \tComm:" + COMM16("zsh") + b", \tLine:\necho hi", "zsh", 77, "zsh", "echo hi"),
        (b"PID:77, UID:1000, \tComm:" + COMM16("zsh") + b", \tLine:\necho hi" + b"\0" * 20 + b",",
         "zsh", 77, "zsh", "echo hi"),
        (b"PID:77, UID:1000, \tComm:" + COMM16("zsh") + b", \tLine:\necho a,", "zsh", 77, "zsh", "echo a,"),
        (b"PID:4242, UID:0, \tComm:" + COMM16("bash") + b", \tRetvalue:0, \tLine:\necho b,", "bash", 4242, "bash",
         "echo b,"),
        (b" PID:9, Comm:" + COMM16("mysqld") + b", Time:123,  length:(8/8),  return:DISPATCH_COMMAND_SUCCESS, "
         b"Line:select 1", "sql", 9, "mysqld", "select 1"),
        (b" PID: 10, Comm: " + COMM16("postgres") + b", Time: 5, Query: select 2", "sql", 10, "postgres",
         "select 2"),
        (b"TLS Version:TLS1_3_VERSION, ClientRandom:00112233", "masterkey", None, "", None),
        (b"Hello, this is not an eCapture format\n", "text", None, "", "Hello, this is not an eCapture format"),
    ],
)
def test_annotations(text, kind, pid, comm, body):
    (ann,) = decode_raw_text(text, "r:6", 31)
    assert isinstance(ann, Annotation)
    assert (ann.kind, ann.pid, ann.comm, ann.timestamp_ns, ann.origin) == (kind, pid, comm, 31, "r:6")
    if body is not None:
        assert ann.text == body


@pytest.mark.parametrize("data", [
    b"\x00\x01\x02\x03\xff\xfe" * 10, b"\x89PNG\r\n\x1a\n" + bytes(range(200)), b"",
    b"{not json", b'{"uuid":"\x83"}',  # malformed JSON, invalid UTF-8 in JSON
])
def test_binary_garbage_is_a_decode_error(data):
    with pytest.raises(DecodeError):
        decode_raw_text(data, "r:7", None)
