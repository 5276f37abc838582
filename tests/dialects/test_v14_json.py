import base64
import gzip
import json

import pytest

from ecq2pcap.dialects import decode
from ecq2pcap.dialects.v1_event import timestamp_to_ns
from ecq2pcap.model import (Annotation, Capture, DataType, DecodeError, Heartbeat, Message, Opcode,
                            PayloadForm, ProcessLog, Tuple)


def msg(obj) -> Message:
    return Message(json.dumps(obj).encode(), Opcode.TEXT, "t.jsonl:1")


def event(payload: bytes, **kw):
    b64 = base64.b64encode(payload).decode()
    ev = {"timestamp": 1795715801, "uuid": "316_316_curl_5_1_127.0.0.1:46890-127.0.0.1:8443",
          "src_ip": "127.0.0.1", "src_port": 46890, "dst_ip": "127.0.0.1", "dst_port": 8443,
          "pid": 316, "pname": "curl", "type": 1, "length": len(b64), "payload_base64": b64}
    ev.update(kw)
    return {"log_type": 2, "payload": ev}


@pytest.mark.parametrize("value,expected", [
    (1795715801, 1795715801 * 10**9),              # v1.4.0-1.4.2 seconds
    (1795715801123456789, 1795715801123456789),    # v1.4.3+ nanoseconds
    (1795715801123, 1795715801123 * 10**6),        # milliseconds
    (1795715801123456, 1795715801123456 * 10**3),  # microseconds
    (0, None), (None, None),
])
def test_timestamp_units(value, expected):
    assert timestamp_to_ns(value) == expected


@pytest.mark.parametrize("value", [1, 10**11 - 1, 10**11, 10**14 - 1, 10**14, 10**17 - 1, 10**17, 2**63 - 1, 0, -5])
def test_whole_timestamps_are_read_as_the_general_rules_read_them(value):
    """Integers (what eCapture sends) take a quick path: the general rules' units at each bound (an int
    subclass goes the general way, its comparisons with the float bounds exact), as an int."""
    class Whole(int):
        pass

    got = timestamp_to_ns(value)
    assert got == timestamp_to_ns(Whole(value)) and type(got) in (int, type(None))


