import gzip
import io
import json

import pytest

from ecq2pcap.cli import main
from ecq2pcap.dialects.v15_proto import delimit, encode_event, encode_heartbeat, encode_run_log
from ecq2pcap.model import Message, Opcode
from ecq2pcap.report import Report
from ecq2pcap.sources.delimited import iter_delimited, looks_delimited
from ecq2pcap.sources.files import FileSource, InputError
from ecq2pcap.sources.recording import frame_line, header_line
from tests.conftest import FIXTURES

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


def _exchange(i: int) -> list[bytes]:
    """The entries of connection ``i``: a request and its response, one HAR entry."""
    uuid = f"7_7_curl_5_{{}}_127.0.0.1:{40000 + i}-127.0.0.1:8443"
    common = dict(src_ip="127.0.0.1", src_port=40000 + i, dst_ip="127.0.0.1", dst_port=8443, pid=7, pname="curl")
    return [encode_event(uuid=uuid.format(1), type=1, timestamp=1795715801000000000 + i * 10**6, **common,
                         payload=b"GET /%d HTTP/1.1\r\nHost: a.example\r\n\r\n" % i),
            encode_event(uuid=uuid.format(0), type=3, timestamp=1795715801000500000 + i * 10**6, **common,
                         payload=b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")]


def _convert(tmp_path, data: bytes, capsys) -> tuple[int, list[str], list[str], str]:
    """Exit code, the HAR's URLs, the lines said of the input (the summary left out), and the input's path."""
    path, har = tmp_path / "dump.pb", tmp_path / "o.har"
    path.write_bytes(data)
    code = main(["convert", str(path), "-w", str(tmp_path / "o.pcapng"), "--har", str(har)])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    urls = [e["request"]["url"] for e in json.loads(har.read_text(encoding="utf-8"))["log"]["entries"]]
    return code, urls, [line for line in err.splitlines() if line.startswith(f"ecq2pcap: {path}")], str(path)


BAD_ENTRY = delimit(b"\xff\xff")  # (no LogEntry's first byte: the audit's damaged entry)


@pytest.mark.parametrize("at", [1, 2, 3])
def test_a_damaged_entry_among_the_first_is_skipped_with_its_offset(tmp_path, capsys, at):
    """A damaged entry within the first 64 KiB made the whole file JSON lines: an "invalid JSON" message for each
    of its "lines", 0 packets, 0 HAR entries and exit 0, every event lost (found by an audit of hostile inputs;
    after 64 KiB it was one skipped entry, as it is now wherever it is)."""
    entries = [delimit(e) for i in range(3) for e in _exchange(i)]
    data = b"".join(entries[:at]) + BAD_ENTRY + b"".join(entries[at:])
    code, urls, said, path = _convert(tmp_path, data, capsys)
    assert code == 0 and urls == [f"https://a.example/{i}" for i in range(3)]
    offset = len(b"".join(entries[:at]))
    assert said == [f"ecq2pcap: {path}@{offset}: binary frame of 2 bytes is neither a protobuf LogEntry nor "
                    "eCapture text (starts ff ff)"]


CUT = _exchange(2)[0]


@pytest.mark.parametrize("tail, reason", [
    (b"garbage at the end\n", "truncated entry at byte {}: 103 bytes announced, 18 there"),  # ("g" is 103)
    (b"\xff\xff\xff", "truncated length prefix at byte {}"),
    (delimit(CUT)[:-5], f"truncated entry at byte {{}}: {len(CUT)} bytes announced, {len(CUT) - 5} there"),
], ids=["text", "bytes", "cut entry"])
def test_garbage_or_a_cut_entry_at_the_end_is_said_with_its_offset(tmp_path, capsys, tail, reason):
    """Garbage after the last entry, or a last entry cut short: was read as JSON lines, every event lost (found by
    an audit of hostile inputs); now the entries before it are converted, and the end is said once, where it is
    (the input broke off: exit 1, as a cut gzip)."""
    body = b"".join(delimit(e) for i in range(2) for e in _exchange(i))
    code, urls, said, path = _convert(tmp_path, body + tail, capsys)
    assert code == 1 and urls == ["https://a.example/0", "https://a.example/1"]
    assert said == [f"ecq2pcap: {path}@{len(body)}: length-delimited protobuf cut short or ending in garbage: "
                    + reason.format(len(body))]


# a first line that is no JSON and whose first 124 bytes read as one LogEntry ("{" a length of 123, '"' the tag
# of run_log, "y" its length, 121): text passes as a first entry about once in 200 lines, as two never
LOGENTRY_LIKE = b'{"y' + b"x" * 121


@pytest.mark.parametrize("first_line", [LOGENTRY_LIKE, b'{"ecq2pcap": "recording", "version": 1, "ur'],
                         ids=["logentry-like", "cut header"])
@pytest.mark.parametrize("kind", ["json lines", "recording"])
def test_json_lines_and_recordings_whose_first_line_is_damaged_stay_what_they_are(tmp_path, capsys, first_line,
                                                                                   kind):
    """What lets a damaged entry follow the first ones must not make text protobuf: a JSON-lines file or a
    recording whose first line is damaged, even one that reads as a LogEntry, is read as before: the line is
    said and skipped, the rest converted."""
    if kind == "recording":
        lines = [header_line("ws://127.0.0.1:28257/", 1795715801.0)] + [
            frame_line(Message(e, Opcode.BINARY, "")) for i in range(2) for e in _exchange(i)]
    else:
        lines = [line.encode() for line in (FIXTURES / "v140_edge_cases.jsonl").read_text().splitlines()[2:4]]
    assert looks_delimited(first_line)  # (what the sniff would say of the line alone)
    code, urls, said, path = _convert(tmp_path, b"\n".join([first_line, *lines]) + b"\n", capsys)
    assert code == 0 and len(urls) == (2 if kind == "recording" else 1)
    assert len(said) == 1 and said[0].startswith(f"ecq2pcap: {path}:1: ")  # (invalid JSON, or a bad header)


def test_no_start_of_the_shipped_dumps_is_taken_for_protobuf():
    """The guard of the sniff, measured: each line of the shipped JSON lines and recordings, and a byte in every
    61, as a file's first byte (a first line cut or damaged). About one in 800 reads as a first entry; none as the
    first and two more of the first four. (Heads under 256 bytes, one entry cut by the file's end, are left out.)"""
    for path in sorted(FIXTURES.glob("*.jsonl*")):
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        lines = [i + 1 for i, b in enumerate(data) if b == 10]
        for at in sorted({0, *lines, *range(0, len(data), 61)}):
            head = data[at:at + (1 << 16)]
            assert len(head) < 256 or not looks_delimited(head), (path.name, at)
