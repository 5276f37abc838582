import base64
import bz2
import gzip
import io
import lzma
import os
import sys

import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from ecq2pcap.model import DecodeError, Message, Opcode
from ecq2pcap.report import Report
from ecq2pcap.sources.files import FileSource, InputError
from ecq2pcap.sources.lines import lines_of
from ecq2pcap.sources.recording import LineDecoder, frame_line, header_line

LINES = [b'{"log_type":0,"payload":{"timestamp":1,"count":0,"message":"heartbeat:0"}}', b"", b"garbage"]


def collect(path, report=None):
    return list(FileSource(str(path), report or Report()))


def test_plain_and_gzip_give_same_messages_with_origins(tmp_path):
    plain, gz = tmp_path / "d.jsonl", tmp_path / "d.bin"  # gzip detected by magic, not name
    plain.write_bytes(b"\n".join(LINES) + b"\n")
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    a, b = collect(plain), collect(gz)
    assert [m.data for m in a] == [m.data for m in b] == [LINES[0], b"garbage"]
    assert [m.origin for m in a] == [f"{plain}:1", f"{plain}:3"]
    assert all(m.opcode is Opcode.TEXT and m.recv_time_ns is None for m in a)


def test_stdin(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(LINES[0] + b"\n")))
    [m] = collect("-")
    assert m.data == LINES[0] and m.origin == "<stdin>:1"


def test_missing_file_and_truncated_gzip(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        collect(tmp_path / "nope.jsonl")
    bad = tmp_path / "cut.gz"
    bad.write_bytes(gzip.compress(b"\n".join([LINES[0]] * 5000))[:-20])
    with pytest.raises(InputError, match="cannot read further"):
        collect(bad)


@pytest.mark.parametrize("damage", [
    lambda gz: gz[:10],  # cut inside the first block: the first read fails
    lambda gz: gz[:10] + bytes(b ^ 0xFF for b in gz[10:30]) + gz[30:],  # corrupt deflate data (zlib.error)
    lambda gz: b"\x1f\x8b\x07" + gz[3:],  # an unknown compression method (gzip.BadGzipFile)
])
def test_a_damaged_gzip_is_an_input_error_from_its_first_byte(tmp_path, damage):
    """A gzip damaged at its start raised EOFError, zlib.error or BadGzipFile outside the reader's error
    handling (a traceback, or 'stdout: cannot write'): each is the input's own error, with its line."""
    bad = tmp_path / "bad.gz"
    bad.write_bytes(damage(gzip.compress(b"\n".join([LINES[0]] * 5000))))
    with pytest.raises(InputError, match=r"bad.gz:1: cannot read further"):
        collect(bad)


def test_a_byte_order_mark_before_json_lines_is_read_past(tmp_path):
    """A UTF-8 BOM (some editors write one) sent the whole file to the protobuf reader: every line lost."""
    plain = tmp_path / "plain.jsonl"
    plain.write_bytes(b"\n".join(LINES) + b"\n")
    bom = tmp_path / "bom.jsonl"
    bom.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes())
    assert [m.data for m in collect(bom)] == [m.data for m in collect(plain)]


@pytest.mark.parametrize("compress", [False, True])
def test_nul_bytes_a_crash_left_at_the_start_are_read_past_and_said(tmp_path, compress):
    """A file starting with NUL bytes (blocks a crash never wrote) went to the protobuf reader: each NUL an
    'empty binary frame' line, and every JSON line after them misread and lost."""
    plain = tmp_path / "plain.jsonl"
    plain.write_bytes(b"\n".join(LINES) + b"\n")
    nul = tmp_path / "nul.jsonl"
    nul.write_bytes((gzip.compress if compress else bytes)(b"\0" * 70_000 + plain.read_bytes()))
    report = Report()
    assert [m.data for m in collect(nul, report)] == [m.data for m in collect(plain)]
    [(reason, n)] = report.warnings.items()
    assert "NUL bytes read past" in reason and n == 1
    only_nuls = tmp_path / "zeros"
    only_nuls.write_bytes(b"\0" * 10)
    assert collect(only_nuls) == []


def test_recording_roundtrip_is_byte_exact():
    msgs = [Message(b'{"log_type":1}', Opcode.TEXT, "x", 1795715801_123456000),
            Message(bytes(range(256)) * 3, Opcode.BINARY, "x", 1795715802_000001000),
            Message(b"\xff\xfe not utf-8", Opcode.TEXT, "x", None)]
    dec = LineDecoder()
    assert dec.message(header_line("ws://127.0.0.1:28257/", 1795715800.5), "r:1") is None
    back = [dec.message(frame_line(m), f"r:{i}") for i, m in enumerate(msgs, 2)]
    assert [(m.data, m.opcode, m.recv_time_ns) for m in back] == [(m.data, m.opcode, m.recv_time_ns) for m in msgs]
    assert dec.url == "ws://127.0.0.1:28257/"


