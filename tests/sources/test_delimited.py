import gzip
import io

import pytest

from ecq2pcap.dialects.v15_proto import delimit, encode_event, encode_heartbeat, encode_run_log
from ecq2pcap.model import Opcode
from ecq2pcap.report import Report
from ecq2pcap.sources.delimited import iter_delimited
from ecq2pcap.sources.files import FileSource, InputError

ENTRIES = [encode_heartbeat(1795715801, 1), encode_run_log('{"level":"info"}\n'),
           encode_event(uuid="1_1_curl_5_1_10.0.0.1:1-10.0.0.2:443", pid=1, pname="curl", type=0,
                        timestamp=1795715801000000000, payload=b"x" * 300)]
STREAM = b"".join(delimit(e) for e in ENTRIES)


def test_iter_delimited_round_trip_with_offsets():
    got = list(iter_delimited(io.BytesIO(STREAM)))
    assert [e for _, e, _ in got] == ENTRIES and [n for _, _, n in got] == [len(e) for e in ENTRIES]
    assert got[0][0] == 0 and got[1][0] == len(delimit(ENTRIES[0]))


def test_an_entry_over_the_limit_is_skipped_unread():
    biggest = max(len(e) for e in ENTRIES)
    got = list(iter_delimited(io.BytesIO(STREAM), max_size=biggest - 1))
    assert [e for _, e, _ in got] == [e if len(e) < biggest else None for e in ENTRIES]
    assert [n for _, _, n in got] == [len(e) for e in ENTRIES]


@pytest.mark.parametrize("cut", [1, 5])
def test_truncated_stream_raises(cut):
    # (says how many bytes of the last entry are there: it said "left", read as "missing")
    last = len(ENTRIES[-1])
    with pytest.raises(ValueError, match=f"truncated entry at byte {len(STREAM) - len(delimit(ENTRIES[-1]))}: "
                                         f"{last} bytes announced, {last - cut} there"):
        list(iter_delimited(io.BytesIO(STREAM[:-cut])))


def test_file_source_reads_delimited_protobuf_plain_and_gzip(tmp_path):
    for name, data in [("d.pb", STREAM), ("d.pb.gz", gzip.compress(STREAM))]:
        path = tmp_path / name
        path.write_bytes(data)
        msgs = list(FileSource(str(path), Report()))
        assert [m.data for m in msgs] == ENTRIES
        assert all(m.opcode is Opcode.BINARY for m in msgs)
        assert msgs[1].origin == f"{path}@{len(delimit(ENTRIES[0]))}"


def test_file_source_truncated_delimited_is_an_input_error(tmp_path):
    path = tmp_path / "cut.pb"
    path.write_bytes(STREAM[:-3])
    src = FileSource(str(path), Report())
    got = []
    with pytest.raises(InputError, match="length-delimited"):
        for m in src:
            got.append(m)
    assert len(got) == 2  # everything before the cut was delivered


@pytest.mark.parametrize("first_length", [9, 10, 13, 32, 123, 124])
@pytest.mark.parametrize("compress", [False, True])
def test_a_first_entry_whose_length_is_a_byte_json_starts_with_is_still_protobuf(tmp_path, first_length, compress):
    """A first entry of 123 bytes starts the file with "{" (32: a space; 9, 10, 13: a tab or a line end): the file
    was read as JSON lines, every line "invalid JSON", every event lost, and the exit code 0."""
    log = encode_run_log("")
    log = encode_run_log("x" * (first_length - len(log)))  # (a run_log of one-byte length: its size is exact)
    assert len(log) == first_length
    stream = delimit(log) + STREAM
    path = tmp_path / ("d.pb.gz" if compress else "d.pb")
    path.write_bytes(gzip.compress(stream) if compress else stream)
    report = Report()
    assert [m.data for m in FileSource(str(path), report)] == [log, *ENTRIES]
    assert not report.counts["skipped"] and not report.warnings


def test_json_lines_are_not_taken_for_protobuf(tmp_path):
    """What tells the kinds apart when the first byte is ambiguous: JSON lines whose first line is JSON, after
    blank lines, or too long to look at whole, stay JSON lines."""
    line = b'{"log_type":1,"payload":{"level":"info","time":"2026-11-26T17:56:40Z"}}'
    big = b'{"log_type":2,"payload":{"payload_base64":"' + b"QUFB" * 40000 + b'"}}'
    for data in (line + b"\n", b"\n\n  " + line + b"\n", big + b"\n" + line + b"\n"):
        path = tmp_path / "d.jsonl"
        path.write_bytes(data)
        msgs = list(FileSource(str(path), Report()))
        assert msgs and all(m.opcode is Opcode.TEXT for m in msgs)


@pytest.mark.parametrize("first_line", [b"Connected to ws://127.0.0.1:28257/", b"\x1b[0m", b"[1] 12345",
                                        b"websocat: listening", b"2026/12/05 10:00:00 ecapture started"])
def test_json_lines_after_a_first_line_of_text_stay_json_lines(tmp_path, first_line):
    """A line of text before the dump (a terminal's, a script's): the file was read as protobuf, from its first
    byte's value as a length, and every event lost (exit 1, no packet) where a second such line was one skipped
    line (the safety audit's finding 2). It is one bad line wherever it is."""
    line = b'{"log_type":1,"payload":{"level":"info","time":"2026-11-26T17:56:40Z"}}'
    path = tmp_path / "d.jsonl"
    path.write_bytes(first_line + b"\n" + line + b"\n" + line + b"\n")
    report = Report()
    msgs = list(FileSource(str(path), report))
    assert [m.data for m in msgs] == [first_line, line, line] and all(m.opcode is Opcode.TEXT for m in msgs)
