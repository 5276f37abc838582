"""v1.4.3–v1.5.x protobuf LogEntry frames (protocol doc §1.4)."""

from __future__ import annotations

import time

import pytest

from ecq2pcap.dialects import v15_proto
from ecq2pcap.dialects.v15_proto import (
    decode_log_entry,
    delimit,
    encode_event,
    encode_heartbeat,
    encode_run_log,
)
from ecq2pcap.model import (
    Annotation,
    Capture,
    ConnectInfo,
    DataType,
    DecodeError,
    Heartbeat,
    PayloadForm,
    ProcessLog,
    Tuple,
)

# --- an independent protobuf writer (wire format by hand), to check the runtime descriptor


def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _vf(num: int, value: int) -> bytes:
    return _varint(num << 3) + _varint(value) if value else b""


def _lf(num: int, value: bytes) -> bytes:
    return _varint(num << 3 | 2) + _varint(len(value)) + value if value else b""


def hand_event(**f) -> bytes:
    ev = (
        _vf(1, f.get("timestamp", 0)) + _lf(2, f.get("uuid", "").encode()) + _lf(3, f.get("src_ip", "").encode())
        + _vf(4, f.get("src_port", 0)) + _lf(5, f.get("dst_ip", "").encode()) + _vf(6, f.get("dst_port", 0))
        + _vf(7, f.get("pid", 0)) + _lf(8, f.get("pname", "").encode()) + _vf(9, f.get("type", 0))
        + _vf(10, f.get("length", 0)) + _lf(11, f.get("payload", b""))
    )
    return _vf(1, 2) + _varint(2 << 3 | 2) + _varint(len(ev)) + ev


UUID = "316_316_curl_5_1_127.0.0.1:46890-127.0.0.1:8443"
REQ = b"GET / HTTP/1.1\r\nHost: localhost:8443\r\nAccept: */*\r\nUser-Agent: curl/7.88.1\r\n\r\n"
FIELDS = dict(
    timestamp=1_795_715_801_246_000_123, uuid=UUID, src_ip="127.0.0.1", src_port=46890, dst_ip="127.0.0.1",
    dst_port=8443, pid=316, pname="curl", type=1, length=len(REQ), payload=REQ,
)


def test_encoder_matches_hand_built_wire_bytes():
    assert encode_event(**FIELDS) == hand_event(**FIELDS)
    # a heartbeat: no log_type on the wire (proto3 omits 0), fields 1..3 of Heartbeat
    hb = _lf(3, _vf(1, 1_795_715_799) + _vf(2, 4) + _lf(3, b"heartbeat:4"))
    assert encode_heartbeat(1_795_715_799, 4) == hb
    log = '{"level":"info","Version":"linux_amd64:v1.5.2","time":"2026-11-26T17:56:31Z"}\n'
    assert encode_run_log(log) == _vf(1, 1) + _lf(4, log.encode())


def test_v1_event_from_hand_built_bytes():
    (rec,) = decode_log_entry(hand_event(**FIELDS), "t:1", None)
    assert isinstance(rec, Capture)
    assert (rec.pid, rec.tid, rec.comm, rec.fd) == (316, 316, "curl", 5)
    assert rec.data_type is DataType.WRITE
    assert rec.tuple == Tuple("127.0.0.1", 46890, "127.0.0.1", 8443)
    assert rec.timestamp_ns == FIELDS["timestamp"]
    assert rec.payload == REQ and rec.form is PayloadForm.HTTP1_RENDERED
    assert rec.ectype == 1 and rec.uuid == UUID and rec.origin == "t:1"


def test_zero_fields_are_absent_and_length_is_never_checked():
    # no type, ports, timestamp on the wire; length lies (v2-style text length)
    data = hand_event(uuid="316_316_curl_5_0_0.0.0.0:0-0.0.0.0:0", pid=316, pname="curl", length=999,
                      payload=b"\x17\x03binary")
    (rec,) = decode_log_entry(data, "t:2", None)
    assert isinstance(rec, Capture)
    assert rec.timestamp_ns is None and rec.ectype == 0 and rec.tuple is None
    assert rec.data_type is DataType.READ


def test_heartbeat_has_no_log_type_and_seconds_timestamp():
    # exactly what the v2 sample sends first: heartbeat:0, count 0 omitted
    data = bytes.fromhex("1a1308d7e5a1d8061a0b6865617274626561743a30")
    (hb,) = decode_log_entry(data, "t:3", None)
    assert hb == Heartbeat(1_795_715_799 * 10**9, 0, "heartbeat:0", "t:3")


def test_run_log_json_and_not_json():
    (log,) = decode_log_entry(encode_run_log('{"level":"info","AppName":"eCapture(旁观者)"}\n'), "t:4", None)
    assert isinstance(log, ProcessLog)
    assert log.fields == {"level": "info", "AppName": "eCapture(旁观者)"}
    assert log.text == '{"level":"info","AppName":"eCapture(旁观者)"}'
    (log,) = decode_log_entry(encode_run_log("plain words\n"), "t:5", None)
    assert log.fields is None and log.text == "plain words"
    (log,) = decode_log_entry(encode_run_log("[1, 2]\n"), "t:6", None)
    assert log.fields is None


