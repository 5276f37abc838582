"""A v1.x HTTP/2 dump's HEADERS frame of which no field is kept (cut by the dump's end right after its header lines,
or listed without fields) is not written as an empty header block: tshark 4.0 reports a dissector bug on one
("failed assertion num_members", an Error-level Malformed expert item). Found by a fuzz run."""

from __future__ import annotations

import subprocess

import pytest

from ecq2pcap.cli import main
from tests.support import mixed_stream

TUP = "10.0.0.1:40000-10.0.0.2:443"


def _event(outbound: bool, etype: int, payload: bytes) -> str:  # (eCapture v1.4.2, a client)
    return mixed_stream.event_line(0, 100, "curl", 7, int(outbound), TUP, etype, payload)


def _headers(sid: int, fields, flags: bytes = b"") -> bytes:
    return (b"\nFrame Type\t=>\tHEADERS\nFrame StreamID\t=>\t%d\nFrame Length\t=>\t50\n%s" % (sid, flags)
            + b"".join(b'header field "%s" = "%s"\n' % f for f in fields))


GET = [(b":method", b"GET"), (b":path", b"/ok"), (b":scheme", b"https"), (b":authority", b"h2.test")]
OK = [(b":status", b"204")]


def _expert_errors(pcapng) -> str:
    run = subprocess.run(["tshark", "-r", str(pcapng), "-q", "-z", "expert,error"], capture_output=True, text=True,
                         check=True)
    return run.stdout + run.stderr


@pytest.mark.parametrize("cut", ["after its header lines", "inside its first field"])
def test_a_headers_frame_with_no_field_kept_is_not_an_empty_block(tmp_path, capsys, tshark, cut):
    first = _headers(1, []) if cut == "after its header lines" else _headers(1, [(b":method", b"GET")])[:-12]
    dump = tmp_path / "in.jsonl"  # (its first block: the one that carries the table size update, 0x20 alone)
    dump.write_text("\n".join((_event(True, 2, first), _event(True, 2, _headers(3, GET)),
                               _event(False, 4, _headers(3, OK)))) + "\n")
    out = tmp_path / "o.pcapng"
    assert main(["convert", str(dump), "-w", str(out), "--har", str(tmp_path / "o.har")]) == 0
    err = capsys.readouterr().err
    assert "num_members" not in _expert_errors(out) and "Malformed" not in _expert_errors(out)
    fields = subprocess.run([tshark, "-r", str(out), "-Y", "http2.type == 1", "-T", "fields", "-e",
                             "http2.streamid"], capture_output=True, text=True, check=True).stdout.split()
    assert fields == ["3", "3"]  # (stream 3's request and response: stream 1's empty HEADERS not written)
    assert "stream 1" in err  # (what was lost is said)


def _data(sid: int, body: bytes) -> bytes:
    return b"\nFrame Type\t=>\tDATA\nFrame StreamID\t=>\t%d\nFrame Length\t=>\t%d\n" % (sid, len(body)) + body + b"\n"


def test_empty_trailers_end_the_stream_by_an_empty_data_frame(tmp_path, capsys, tshark):
    response = _headers(1, [(b":status", b"200")]) + _data(1, b"ok") + _headers(1, [])  # (trailers of no field)
    dump = tmp_path / "in.jsonl"
    dump.write_text(_event(True, 2, _headers(1, GET)) + "\n" + _event(False, 4, response) + "\n")
    out = tmp_path / "o.pcapng"
    assert main(["convert", str(dump), "-w", str(out)]) == 0
    assert "num_members" not in _expert_errors(out)
    def field(name: str) -> list[str]:  # (every frame of stream 1's packets, in order)
        run = subprocess.run([tshark, "-r", str(out), "-Y", "http2.streamid == 1", "-T", "fields", "-E",
                              "aggregator=;", "-e", name], capture_output=True, text=True, check=True)
        return [v for line in run.stdout.split() for v in line.split(";")]

    assert field("http2.header.name")[0].startswith(":method")  # (the request's block decodes, after the size update kept)
    last = (field("http2.type")[-1], field("http2.flags.end_stream")[-1], field("http2.length")[-1])
    assert last == ("0", "1", "0")  # (the stream's last frame: an empty DATA, END_STREAM)
    comments = subprocess.run([tshark, "-r", str(out), "-T", "fields", "-e", "frame.comment"], capture_output=True,
                              text=True, check=True).stdout
    assert "stream 1: HEADERS of no field not written (an empty header list); an empty DATA frame ends" in comments
