"""End to end: `ecq2pcap convert` on every shipped stream, read back by real consumers.

tshark reads the pcapng (HTTP/1, HTTP/2 and WebSocket dissection, expert info, stream
reassembly), scapy reads it independently, the HAR is validated against the HAR 1.2 schema
and loaded by haralyzer, and what comes out is compared with the sample's expected file —
written from the real traffic, not from ecq2pcap. Streams built by hand, each for one finding,
are in test_convert_e2e_made_up.py.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
from pathlib import Path

import pytest

from ecq2pcap.cli import main
from tests.conftest import FIXTURES, run_tshark
from tests.support.dissect import (assert_exchanges_dissected, bad_expert, dissect, follow, syns,
                                   websocket_data_frames)
from tests.support.har import load_with_haralyzer, validate_har

SAMPLE_STREAMS = [
    "v140_client.dump.jsonl.gz",
    "v140_client.frames.jsonl.gz",
    "v15_client.frames.jsonl.gz",
    "v15_client_pace.frames.jsonl.gz",
    "v2_client.frames.jsonl.gz",
    # server side (nginx): one pid, one fd reused by every connection, requests are reads
    "v140_server.dump.jsonl.gz",
    "v140_server.frames.jsonl.gz",
    "v15_server.frames.jsonl.gz",
    "v2_server.frames.jsonl.gz",
]

def convert(tmp_path: Path, *inputs: Path, extra: tuple[str, ...] = ()) -> tuple[Path, Path, dict]:
    pcap, har = tmp_path / "out.pcapng", tmp_path / "out.har"
    code = main(["convert", *map(str, inputs), "-w", str(pcap), "--har", str(har), "-q", *extra])
    assert code == 0
    doc = json.loads(har.read_text(encoding="utf-8"))
    return pcap, har, doc


def body_of(entry: dict) -> bytes:
    c = entry["response"]["content"]
    text = c.get("text", "")
    return base64.b64decode(text) if c.get("encoding") == "base64" else text.encode("utf-8")


def converted(conversions, *inputs: Path, extra: tuple[str, ...] = ()):
    done = conversions(*inputs, extra=("-q", *extra))
    assert done.code == 0, done.stderr
    return done


def expected_for(samples_dir: Path, stream: str) -> dict:
    return json.loads((samples_dir / (stream.split(".")[0] + ".expected.json")).read_text())


def find_entries(entries: list[dict], ex: dict) -> list[dict]:
    def same(e: dict) -> bool:
        if e["response"]["status"] != ex["status"] or e["response"]["httpVersion"] != ex["http_version"]:
            return False
        if ex.get("h2_stream_id") is not None and e.get("_streamId") != ex["h2_stream_id"]:
            return False
        if ex.get("has_request", True):
            return e["request"]["method"] == ex["method"] and e["request"]["url"] == ex["url"]
        return True

    return [e for e in entries if same(e)]


def check_body(entry: dict, ex: dict) -> None:
    if ex.get("body") != "intact":
        return
    assert entry["response"]["content"]["size"] == ex["response_body_length"]
    if ex.get("response_body_sha256"):
        assert hashlib.sha256(body_of(entry)).hexdigest() == ex["response_body_sha256"]


@pytest.mark.parametrize("stream", SAMPLE_STREAMS)
def test_sample_har_matches_expected(samples_dir, conversions, stream):
    expected = expected_for(samples_dir, stream)
    doc = converted(conversions, samples_dir / stream).doc()
    validate_har(doc)
    entries = doc["log"]["entries"]
    assert len(load_with_haralyzer(doc)) == len(entries)

    for ex in expected["exchanges"]:
        found = find_entries(entries, ex)
        assert len(found) == 1, f"{ex['truth_id']} ({ex['method']} {ex['url']}): {len(found)} entries"
        e = found[0]
        assert "_error" not in e, (ex["truth_id"], e.get("_error"))
        assert e["request"]["httpVersion"] == ex["http_version"]
        if ex.get("content_type"):
            assert e["response"]["content"]["mimeType"].startswith(ex["content_type"])
        check_body(e, ex)
        assert e["_ecapture"]["pid"] == next(c["pid"] for c in expected["connections"] if c["conn"] == ex["conn"])

    for ex in expected["partial_exchanges"]:
        found = find_entries(entries, ex)
        assert len(found) == 1, f"partial {ex['truth_id']}: {len(found)} entries"
        assert "not captured" in found[0]["_error"]  # marked, never passed off as complete
        check_body(found[0], ex)

    # stale re-emits and lost messages never become entries of their own
    assert len(entries) == len(expected["exchanges"]) + len(expected["partial_exchanges"])


@pytest.mark.parametrize("stream", SAMPLE_STREAMS)
def test_sample_websocket_messages(samples_dir, conversions, stream):
    expected = expected_for(samples_dir, stream)["websocket_messages"]
    doc = converted(conversions, samples_dir / stream).doc()
    got = []
    for e in doc["log"]["entries"]:
        for m in e.get("_webSocketMessages", []):
            data = m["data"].encode() if m["opcode"] == 1 else base64.b64decode(m["data"])
            got.append(("c2s" if m["type"] == "send" else "s2c", m["opcode"], hashlib.sha256(data).hexdigest()))
    want = [(m["dir"], m["opcode"], m["sha256"]) for m in expected]
    for d in ("c2s", "s2c"):  # order within each direction
        assert [g for g in got if g[0] == d] == [w for w in want if w[0] == d]


@pytest.mark.parametrize("stream", SAMPLE_STREAMS)
def test_sample_pcapng_in_tshark(samples_dir, conversions, tshark, stream):
    expected = expected_for(samples_dir, stream)
    frames = dissect(tshark, converted(conversions, samples_dir / stream).pcap)
    assert not bad_expert(frames)

    assert_exchanges_dissected(frames, expected["exchanges"] + expected["partial_exchanges"])
    data_messages = [m for m in expected["websocket_messages"] if m["opcode"] in (1, 2)]
    assert websocket_data_frames(frames) == len(data_messages)


def test_sample_pcapng_reads_in_scapy(samples_dir, conversions):
    from scapy.layers.inet import TCP
    from scapy.utils import rdpcap

    packets = rdpcap(str(converted(conversions, samples_dir / "v2_client.frames.jsonl.gz").pcap))
    assert len(packets) > 500
    syns = [p for p in packets if TCP in p and p[TCP].flags == "S"]
    assert len(syns) == len(expected_for(samples_dir, "v2_client")["connections"])


def test_follow_tcp_gives_the_stream(samples_dir, conversions, tshark):
    """The real ``-z follow,tcp,raw`` (Wireshark's reassembly), and the same bytes from the frames' payloads
    (tests/support/dissect.follow, which the sink tests use instead of a tshark run per stream)."""
    pcap = converted(conversions, samples_dir / "v2_client.frames.jsonl.gz").pcap
    out = run_tshark(tshark, pcap, "-q", "-z", "follow,tcp,raw,0")
    c2s, s2c = b"", b""
    for line in out.split("=" * 67)[1].splitlines():
        if re.fullmatch(r"\t?[0-9a-f]+", line):
            if line.startswith("\t"):
                s2c += bytes.fromhex(line[1:])
            else:
                c2s += bytes.fromhex(line)
    assert b"GET / HTTP/1.1\r\n" in c2s and b"GET /data.json HTTP/1.1\r\n" in c2s
    assert s2c.startswith(b"HTTP/1.1 200 OK\r\n")
    assert follow(dissect(tshark, pcap, payload=True), 0) == (c2s, s2c)


def test_keep_ports_keeps_real_port(samples_dir, conversions, tshark):
    pcap = converted(conversions, samples_dir / "v2_client.frames.jsonl.gz", extra=("--keep-ports",)).pcap
    assert {f.first("tcp.dstport") for f in syns(dissect(tshark, pcap))} == {"8443"}


def test_keep_ports_keeps_the_port_map_s_entries(samples_dir, conversions, tshark):
    """--port-map with --keep-ports: the map was dropped unsaid (8443 shown, and Wireshark decoded no HTTP/2 there).
    Its ports are shown as it says, the others kept."""
    pcap = converted(conversions, samples_dir / "v2_client.frames.jsonl.gz",
                     extra=("--keep-ports", "--port-map", "8443:8080")).pcap
    frames = dissect(tshark, pcap)
    assert {f.first("tcp.dstport") for f in syns(frames)} == {"8080"}
    assert any("http2" in (f.first("frame.protocols") or "") for f in frames)  # (Wireshark decodes HTTP/2 on it)


# -- the hand-made edge-case stream (fixtures/build_edge_cases.py) -------------------------


@pytest.fixture(scope="module")
def edge(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("edge")
    pcap, har = tmp / "edge.pcapng", tmp / "edge.har"
    code = main(["convert", str(FIXTURES / "v140_edge_cases.jsonl"), "-w", str(pcap), "--har", str(har), "-q"])
    expected = json.loads((FIXTURES / "v140_edge_cases.expected.json").read_text())
    return code, pcap, json.loads(har.read_text(encoding="utf-8")), expected


def test_edge_cases_exit_code_and_strict(edge, tmp_path):
    code, *_ = edge
    assert code == 0  # bad lines are skipped, the rest converts
    strict = main(["convert", str(FIXTURES / "v140_edge_cases.jsonl"), "--har", str(tmp_path / "x.har"), "-q", "--strict"])
    assert strict == 1


def test_edge_cases_bad_lines_reported(tmp_path, capsys):
    main(["convert", str(FIXTURES / "v140_edge_cases.jsonl"), "--har", str(tmp_path / "x.har")])
    err = capsys.readouterr().err
    name = str(FIXTURES / "v140_edge_cases.jsonl")
    lines = (FIXTURES / "v140_edge_cases.jsonl").read_text().splitlines()
    for marker, reason in [('"@@@"', "base64"), ("this is not json", "invalid JSON"), ('{"timestamp":1,', "uuid")]:
        line_no = next(i for i, line in enumerate(lines, 1) if marker in line)
        [said] = [e for e in err.splitlines() if f"{name}:{line_no}: " in e]
        assert reason in said
    assert re.search(r"skipped\s+3\n", err)
    assert "Traceback" not in err


def test_edge_cases_har(edge):
    _, _, doc, expected = edge
    validate_har(doc)
    load_with_haralyzer(doc)
    entries = doc["log"]["entries"]
    assert len(entries) == len(expected["exchanges"])
    for ex in expected["exchanges"]:
        found = [e for e in entries if e["request"]["method"] == ex["method"] and e["request"]["url"] == ex["url"]]
        assert len(found) == 1, ex
        e = found[0]
        assert e["response"]["status"] == ex["status"]
        assert "_error" not in e, e.get("_error")
        assert e["response"]["content"]["size"] == ex["response_body_length"]
        assert hashlib.sha256(body_of(e)).hexdigest() == ex["response_body_sha256"]
        if "request_body" in ex:
            assert e["request"]["postData"]["text"] == ex["request_body"]


def test_edge_cases_connections_in_pcapng(edge, tshark):
    _, pcap, _, expected = edge
    frames = dissect(tshark, pcap)
    rows = ["\t".join([f.first("ip.src"), f.first("ipv6.src"), f.first("tcp.srcport"), *f["frame.comment"]])
            for f in syns(frames)]
    assert len(rows) == len(expected["connections"])
    text = "\n".join(rows)
    for name, c in expected["connections"].items():
        if c.get("synthetic"):
            row = next(r for r in rows if f"pid {c['pid']} " in r)
            assert "192.0.2." in row and ("never gave" in row or "no socket tuple" in row)
        else:
            host, port = c["client"].rsplit(":", 1)
            assert host.strip("[]") in text and port in text, name
    # the server-side capture (B) marks the client's bytes inbound; IPv6 (A) dissects as HTTP
    methods = {m for f in frames for m in f["http.request.method"]}
    codes = {c for f in frames for c in f["http.response.code"]}
    assert "POST" in methods and {"201", "204", "101"} <= codes
    assert not bad_expert(frames)


def test_edge_cases_websocket_frame_after_hexdump(edge, tshark):
    _, pcap, doc, expected = edge
    first = next(f for f in dissect(tshark, pcap) if f.has("websocket"))
    assert (first.first("websocket.opcode"), first.flag("websocket.mask")) == ("1", True)  # the hex-dumped client text frame, masked
    [upgrade] = [e for e in doc["log"]["entries"] if e["response"]["status"] == 101]
    msgs = upgrade["_webSocketMessages"]
    assert [(m["type"], m["opcode"], m["data"]) for m in msgs] == [("send", 1, "hello")]


def test_length_delimited_protobuf_file_converts_like_the_frames(samples_dir, tmp_path):
    from ecq2pcap.dialects.v15_proto import delimit

    frames = samples_dir / "v15_client.frames.jsonl.gz"
    with gzip.open(frames) as f:
        entries = [base64.b64decode(json.loads(line)["data_b64"]) for line in f]
    pb = tmp_path / "dump.pb"
    pb.write_bytes(b"".join(delimit(e) for e in entries))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _, _, from_frames = convert(tmp_path / "a", frames)
    _, _, from_pb = convert(tmp_path / "b", pb)
    assert from_pb["log"]["entries"] == from_frames["log"]["entries"]
    assert len(from_pb["log"]["entries"]) == 9


def test_http2_whose_start_was_not_captured(samples_dir, tmp_path, tshark):
    """v2 stream with the client's first two HTTP/2 writes (preface + SETTINGS, then the first
    HEADERS) cut: the HPACK state is unknown, the preface must be synthesized."""
    from ecq2pcap.dialects import decode
    from ecq2pcap.model import Capture, Message, Opcode

    src = samples_dir / "v2_client.frames.jsonl.gz"
    kept, dropped, h2_conn = [], 0, None
    with gzip.open(src) as f:
        for line in f:
            frame = json.loads(line)
            msg = Message(base64.b64decode(frame["data_b64"]), Opcode(frame["opcode"]), "x")
            caps = [r for r in decode(msg) if isinstance(r, Capture)]
            if caps and caps[0].payload.startswith(b"PRI * HTTP/2.0"):
                h2_conn = (caps[0].pid, caps[0].fd, caps[0].data_type)
            if caps and dropped < 2 and h2_conn == (caps[0].pid, caps[0].fd, caps[0].data_type):
                dropped += 1
                continue
            kept.append(line)
    assert dropped == 2
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(gzip.compress(b"".join(kept)))
    pcap, _, doc = convert(tmp_path, cut)
    validate_har(doc)
    h2 = [e for e in doc["log"]["entries"] if e.get("_streamId")]
    assert sorted(e["_streamId"] for e in h2) == [1, 3, 5, 7, 9, 11]
    first = next(e for e in h2 if e["_streamId"] == 1)
    assert "not captured" in first["_error"]  # its request headers were in the cut write
    assert all(e["response"]["status"] in (200, 301, 404) for e in h2)
    frames = dissect(tshark, pcap)
    assert len([f for f in frames if any("synthetic HTTP/2 connection preface" in c for c in f["frame.comment"])]) == 1
    assert {"200", "301", "404"} <= {s for f in frames if "1" in f["http2.type"] for s in f["http2.headers.status"]}