def test_v2_event_is_handed_to_v2_text():
    text = b"PID:316, Comm:curl, TID:316, FD:5, Tuple: [127.0.0.1]:46890->[127.0.0.1]:8443\n"
    data = encode_event(payload=text)
    assert data == hand_event(payload=text, length=len(text))
    (rec,) = decode_log_entry(data, "t:7", 5)
    assert rec == ConnectInfo("connect", 316, 5, Tuple("127.0.0.1", 46890, "127.0.0.1", 8443), comm="curl",
                              tid=316, timestamp_ns=5, origin="t:7")


def test_sql_event_is_an_annotation():
    data = encode_event(uuid="77_mysqld\x00\x00\x00\x00\x00\x00\x00\x00\x00", pid=77, pname="mysqld",
                        type=4294967295, payload=b"select 1")
    (rec,) = decode_log_entry(data, "t:8", None)
    assert isinstance(rec, Annotation) and rec.kind == "sql" and rec.text == "select 1"


@pytest.mark.parametrize(
    "data",
    [
        b"PID:4242, UID:0, \tComm:bash\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00, \tRetvalue:0, \tLine:\nls",
        b' PID:9, Comm:mysqld, Time:1,  length:(8/8),  return:DISPATCH_COMMAND_SUCCESS, Line:select 1',
        b'{"timestamp":1795715801000000000,"uuid":"1_2_go\\u0000","payload":"aGk=","length":4}',
        b"",  # parses, but no oneof
        b"\x48\x01",  # unknown field 9 only
        b"\x08\x02",  # log_type only
        b"\x12\x05abc",  # truncated
    ],
)
def test_not_a_log_entry_returns_none(data):
    assert decode_log_entry(data, "t:9", None) is None


def test_unparsable_uuid_raises_decode_error():
    with pytest.raises(DecodeError, match="uuid"):
        decode_log_entry(encode_event(uuid="nonsense", pid=1, payload=b"x"), "t:10", None)


def test_descriptor_field_by_field():
    msg = v15_proto.LogEntry()
    msg.ParseFromString(encode_event(**FIELDS))
    assert msg.WhichOneof("payload") == "event_payload"
    numbers = {f.name: f.number for f in msg.event_payload.DESCRIPTOR.fields}
    assert numbers == {"timestamp": 1, "uuid": 2, "src_ip": 3, "src_port": 4, "dst_ip": 5, "dst_port": 6,
                       "pid": 7, "pname": 8, "type": 9, "length": 10, "payload": 11}
    for name, value in FIELDS.items():
        assert getattr(msg.event_payload, name) == value
    assert [(f.name, f.number) for f in msg.DESCRIPTOR.oneofs_by_name["payload"].fields] == [
        ("event_payload", 2), ("heartbeat_payload", 3), ("run_log", 4)]


def test_delimit_prefix_is_a_varint():
    assert delimit(b"x" * 300)[:2] == b"\xac\x02"  # 300 = 0b10_0101100
    assert delimit(b"ab") == b"\x02ab"


def test_big_message_is_fast():
    payload = (b"\nFrame Type\t=>\tDATA\nFrame StreamID\t=>\t1\nFrame Length\t=>\t8192\n" + b"x" * 8192) * 380
    assert len(payload) > 3_000_000
    data = encode_event(**{**FIELDS, "type": 4, "uuid": FIELDS["uuid"].replace("_5_1_", "_5_0_"), "payload": payload})
    start = time.perf_counter()
    (rec,) = decode_log_entry(data, "t:11", None)
    assert time.perf_counter() - start < 0.5
    assert rec.form is PayloadForm.H2_DUMP and len(rec.payload) == len(payload)


def test_a_log_entry_parsed_in_one_call_is_the_one_made_then_parsed():
    """parse_log_entry makes and parses a LogEntry in one call (FromString): on any bytes, the same entry, or the
    same refusal, as LogEntry() and its ParseFromString."""
    import random

    from google.protobuf.message import DecodeError as PbDecodeError

    from ecq2pcap.dialects.v15_proto import LogEntry, encode_event, encode_heartbeat, parse_log_entry

    rng = random.Random(7)
    good = [encode_event(payload=b"x" * 300), encode_heartbeat(5), encode_event(uuid="1_2_c_3_0", pid=1, payload=b"")]
    cases = [b"\xff\xff", b"\x08", b"", *good, *(g[:n] for g in good for n in range(len(g))), good[0] + b"\xff",
             *(rng.randbytes(rng.randrange(1, 40)) for _ in range(2000))]
    for data in cases:
        msg = LogEntry()
        try:
            msg.ParseFromString(data)
        except (PbDecodeError, ValueError, RuntimeError):
            msg = None
        which = None if msg is None else msg.WhichOneof("payload")
        parsed = parse_log_entry(data)
        assert (parsed is None) == (which is None), data
        assert parsed is None or (parsed[0] == msg and parsed[1] == which), data
