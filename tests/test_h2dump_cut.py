"""eCapture v1.x's HTTP/2 text dump cut inside a DATA frame (its 16 KiB cap) is eCapture's loss, said as one: in the
HAR entry's ``_error`` (of that stream only) and the run's summary. It was said only in comments, on every stream's
entry of the dump, and the summary counted no warning."""

from __future__ import annotations

import json
import re

from ecq2pcap.cli import main
from tests.support import mixed_stream

TUP = "10.0.0.1:40000-10.0.0.2:443"


def _event(outbound: bool, etype: int, payload: bytes) -> str:  # (eCapture v1.4.2, a client)
    return mixed_stream.event_line(0, 100, "curl", 7, int(outbound), TUP, etype, payload)


def _headers(sid: int, fields) -> bytes:
    return (b"\nFrame Type\t=>\tHEADERS\nFrame StreamID\t=>\t%d\nFrame Length\t=>\t50\n" % sid
            + b"".join(b'header field "%s" = "%s"\n' % f for f in fields))


def _data(sid: int, body: bytes) -> bytes:
    return b"\nFrame Type\t=>\tDATA\nFrame StreamID\t=>\t%d\nFrame Length\t=>\t%d\n" % (sid, len(body)) + body + b"\n"


def _get(sid: int, path: bytes) -> bytes:
    return _headers(sid, [(b":method", b"GET"), (b":path", path), (b":scheme", b"https"), (b":authority", b"h2.test")])


def test_a_data_frame_cut_by_the_dumps_end_is_an_error_of_its_stream(tmp_path, capsys):
    requests = _get(1, b"/ok") + _get(3, b"/cut")
    responses = (_headers(1, [(b":status", b"200"), (b"content-length", b"2")]) + _data(1, b"ok")
                 + _headers(3, [(b":status", b"200")]) + _data(3, b"x" * 500)[:-300])  # (ends 201 bytes into it)
    dump = tmp_path / "in.jsonl"
    dump.write_text(_event(True, 2, requests) + "\n" + _event(False, 4, responses) + "\n")
    assert main(["convert", str(dump), "--har", str(tmp_path / "o.har")]) == 0
    err = capsys.readouterr().err
    har = json.loads((tmp_path / "o.har").read_text())
    entries = {e["request"]["url"].rsplit("/", 1)[1]: e for e in har["log"]["entries"]}
    cut = entries["cut"]
    assert cut["response"]["content"]["size"] == 201
    assert "201 of 500 bytes" in cut["_error"] and "lost by eCapture" in cut["_error"]
    assert "_error" not in entries["ok"] and "500 bytes" not in entries["ok"].get("comment", "")
    assert re.search(r"warnings\s+[1-9]", err) and "data lost by eCapture" in err