def test_sample_frames_format_with_relative_time():
    dec = LineDecoder()
    m = dec.message(b'{"t": 1.5, "opcode": "binary", "data_b64": "AAE=", "k": "event"}', "s:1")
    assert (m.data, m.opcode, m.recv_time_ns) == (b"\x00\x01", Opcode.BINARY, 1_500_000_000)


@pytest.mark.parametrize("b64", [b"!!", b"AAE", b"AAE=\\n", b"A===="])
def test_bad_base64_in_a_recording_line_says_so(b64):
    # msgspec decodes data_b64; when it refuses, base64's own decoder says what is wrong (and the line is
    # reported as a bad recording line, not handed on as if it were an eCapture message)
    with pytest.raises(DecodeError, match=r"recording line: bad base64 in data_b64 \(.+\)"):
        LineDecoder().message(b'{"t": 1, "opcode": "binary", "data_b64": "' + b64 + b'"}', "r:1")


@pytest.mark.parametrize("opcode", ["close", "Text", "TEXT", "", "binary "])
def test_a_recording_line_with_an_unknown_opcode_says_so(opcode):
    line = b'{"t": 1, "opcode": "' + opcode.encode() + b'", "text": "x"}'
    with pytest.raises(DecodeError, match=f"recording line with unknown opcode {opcode!r}"):
        LineDecoder().message(line, "r:1")


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=3000))
def test_data_b64_is_the_base64_of_the_bytes(data):
    line = b'{"t": 2.5, "opcode": "binary", "data_b64": "' + base64.b64encode(data) + b'"}'
    assert LineDecoder().message(line, "r:1").data == data


def test_bad_recording_lines_are_reported(tmp_path):
    p = tmp_path / "r.jsonl"
    p.write_bytes(b'{"t": 1, "opcode": "binary", "data_b64": "!!"}\n{"t": 1, "opcode": "ping", "text": "x"}\n')
    report = Report()
    assert collect(p, report) == []
    assert report.counts["skipped"] == 2


def _readline_lines(data: bytes, room: int) -> list:
    """What ``FileSource`` read with ``readline`` before :func:`lines_of`: each line stripped of its line end, or
    the length of one over ``room`` (with its line end)."""
    stream, out = io.BytesIO(data), []
    while line := stream.readline(room + 1):
        if len(line) > room and not line.endswith(b"\n"):
            while piece := stream.readline(7):
                line += piece
                if piece.endswith(b"\n"):
                    break
            out.append(len(line))
        else:
            out.append(line[:-1] if line.endswith(b"\n") else line)
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.sampled_from([b"\n", b"\r\n", b" \n"]))),
       st.booleans(), st.integers(1, 30), st.integers(1, 50))
def test_lines_of_cuts_the_lines_readline_read(lines, last_ended, room, block_size):
    """Lines cut out of blocks (one copy a line) are readline's, over-long ones measured the same, whatever
    the block size: lines across blocks, over ``room`` within one block or across several."""
    data = b"".join(bytes([65 + i % 26]) * n + end for i, (n, end) in enumerate(lines))
    if lines and not last_ended:
        data = data[: -len(lines[-1][1])]
    got = list(lines_of(io.BufferedReader(io.BytesIO(data)), room, block_size))
    assert got == _readline_lines(data, room)


@pytest.mark.parametrize("compress", [gzip.compress, zstandard.compress, lzma.compress, bz2.compress])
def test_an_input_read_to_its_end_leaves_no_file_open(tmp_path, compress):
    """A decompressing reader leaves the file under it open: every compressed input of a run stayed open to its
    end (``convert dumps/*.jsonl.gz`` of more than 1,024 files failed where a process may have that many open)."""
    def open_files() -> int:
        return len(os.listdir("/proc/self/fd"))

    paths = []
    for i in range(20):
        paths.append(tmp_path / f"d{i}.gz")
        paths[-1].write_bytes(compress(b"\n".join(LINES) + b"\n"))
    before = open_files()
    sources = [FileSource(str(p), Report()) for p in paths]  # (kept, as convert keeps its inputs' sources)
    assert all(len(list(src)) == 2 for src in sources)
    assert open_files() == before
