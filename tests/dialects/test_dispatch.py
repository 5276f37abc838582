"""Per-message dialect detection (protocol doc §0, §10.1) over the shared sample streams."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from collections import Counter

import pytest

from ecq2pcap import dialects
from ecq2pcap.dialects.v15_proto import encode_event, encode_heartbeat, encode_run_log
from ecq2pcap.model import (
    Annotation,
    Capture,
    ConnectInfo,
    DecodeError,
    Heartbeat,
    Message,
    Opcode,
    PayloadForm,
    ProcessLog,
)


def _frames(samples_dir, name):
    with gzip.open(samples_dir / f"{name}.frames.jsonl.gz", "rt") as fh:
        for n, line in enumerate(fh, 1):
            d = json.loads(line)
            yield d["k"], Message(base64.b64decode(d["data_b64"]), Opcode(d["opcode"]), f"{name}:{n}",
                                  int(d["t"] * 1e9))


@pytest.mark.parametrize("name", ["v15_client", "v15_client_pace", "v2_client", "v140_client"])
def test_every_sample_message_decodes(samples_dir, name):
    expected = json.loads((samples_dir / f"{name}.expected.json").read_text())
    counts = Counter()
    for label, msg in _frames(samples_dir, name):
        records = dialects.decode(msg)  # no DecodeError anywhere
        assert len(records) == 1
        rec = records[0]
        kind = {Heartbeat: "hb", ProcessLog: "log", Capture: "event", ConnectInfo: "event"}[type(rec)]
        assert kind == label or (kind, label) == ("log", "replay")  # the label is only a cross-check
        counts[type(rec).__name__] += 1
    c = expected["counts"]
    assert counts["Heartbeat"] == c["heartbeats"]
    assert counts["ProcessLog"] == c["replay_logs"] + c["live_logs"]
    assert counts["Capture"] + counts["ConnectInfo"] == c["events"]
    assert sum(counts.values()) == c["messages"]


@pytest.mark.parametrize("name", ["v15_client", "v15_client_pace"])
def test_v15_events_match_expected_connections(samples_dir, name):
    expected = json.loads((samples_dir / f"{name}.expected.json").read_text())
    by_uuid = {u: c for c in expected["connections"] for u in c["uuids"]}
    types = Counter()
    responses = []
    for _, msg in _frames(samples_dir, name):
        (rec,) = dialects.decode(msg)
        if not isinstance(rec, Capture):
            continue
        types[str(rec.ectype)] += 1
        assert rec.timestamp_ns > 1_700_000_000 * 10**9  # nanoseconds
        conn = by_uuid[rec.uuid]
        assert (rec.pid, rec.fd, rec.comm) == (conn["pid"], conn["fd"], conn["comm"])
        assert rec.tid in conn["tids"]
        assert (f"{rec.tuple.src_ip}:{rec.tuple.src_port}", f"{rec.tuple.dst_ip}:{rec.tuple.dst_port}") == (
            conn["client"], conn["server"])
        assert rec.form is {"1": PayloadForm.HTTP1_RENDERED, "3": PayloadForm.HTTP1_RENDERED,
                            "4": PayloadForm.H2_DUMP}[str(rec.ectype)]
        if rec.ectype == 3:
            head, _, body = rec.payload.partition(b"\r\n\r\n")
            responses.append((conn["conn"], int(head.split()[1]), hashlib.sha256(body).hexdigest()))
    assert types == Counter(expected["counts"]["events_by_type"])
    for x in expected["exchanges"]:
        if x["http_version"] == "HTTP/1.1" and x["response_body_sha256"]:
            assert (x["conn"], x["status"], x["response_body_sha256"]) in responses


def test_text_frame_is_v14_json():
    text = b'{"log_type":0,"payload":{"timestamp":1795715799,"count":2,"message":"heartbeat:2"}}'
    assert dialects.decode(Message(text, Opcode.TEXT, "d:1")) == [
        Heartbeat(1_795_715_799 * 10**9, 2, "heartbeat:2", "d:1")]
    for bad in (b"PID:1 hello", b'{"log_type":2,"payload":{"uuid":"\x83"}}', b'{"log_type":1,"payload":{"a":"\xff"}}'):
        with pytest.raises(DecodeError):
            dialects.decode(Message(bad, Opcode.TEXT, "d:2"))


@pytest.mark.parametrize("where", ["log_type 1 payload", "event payload", "envelope"])
def test_json_nested_past_the_depth_limit_is_an_ordinary_decode_error(where):
    """msgspec raises RecursionError for JSON nested ~1,000 deep: the run called it an internal error of ours."""
    deep = b"[" * 100_000 + b"]" * 100_000
    line = {"log_type 1 payload": b'{"log_type":1,"payload":' + deep + b"}",
            "event payload": b'{"log_type":2,"payload":{"uuid":' + deep + b"}}",
            "envelope": b'{"log_type":1,"payload":{},"x":' + deep + b"}"}[where]
    with pytest.raises(DecodeError, match="nested too deeply"):
        dialects.decode(Message(line, Opcode.TEXT, "d:2"))


def test_binary_frames_protobuf_then_raw_text():
    m = lambda data: Message(data, Opcode.BINARY, "d:3", 10**9)  # noqa: E731
    assert isinstance(dialects.decode(m(encode_heartbeat(5)))[0], Heartbeat)
    assert isinstance(dialects.decode(m(encode_run_log('{"a":1}\n')))[0], ProcessLog)
    assert isinstance(dialects.decode(m(encode_event(payload=b"PID:0, Comm:, TID:0, FD:0, Tuple: [::]:0->[::]:0\n")))[0],
                      ConnectInfo)
    (ann,) = dialects.decode(m(b"PID:1, UID:0, \tComm:bash\0\0\0\0\0\0\0\0\0\0\0\0, \tRetvalue:0, \tLine:\nid"))
    assert isinstance(ann, Annotation) and ann.kind == "bash" and ann.text == "id"
    (ann,) = dialects.decode(m(b"an unknown text"))
    assert ann.kind == "text"
    for garbage in (b"", b"\xff\x00\x13" * 50):
        with pytest.raises(DecodeError):
            dialects.decode(m(garbage))
