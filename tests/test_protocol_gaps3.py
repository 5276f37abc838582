"""Edge cases of the protocol doc that the code handled and no test held (an audit of §10 and §11 against the tests):
each one end to end, through tshark and the HAR."""

from __future__ import annotations

import base64
import json

from fixtures.encoders import go_hex_dump
from tests.support.dissect import dissect
from tests.support.har import validate_har
from tests.test_convert_e2e import body_of, convert

T0 = 1_795_800_000
TUPLE = "10.0.0.1:40000-10.0.0.2:443"


def event(t: int, outbound: bool, ectype: int, payload: bytes, *, pid: int = 70, comm: str = "curl",
          tup: str = TUPLE) -> str:
    """A v1.4 JSON event of fd 5 (outbound: the process wrote it)."""
    src, dst = tup.split("-")
    b64 = base64.b64encode(payload).decode()
    return json.dumps({"log_type": 2, "payload": {
        "timestamp": t, "uuid": f"{pid}_{pid}_{comm}_5_{1 if outbound else 0}_{tup}", "src_ip": src.split(":")[0],
        "src_port": int(src.split(":")[1]), "dst_ip": dst.split(":")[0], "dst_port": int(dst.split(":")[1]),
        "pid": pid, "pname": comm, "type": ectype, "length": len(b64), "payload_base64": b64}})


def dump_frame(kind: str, sid: int, body: bytes = b"", fields: tuple[tuple[str, str], ...] = ()) -> bytes:
    """One frame of eCapture v1's HTTP/2 text dump (§10.14)."""
    out = b"\nFrame Type\t=>\t%s\nFrame StreamID\t=>\t%d\nFrame Length\t=>\t%d\n" % (kind.encode(), sid, len(body) or 9)
    return out + b"".join(b'header field "%s" = "%s"\n' % (k.encode(), v.encode()) for k, v in fields) + \
        (body + b"\n" if body else b"")


def _convert(tmp_path, lines: list[str]):
    dump = tmp_path / "in.jsonl"
    dump.write_text("\n".join(lines) + "\n")
    pcap, _, doc = convert(tmp_path, dump)
    validate_har(doc)
    return pcap, doc


def test_v1_hex_flag_renders_http1_as_go_hex_dumps(tmp_path, tshark):
    """§10.15: under v1's --hex every openssl payload is a Go hex.Dump, types 1 and 3 too: reversed, then read as
    HTTP/1 (and said in the packet comments)."""
    request = b"GET /hexed HTTP/1.1\r\nHost: hx.example\r\nAccept: */*\r\n\r\n"
    response = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello"
    pcap, doc = _convert(tmp_path, [event(T0, True, 1, go_hex_dump(request)),
                                    event(T0 + 1, False, 3, go_hex_dump(response))])
    [entry] = doc["log"]["entries"]
    assert (entry["request"]["url"], entry["response"]["status"], body_of(entry)) == \
        ("https://hx.example/hexed", 200, b"hello")
    http = [f for f in dissect(tshark, pcap) if f.has("http")]
    assert [f.first("http.request.uri") or f.first("http.response.code") for f in http] == ["/hexed", "200"]
    assert b"payload was a Go hex dump" in pcap.read_bytes()


def test_a_preface_cut_at_its_settings_nul_gives_one_preface(tmp_path, tshark):
    """§10.15: a printable type 0 payload may be cut at a NUL: the client's preface alone (the SETTINGS frame after
    it starts with one), then its dumps. One connection preface on the wire, and the exchange read."""
    pcap, doc = _convert(tmp_path, [
        event(T0, True, 0, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
        event(T0 + 1, True, 4, dump_frame("HEADERS", 1, fields=((":method", "GET"), (":path", "/p"),
                                                                 (":scheme", "https"), (":authority", "p.example")))),
        event(T0 + 1, False, 4, dump_frame("SETTINGS", 0) + dump_frame("HEADERS", 1, fields=((":status", "200"),))
              + dump_frame("DATA", 1, b"body"))])
    frames = dissect(tshark, pcap)
    assert sum(len(f["http2.magic"]) for f in frames) == 1
    [entry] = doc["log"]["entries"]
    assert (entry["request"]["url"], entry["response"]["status"], body_of(entry)) == \
        ("https://p.example/p", 200, b"body")


def test_a_connection_that_shows_only_its_responses(tmp_path, tshark):
    """§11.8: a connection may show one side's dump only (the requests' lost): the response is read, its entry says
    the request was not captured, and tshark dissects the frames (a preface made up first)."""
    pcap, doc = _convert(tmp_path, [event(T0, False, 4, dump_frame("HEADERS", 1, fields=(
        (":status", "200"), ("content-type", "text/plain"))) + dump_frame("DATA", 1, b"hello"))])
    [entry] = doc["log"]["entries"]
    assert entry["response"]["status"] == 200 and body_of(entry) == b"hello"
    assert "request not captured" in entry["_error"]
    frames = dissect(tshark, pcap)
    assert [s for f in frames for s in f["http2.headers.status"]] == ["200"]
    assert sum(len(f["http2.magic"]) for f in frames) == 1


def test_a_server_side_answer_flushed_before_its_request_goes_after_it(tmp_path, tshark):
    """§11.13 on a server (nginx: the request is read, dt 0; the answer written, dt 1): in the same whole second the
    answer's flush came first; on the wire and in the HAR the request goes first."""
    tup = "10.0.0.9:50000-10.0.0.1:443"
    lines = []
    for i, name in enumerate((b"a", b"b")):
        lines += [event(T0 + i, True, 3, b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n" + name.upper(), pid=80,
                        comm="nginx", tup=tup),
                  event(T0 + i, False, 1, b"GET /%s HTTP/1.1\r\nHost: s.example\r\n\r\n" % name, pid=80, comm="nginx",
                        tup=tup)]
    pcap, doc = _convert(tmp_path, lines)
    got = [(e["request"]["url"], e["response"]["status"], body_of(e)) for e in doc["log"]["entries"]]
    assert got == [("https://s.example/a", 200, b"A"), ("https://s.example/b", 200, b"B")]
    http = [f for f in dissect(tshark, pcap) if f.has("http")]
    assert [f.first("http.request.uri") or f.first("http.response.code") for f in http] == ["/a", "200", "/b", "200"]
    assert len({f.first("tcp.stream") for f in http}) == 1
