"""End to end on small hand-built v1.x streams, for protocol doc items only unit tests or the samples covered:

- §10.5: ``length`` is the base64 length in v1.4.0–1.4.2 JSON and v1.4.3 gotls JSON, the byte length in protobuf,
  and sometimes neither: the bytes are always the decoded payload's, whatever ``length`` says;
- §10.6: timestamps in seconds (v1.4 JSON) and nanoseconds (protobuf) are told apart by magnitude, and a merged
  event is placed at its capture time (that of its last call), not at its receive time ≥1.1 s later;
- §10.19: ``pname`` is the name of the thread that made the call: one connection's calls under several thread
  names (one cut to 15 bytes) stay one connection, each entry names its own thread, ``--comm`` picks a connection
  by the thread that opened it;
- §11.6: v1.5.2 after a WebSocket upgrade re-renders ``GET /ws`` and its ``101`` at every idle flush: one exchange,
  while a polling client's identical bodiless requests, each answered, stay real;
- §10.13: v1.x renders only a flush's first response, so a ``100 Continue`` swallows the final answer of its flush:
  the next request's answer is its own, not taken as the final answer of the one before;
- §11.5: v2 sends one event per SSL call (≤ 16 KiB), the raw wire bytes: chunked framing and gzip are still there,
  and are neither "repaired" like v1.x's renderings nor lost;
- §11.15: on a server reusing one fd, the unknown-tuple uuid is shared by its connections: a call under it goes to
  the connection whose real-tuple calls follow, not to the one before.

HTTP/2 items are in test_protocol_gaps2_h2.py, the live replay (§10.3) in test_protocol_gaps2_live.py.

Each is converted through the CLI; the HAR is validated (schema and haralyzer), the pcapng read by tshark.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime

import pytest

from ecq2pcap.dialects.v15_proto import encode_event
from tests.support.cli import run_main
from tests.support.dissect import bad_expert, dissect, follow, syns
from tests.support.har import load_with_haralyzer, validate_har
from tests.test_convert_e2e import body_of

T0 = 1_800_000_000  # capture times (whole seconds, 2027-01-15)
S = 1_000_000_000
CLIENT, SERVER = ("10.0.0.1", 40000), ("10.0.0.2", 443)
TUPLE = f"{CLIENT[0]}:{CLIENT[1]}-{SERVER[0]}:{SERVER[1]}"


def uuid(pid: int, tid: int, comm: str, fd: int, sent: bool, tup: str = TUPLE) -> str:
    """A v1 openssl uuid (``sock:`` and the socket address stripped, as eCapture sends a known socket's)."""
    return f"{pid}_{tid}_{comm}_{fd}_{1 if sent else 0}_{tup}"


def json_line(ts: int, uid: str, pname: str, etype: int, payload: bytes, length: int | None = None,
              pid: int = 7) -> str:
    """A v1.4.0–1.4.2 JSON event (``length``: the base64 text's, as eCapture writes it, unless given)."""
    b64 = base64.b64encode(payload).decode()
    return json.dumps({"log_type": 2, "payload": {
        "timestamp": ts, "uuid": uid, "src_ip": CLIENT[0], "src_port": CLIENT[1], "dst_ip": SERVER[0],
        "dst_port": SERVER[1], "pid": pid, "pname": pname, "type": etype,
        "length": len(b64) if length is None else length, "payload_base64": b64}})


def binary_line(recv: float, frame: bytes) -> str:
    """A binary eCaptureQ message as a recording holds it, received at ``recv`` (epoch seconds)."""
    return json.dumps({"t": recv, "opcode": "binary", "data_b64": base64.b64encode(frame).decode()})


def proto_line(recv: float, ts_ns: int, uid: str, pname: str, etype: int, payload: bytes, pid: int = 7,
               **extra) -> str:
    """A v1.4.3+ protobuf event (``length`` the byte length unless given in ``extra``)."""
    return binary_line(recv, encode_event(timestamp=ts_ns, uuid=uid, src_ip=CLIENT[0], src_port=CLIENT[1],
                                          dst_ip=SERVER[0], dst_port=SERVER[1], pid=pid, pname=pname, type=etype,
                                          payload=payload, **extra))


def convert(tmp_path, lines: list[str], *options: str, name: str = "in.jsonl"):
    """``convert`` of ``lines`` through the CLI: (pcapng, HAR document (validated), stderr)."""
    dump = tmp_path / name
    dump.write_text("\n".join(lines) + "\n")
    pcap, har = tmp_path / f"{name}.pcapng", tmp_path / f"{name}.har"
    p = run_main("convert", str(dump), "-w", str(pcap), "--har", str(har), "--no-progress", *options, text=True)
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    doc = json.loads(har.read_text(encoding="utf-8"))
    validate_har(doc)
    assert len(load_with_haralyzer(doc)) == len(doc["log"]["entries"])
    return pcap, doc, p.stderr


def started(entry: dict) -> float:
    return datetime.fromisoformat(entry["startedDateTime"].replace("Z", "+00:00")).timestamp()


# -- §10.5: length semantics -------------------------------------------------------------------------------------

REQ = b"POST /up HTTP/1.1\r\nHost: len.example\r\nContent-Length: 16\r\n\r\n" + bytes(range(250, 256)) + b"\0" * 10
BODY = bytes(range(256)) * 3  # binary, NULs included: its base64 is 4/3 as long
RESP = b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n" % len(BODY) + BODY


def gotls_frame(ts_ns: int, sent: bool, payload: bytes, length: int) -> bytes:
    """eCapture v1.4.3's gotls event: ``Base.Encode()`` JSON, raw in a binary frame (protocol doc §5), its
    ``type`` 0 for a write, 1 for a read, ``length`` the base64 length, 127.0.0.1 placeholders."""
    b64 = base64.b64encode(payload).decode()
    return json.dumps({"timestamp": ts_ns, "uuid": "9_9_gohttp\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000"
                       "\u0000", "src_ip": "127.0.0.1", "src_port": 0, "dst_ip": "127.0.0.1", "dst_port": 0,
                       "pid": 9, "pname": "gohttp", "type": 0 if sent else 1, "length": length,
                       "payload": b64}).encode()


LENGTH_STREAMS = {
    # v1.4.2 JSON: length = the base64 text's (more than the bytes); the response's says a third of its bytes
    "v14_json": lambda: [json_line(T0, uuid(7, 7, "curl", 5, True), "curl", 1, REQ),
                         json_line(T0 + 1, uuid(7, 7, "curl", 5, False), "curl", 3, RESP, length=len(RESP) // 3)],
    # v1.5 protobuf: length = the byte length; the response's says 7
    "v15_proto": lambda: [proto_line(T0 + 2, T0 * S, uuid(7, 7, "curl", 5, True), "curl", 1, REQ),
                          proto_line(T0 + 3, T0 * S + S, uuid(7, 7, "curl", 5, False), "curl", 3, RESP, length=7)],
    # v1.4.3 gotls: raw JSON in binary frames, length = the base64 length; the response's is 0
    "v143_gotls": lambda: [binary_line(T0 + 2, gotls_frame(T0 * S, True, REQ, len(base64.b64encode(REQ)))),
                           binary_line(T0 + 3, gotls_frame(T0 * S + S, False, RESP, 0))],
}


@pytest.mark.parametrize("dialect", sorted(LENGTH_STREAMS))
def test_the_bytes_are_the_decoded_payloads_whatever_length_says(tmp_path, tshark, dialect):
    """§10.5: each TCP direction carries exactly the payload's bytes, the HAR the request's and response's bodies."""
    pcap, doc, err = convert(tmp_path, LENGTH_STREAMS[dialect]())
    [entry] = doc["log"]["entries"]
    assert (entry["request"]["method"], entry["response"]["status"]) == ("POST", 200)
    assert body_of(entry) == BODY and entry["response"]["content"]["size"] == len(BODY)
    post = entry["request"]["postData"]
    assert post["_encoding"] == "base64" and base64.b64decode(post["text"]) == REQ.split(b"\r\n\r\n", 1)[1]
    assert not any("_error" in e for e in doc["log"]["entries"])
    frames = dissect(tshark, pcap, payload=True)
    assert not bad_expert(frames)
    assert len(syns(frames)) == 1
    assert follow(frames, 0) == (REQ, RESP)
    assert [u for f in frames for u in f["http.request.uri"]] == ["/up"]
    assert [c for f in frames for c in f["http.response.code"]] == ["200"]
    assert "skipped             0" in err


# -- §10.6: timestamp units ----------------------------------------------------------------------------------------

GET = b"GET /t HTTP/1.1\r\nHost: time.example\r\n\r\n"
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def test_seconds_and_nanoseconds_are_told_apart_and_capture_time_wins_over_receive_time(tmp_path, tshark):
    """§10.6: v1.4 JSON counts seconds, protobuf nanoseconds; the same instant either way. A merged event arrives
    ≥1.1 s after its last call (here 5 s): its packets carry the capture time, not the receive time."""
    ns = T0 * S + 250_000_000  # 0.25 s into the second
    got = {}
    for name, lines in {
        "seconds": [json_line(T0, uuid(7, 7, "curl", 5, True), "curl", 1, GET),
                    json_line(T0 + 2, uuid(7, 7, "curl", 5, False), "curl", 3, OK)],
        "nanoseconds": [proto_line(T0 + 5, ns, uuid(7, 7, "curl", 5, True), "curl", 1, GET),
                        proto_line(T0 + 7, ns + 2 * S, uuid(7, 7, "curl", 5, False), "curl", 3, OK)],
    }.items():
        pcap, doc, _ = convert(tmp_path, lines, name=f"{name}.jsonl")
        [entry] = doc["log"]["entries"]
        frames = dissect(tshark, pcap)
        http = [f for f in frames if f.has("http")]
        assert [f.first("http.request.uri") or f.first("http.response.code") for f in http] == ["/t", "200"]
        got[name] = (started(entry), [float(f.first("frame.time_epoch")) for f in http], entry["time"])
        # every packet of the connection within its capture second(s), none at a receive time
        times = [float(f.first("frame.time_epoch")) for f in frames]
        assert T0 <= min(times) and max(times) < T0 + 3, (name, times)
    sec_start, sec_http, sec_time = got["seconds"]
    ns_start, ns_http, ns_time = got["nanoseconds"]
    assert abs(sec_start - T0) < 0.01 and abs(ns_start - (T0 + 0.25)) < 0.001
    assert abs(sec_http[0] - T0) < 0.01 and abs(sec_http[1] - (T0 + 2)) < 0.01
    assert abs(ns_http[0] - (T0 + 0.25)) < 0.001 and abs(ns_http[1] - (T0 + 2.25)) < 0.001
    assert abs(sec_time - 2000) < 10 and abs(ns_time - 2000) < 10  # (ms: the response 2 s after the request)


# -- §10.19: pname is a thread's name ------------------------------------------------------------------------------

THREADS = [  # (tid, comm, written by the process, bytes): the calls of pid 7's connection on fd 5, in order
    (70, "python3", True, b"GET /a HTTP/1.1\r\nHost: thr.example\r\n\r\n"),
    (71, "ThreadPoolExecu", False, b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na"),  # (cut to 15 bytes)
    (72, "Socket Thread", True, b"GET /b HTTP/1.1\r\nHost: thr.example\r\n\r\n"),
    (71, "ThreadPoolExecu", False, b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb"),
]


def thread_lines() -> list[str]:
    return [json_line(T0 + i, uuid(7, tid, comm, 5, sent), comm, 1 if sent else 3, data)
            for i, (tid, comm, sent, data) in enumerate(THREADS)]


def test_one_connection_under_several_thread_names_stays_one_and_each_entry_names_its_thread(tmp_path, tshark):
    pcap, doc, _ = convert(tmp_path, thread_lines())
    entries = doc["log"]["entries"]
    assert [(e["request"]["url"], body_of(e)) for e in entries] == [("https://thr.example/a", b"a"),
                                                                   ("https://thr.example/b", b"b")]
    assert len({e["connection"] for e in entries}) == 1
    # each entry: the thread that carried its first bytes (the request's)
    assert [e["_ecapture"]["comm"] for e in entries] == ["python3", "Socket Thread"]
    assert all(e["_ecapture"]["pid"] == 7 for e in entries)
    frames = dissect(tshark, pcap)
    assert len(syns(frames)) == 1 and len({f.first("tcp.stream") for f in frames}) == 1
    assert [u for f in frames for u in f["http.request.uri"]] == ["/a", "/b"]
    comments = " ".join(c for f in frames for c in f["frame.comment"])
    for _, comm, _, _ in THREADS:
        assert comm in comments


@pytest.mark.parametrize("comm, kept", [("python3", True), ("python*", True), ("ThreadPoolExecu", False),
                                         ("Socket Thread", False)])
def test_comm_selects_a_connection_by_the_thread_that_opened_it(tmp_path, tshark, comm, kept):
    """The whole connection, the other threads' calls too, or nothing of it."""
    pcap, doc, err = convert(tmp_path, thread_lines(), "--comm", comm)
    frames = dissect(tshark, pcap)
    if kept:
        assert len(doc["log"]["entries"]) == 2
        assert [u for f in frames for u in f["http.request.uri"]] == ["/a", "/b"]
        assert [c for f in frames for c in f["http.response.code"]] == ["200", "200"]
    else:
        assert doc["log"]["entries"] == [] and frames == []
        assert "filtered out" in err


# -- §11.6: stale re-emits after a WebSocket upgrade ---------------------------------------------------------------

UPGRADE = (b"GET /ws HTTP/1.1\r\nHost: ws.example\r\nConnection: Upgrade\r\nSec-Websocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n"
           b"Sec-Websocket-Version: 13\r\nUpgrade: websocket\r\n\r\n")
SWITCH = (b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-Websocket-Accept: ICX+Yqv66kxgM0FcWaLWlFLwTAI="
          b"\r\nUpgrade: websocket\r\n\r\n")
POLL = b"GET /poll HTTP/1.1\r\nHost: ws.example\r\n\r\n"
NO_CONTENT = b"HTTP/1.1 204 No Content\r\n\r\n"
POLL_TUPLE = f"{CLIENT[0]}:{CLIENT[1] + 1}-{SERVER[0]}:{SERVER[1]}"


def reemit_lines(flushes: int) -> list[str]:
    """v1.5.2: the upgrade, then ``flushes`` idle flushes of WebSocket bytes each way, rendered by the persistent
    HTTP/1 parsers as the stale request and 101 (2 s apart, received 1.2 s after); beside it, on fd 6, a client
    polling twice, byte-identical bodiless requests, each answered (real)."""
    ws_out, ws_in = uuid(7, 7, "wsclient", 5, True), uuid(7, 7, "wsclient", 5, False)
    poll_out, poll_in = (uuid(7, 8, "poller", 6, True, POLL_TUPLE), uuid(7, 8, "poller", 6, False, POLL_TUPLE))
    lines = [proto_line(T0 + 1.2, T0 * S, ws_out, "wsclient", 1, UPGRADE),
             proto_line(T0 + 1.3, T0 * S + 1000, ws_in, "wsclient", 3, SWITCH)]
    for i in range(1, flushes + 1):
        t = T0 * S + 2 * i * S
        lines += [proto_line(T0 + 2 * i + 1.2, t, ws_out, "wsclient", 1, UPGRADE),
                  proto_line(T0 + 2 * i + 1.3, t + 1000, ws_in, "wsclient", 3, SWITCH)]
    for t in (T0 * S + S // 2, T0 * S + 5 * S):
        lines += [proto_line(t / S + 1.2, t, poll_out, "poller", 1, POLL),
                  proto_line(t / S + 1.3, t + 1000, poll_in, "poller", 3, NO_CONTENT)]
    return sorted(lines, key=lambda line: json.loads(line)["t"])  # (in receive order)


def test_v152_re_renders_of_the_upgrade_at_every_idle_flush_are_one_exchange(tmp_path, tshark):
    flushes = 3
    pcap, doc, err = convert(tmp_path, reemit_lines(flushes))
    entries = doc["log"]["entries"]
    got = sorted((e["request"]["url"], e["response"]["status"]) for e in entries)
    assert got == [("https://ws.example/poll", 204), ("https://ws.example/poll", 204),
                   ("https://ws.example/ws", 101)]
    assert not any("not captured" in e.get("_error", "") for e in entries)
    [upgrade] = [e for e in entries if e["request"]["url"].endswith("/ws")]
    assert "_webSocketMessages" not in upgrade or upgrade["_webSocketMessages"] == []
    frames = dissect(tshark, pcap, payload=True)
    assert not bad_expert(frames)
    # the upgrade's connection carries the upgrade and its 101 once each, and nothing read as WebSocket frames
    [ws_stream] = {f.first("tcp.stream") for f in frames if "/ws" in f["http.request.uri"]}
    assert follow(frames, int(ws_stream)) == (UPGRADE, SWITCH)
    assert not any(f.has("websocket") for f in frames)
    assert "not WebSocket" not in err
    uris = sorted(u for f in frames for u in f["http.request.uri"])
    assert uris == ["/poll", "/poll", "/ws"]
    assert sorted(c for f in frames for c in f["http.response.code"]) == ["101", "204", "204"]
    assert f"stale re-emits left out {2 * flushes}" in err


# -- §11.15: the unknown-tuple uuid shared by the connections of a reused fd ---------------------------------------

UNKNOWN = "sock:80_80_nginx_3_0_0.0.0.0:0-0.0.0.0:0_0"  # (nginx's reads on fd 3 before eCapture knew the socket)


def reused_fd_lines() -> list[str]:
    """eCapture v1.5 on nginx (pid 80): three connections in turn on fd 3, 3 s apart. The first's request is read
    under its real tuple; the next two's under the one unknown-tuple uuid, each flushed after its connection's
    answer (written under the real tuple) was received. Every answer names its request."""
    lines = []
    for i, name in enumerate("abc"):
        tup = f"10.0.0.9:{50001 + i}-10.0.0.1:443"
        t = (T0 + 3 * i) * S
        request = b"GET /%s HTTP/1.1\r\nHost: reuse.example\r\n\r\n" % name.encode()
        answer = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n" + name.upper().encode()
        read = proto_line(T0 + 3 * i + 1.2, t, UNKNOWN if i else uuid(80, 80, "nginx", 3, False, tup), "nginx", 1,
                          request, pid=80)
        wrote = proto_line(T0 + 3 * i + 1.15, t + S // 100, uuid(80, 80, "nginx", 3, True, tup), "nginx", 3, answer,
                           pid=80)
        lines += [read, wrote] if i == 0 else [wrote, read]
    return lines


def test_calls_under_the_shared_unknown_tuple_uuid_go_to_the_connection_whose_calls_follow(tmp_path, tshark):
    pcap, doc, err = convert(tmp_path, reused_fd_lines())
    entries = doc["log"]["entries"]
    got = sorted((e["request"]["url"], body_of(e)) for e in entries)
    assert got == [("https://reuse.example/a", b"A"), ("https://reuse.example/b", b"B"),
                   ("https://reuse.example/c", b"C")]
    assert len({e["connection"] for e in entries}) == 3 and not any("_error" in e for e in entries)
    frames = dissect(tshark, pcap, payload=True)
    assert not bad_expert(frames)
    opened = sorted((f.first("tcp.srcport"), f.first("tcp.stream")) for f in syns(frames))
    assert [port for port, _ in opened] == ["50001", "50002", "50003"]
    for (port, stream), name in zip(opened, "abc"):
        c2s, s2c = follow(frames, int(stream))
        assert c2s == b"GET /%s HTTP/1.1\r\nHost: reuse.example\r\n\r\n" % name.encode(), port
        assert s2c.endswith(b"\r\n\r\n" + name.upper().encode()), port
    assert "request not captured" not in err


# -- §11.5: v2's calls carry the raw wire bytes --------------------------------------------------------------------

def test_v2_calls_are_the_wire_bytes_chunked_and_gzipped_as_sent(tmp_path, tshark):
    """A chunked, gzipped response of ~40 KB read in calls of at most 16,384 bytes: the pcapng carries the bytes
    exactly as sent (no v1.x framing repair), Wireshark reassembles and dissects it, the HAR body is decoded."""
    import gzip
    import random

    from tests.support.v2_stream import V2Stream

    rng = random.Random(5)
    plain = bytes(rng.choice(b"abcdefgh \n") for _ in range(60000))
    packed = gzip.compress(plain, mtime=0)
    chunks = [packed[i:i + 7000] for i in range(0, len(packed), 7000)]
    body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
    response = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Encoding: gzip\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n" + body)
    request = b"GET /raw HTTP/1.1\r\nHost: v2.example\r\nAccept-Encoding: gzip\r\n\r\n"
    s = V2Stream(start=T0)
    s.connect(11, 6, "curl", CLIENT, SERVER)
    s.call(11, 6, "curl", True, request)
    for i in range(0, len(response), 16384):
        s.call(11, 6, "curl", False, response[i:i + 16384])
    pcap, doc, err = convert(tmp_path, s.dump().decode().splitlines())
    [entry] = doc["log"]["entries"]
    assert "_error" not in entry, entry.get("_error")
    assert (entry["request"]["url"], entry["response"]["status"]) == ("https://v2.example/raw", 200)
    assert body_of(entry) == plain and entry["response"]["content"]["size"] == len(plain)
    frames = dissect(tshark, pcap, payload=True)
    assert not bad_expert(frames)
    assert follow(frames, 0) == (request, response)  # (as sent: chunked, gzipped, nothing rewritten)
    assert [c for f in frames for c in f["http.response.code"]] == ["200"]
    assert "framing repaired" not in " ".join(c for f in frames for c in f["frame.comment"])


# -- §10.13: the final response after a 1xx, lost in the 1xx's flush ----------------------------------------------

def test_a_final_answer_swallowed_by_its_100_continue_is_said_lost_and_the_next_answer_is_the_next_requests(
        tmp_path, tshark):
    post = b"POST /up HTTP/1.1\r\nHost: c.example\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello"
    nxt = b"GET /next HTTP/1.1\r\nHost: c.example\r\n\r\n"
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext"
    out, into = uuid(7, 7, "curl", 5, True), uuid(7, 7, "curl", 5, False)
    lines = [proto_line(T0 + 1.2, T0 * S, out, "curl", 1, post),
             # (the 100 and the final 201 in one flush: only the 100 is rendered)
             proto_line(T0 + 1.3, T0 * S + 1000, into, "curl", 3, b"HTTP/1.1 100 Continue\r\n\r\n"),
             proto_line(T0 + 4.2, T0 * S + 3 * S + 5000, out, "curl", 1, nxt),
             proto_line(T0 + 4.3, T0 * S + 3 * S + 9000, into, "curl", 3, answer)]
    pcap, doc, err = convert(tmp_path, lines)
    up, after = doc["log"]["entries"]
    assert (up["request"]["url"], after["request"]["url"]) == ("https://c.example/up", "https://c.example/next")
    assert (after["response"]["status"], body_of(after)) == (200, b"next") and "_error" not in after
    assert up["response"]["status"] != 200 and "final response not captured" in up["_error"]
    frames = dissect(tshark, pcap)
    assert not bad_expert(frames)
    http = [(f.first("http.request.uri") or f.first("http.response.code")) for f in frames if f.has("http")]
    assert http == ["/up", "100", "/next", "200"]
    assert "final response not captured" in err