def test_event_fields():
    [cap] = decode(msg(event(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")))
    assert isinstance(cap, Capture)
    assert (cap.pid, cap.tid, cap.comm, cap.fd, cap.data_type) == (316, 316, "curl", 5, DataType.WRITE)
    assert cap.tuple == Tuple("127.0.0.1", 46890, "127.0.0.1", 8443)
    assert cap.form is PayloadForm.HTTP1_RENDERED and cap.ectype == 1
    assert cap.timestamp_ns == 1795715801 * 10**9
    assert cap.payload.startswith(b"GET / ")


def test_length_is_not_checked():
    """v1.4 `length` is the base64 length; any value must be accepted."""
    [cap] = decode(msg(event(b"abc", length=999, type=0)))
    assert cap.payload == b"abc"


def test_uuid_tuple_wins_over_placeholder_fields():
    ev = event(b"x", type=0, uuid="9_9_nginx_3_0_[2001:db8::5]:5000-[2001:db8::1]:443",
               src_ip="", dst_ip="", src_port=0, dst_port=0)
    [cap] = decode(msg(ev))
    assert cap.tuple == Tuple("2001:db8::5", 5000, "2001:db8::1", 443)


def test_unknown_tuple_in_sock_form():
    [cap] = decode(msg(event(b"x", type=0, uuid="sock:316_316_curl_5_1_0.0.0.0:0-0.0.0.0:0_0",
                              src_ip="0.0.0.0", dst_ip="0.0.0.0", src_port=0, dst_port=0)))
    assert cap.tuple is None and cap.fd == 5


def test_hexdump_type0_reversed():
    dump = b"00000000  81 85 23 27 32 30 4e 54  55 10 13                 |..#'20NTU..|\n"
    [cap] = decode(msg(event(dump, type=0)))
    assert cap.payload == b"\x81\x85#'20NTU\x10\x13" and cap.form is PayloadForm.RAW
    assert any("hex dump" in n for n in cap.notes)


def test_h2_dump_and_mislabelled_types():
    [cap] = decode(msg(event(b"\nFrame Type\t=>\tSETTINGS\nFrame StreamID\t=>\t0\n", type=4)))
    assert cap.form is PayloadForm.H2_DUMP
    [cap] = decode(msg(event(b"\x00\x00\x12\x04\x00\x00\x00\x00\x00", type=1)))
    assert cap.form is PayloadForm.RAW and cap.notes


def test_gnutls_nul_comm_and_placeholder_ip():
    [cap] = decode(msg(event(b"hello", type=0, uuid="7_8_Socket Thread\x00_0", pname="Socket Thread\x00\x00",
                              src_ip="127.0.0.1", src_port=0, dst_ip="127.0.0.1", dst_port=0)))
    assert cap.comm == "Socket Thread" and cap.fd is None and cap.tuple is None
    assert cap.data_type is DataType.READ


def test_gotls_type_is_direction():
    [w] = decode(msg(event(b"hi", type=0, uuid="7_8_gosrv\x00\x00")))
    [r] = decode(msg(event(b"hi", type=1, uuid="7_8_gosrv\x00\x00")))
    assert (w.data_type, r.data_type) == (DataType.WRITE, DataType.READ)
    assert w.form is PayloadForm.RAW


def test_heartbeat_log_and_unknown_type():
    [hb] = decode(msg({"log_type": 0, "payload": {"timestamp": 1795715801, "count": 3, "message": "heartbeat:3"}}))
    assert isinstance(hb, Heartbeat) and hb.count == 3 and hb.timestamp_ns == 1795715801 * 10**9
    [log] = decode(msg({"log_type": 1, "payload": {"level": "info", "Version": "v1.4.2", "time": "x"}}))
    assert isinstance(log, ProcessLog) and log.fields["Version"] == "v1.4.2"
    [ann] = decode(msg({"log_type": 7, "payload": {"x": 1}}))
    assert isinstance(ann, Annotation) and "log_type 7" in ann.kind


@pytest.mark.parametrize("line,reason", [
    (b"{not json", "invalid JSON"),
    (b'{"payload": {}}', "log_type"),
    (json.dumps({"log_type": 2, "payload": {"uuid": "1_1_c_1_1_1.1.1.1:1-2.2.2.2:2", "payload_base64": "!!!"}}).encode(), "base64"),
    (json.dumps({"log_type": 2, "payload": {"timestamp": 1}}).encode(), "uuid"),
    (json.dumps(event(b"x", uuid="nonsense")).encode(), "unparsable uuid"),
])
def test_bad_lines_raise_with_reason(line, reason):
    with pytest.raises(DecodeError, match=reason):
        decode(Message(line, Opcode.TEXT, "f:1"))


def test_whole_v140_sample(samples_dir):
    expected = json.load(open(samples_dir / "v140_client.expected.json"))
    kinds = {"events": 0, "heartbeats": 0, "logs": 0}
    with gzip.open(samples_dir / "v140_client.dump.jsonl.gz") as f:
        for n, line in enumerate(f, 1):
            for rec in decode(Message(line.rstrip(b"\n"), Opcode.TEXT, f"s:{n}")):
                key = {Capture: "events", Heartbeat: "heartbeats", ProcessLog: "logs"}[type(rec)]
                kinds[key] += 1
    c = expected["counts"]
    assert kinds == {"events": c["events"], "heartbeats": c["heartbeats"], "logs": c["replay_logs"] + c["live_logs"]}


def test_one_pass_event_decode_gives_what_the_general_path_gives(samples_dir):
    """Event lines are decoded in one typed pass; the envelope-then-event path (still taken by every other
    line) must give the same record, field for field, on every event of a real stream and on the field
    variants: gotls's ``payload`` instead of ``payload_base64`` (v1.4.3), NUL-padded pname (§10.20), a
    ``length`` that is not the payload's (§10.5), the sock: unknown-tuple form (§10.8)."""
    from ecq2pcap.dialects.v14_json import _envelope, decode_event_json

    lines = [line.rstrip(b"\n") for line in gzip.open(samples_dir / "v140_client.dump.jsonl.gz")]
    gotls = event(b"")
    del gotls["payload"]["payload_base64"]
    gotls["payload"]["payload"] = base64.b64encode(b"GET / HTTP/1.1\r\n\r\n").decode()
    variants = [
        gotls,
        event(b"x", pname="Socket Thread\u0000\u0000\u0000", uuid="9_9_Socket Thread\u0000\u0000\u0000_1"),
        event(b"abc", length=999),
        event(b"abc", uuid="sock:316_316_curl_5_1_0.0.0.0:0-0.0.0.0:0_0", src_ip="", dst_ip=""),
    ]
    lines += [json.dumps(v).encode() for v in variants]
    events = [line for line in lines if json.loads(line)["log_type"] == 2]
    assert len(events) > len(variants)
    for n, line in enumerate(events):
        [fast] = decode(Message(line, Opcode.TEXT, f"s:{n}"))
        general = decode_event_json(_envelope.decode(line).payload, f"s:{n}")
        assert repr(fast) == repr(general), line


def test_an_event_shaped_payload_of_another_log_type_is_not_an_event():
    [ann] = decode(msg({**event(b"GET / HTTP/1.1\r\n\r\n"), "log_type": 7}))
    assert isinstance(ann, Annotation) and "log_type 7" in ann.kind


@pytest.mark.parametrize("field,value", [
    ("uuid", "316_316_" + "c" * 100_000 + "_5_1_127.0.0.1:46890-127.0.0.1:8443"),
    ("pname", "p" * 100_000),
    ("src_ip", "1." * 50_000),
    ("dst_ip", "1." * 50_000),
])
def test_fields_longer_than_ecapture_writes_are_refused_with_their_length(field, value):
    """An open connection keeps its uuid, comm and addresses (4,096 open at once, lines up to 32 MiB):
    an event whose metadata could never be eCapture's is refused, saying which field and how long, in
    a short message."""
    ev = event(b"x", type=0, **{field: value})
    if field == "uuid":
        ev["payload"]["uuid"] = value
    with pytest.raises(DecodeError, match=rf"^{field} of [0-9,]+ characters: longer than eCapture writes") as info:
        decode(msg(ev))
    assert len(str(info.value)) < 120
    ok = event(b"x", type=0, pname="p" * 15, src_ip="2001:db8:0:0:0:ffff:255.255.255.255")
    assert isinstance(decode(msg(ok))[0], Capture)  # the longest that eCapture writes pass


from types import SimpleNamespace  # noqa: E402

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from ecq2pcap.dialects.v1_event import _HTTP1_STARTS, _classify, v1_event_record  # noqa: E402

_STARTS = st.sampled_from([*_HTTP1_STARTS, b"", b"HTTP/2", b"GET", b"get ", b"\nFrame Type\t=>\t", b"00000000  ",
                           b"00000000  47 45 54 20 2f 20 48 54  54 50 2f 31 2e 31 0d 0a  |GET / HTTP/1.1..|\n"])


@settings(max_examples=500, deadline=None)
@given(payload=st.tuples(_STARTS, st.binary(max_size=12)).map(b"".join), ectype=st.integers(-1, 6))
def test_an_events_payload_is_classified_as_classify_classifies_it(payload, ectype):
    """v1_event_record's own answer for an HTTP/1 rendering (types 1 and 3) is _classify's."""
    ev = SimpleNamespace(uuid="316_316_curl_5_1_127.0.0.1:46890-127.0.0.1:8443", pname="curl", src_ip="127.0.0.1",
                         src_port=46890, dst_ip="127.0.0.1", dst_port=8443, pid=316, type=ectype, timestamp=1795715801)
    rec = v1_event_record(ev, payload, "t.jsonl:1")
    assert (rec.payload, rec.form, rec.notes) == _classify(payload, ectype)
