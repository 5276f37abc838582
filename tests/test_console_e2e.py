"""End to end: eCapture v2's console output (``ecapture tls > capture.log``, what it prints without ``--ecaptureq``)
of the v2 samples' events, written by the test's port of eCapture's and zerolog's rules
(``tests/support/zerolog_console.py``), converts to what the samples' expected files say (written from the real
traffic) wherever the console kept the bytes, and says where it did not (bytes that were not UTF-8: HTTP/2, binary
bodies, WebSocket frames)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from ecq2pcap.cli import main
from ecq2pcap.limits import LOST_BY_ECAPTURE
from tests.conftest import FIXTURES, ROOT
from tests.support.cli import run_main
from tests.support.recordings import log_entries
from tests.support.dissect import bad_expert, dissect, follow, syns
from tests.support.zerolog_console import event_record, go_string, record
from tests.test_convert_e2e import check_body, expected_for, find_entries

SAMPLES = ["v2_client", "v2_server", "gen_server_v2"]
_HEADER_TIME = re.compile(rb"\[(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)")
TEXT_TYPES = ("text/", "application/json", "application/javascript")


def console_log(sample: str, colour: bool = True) -> bytes:
    """What eCapture's stdout held: its own log lines (the root logger's records) and each event's record, timed
    by the events' header times (the samples' receive times are relative; their headers are read as UTC both
    ways)."""
    out, time = bytearray(), "2026-11-26T17:56:31Z"
    for entry, which in log_entries(FIXTURES / f"{sample}.frames.jsonl.gz"):
        if which == "event_payload":
            payload = entry.event_payload.payload
            if (m := _HEADER_TIME.match(payload)) is not None:
                time = f"{m[1].decode()}T{m[2].decode()}Z"
            out += event_record(payload, time, colour=colour)
        elif which == "run_log":
            fields = json.loads(entry.run_log)
            time = fields.pop("time", time)
            fields.pop("level", None)
            message = fields.pop("message", "")
            out += record(message, time, {k: json.dumps(v) if not isinstance(v, str) else v
                                          for k, v in fields.items()}, colour=colour, escape=False, bold=True)
    return bytes(out)


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    done = {}
    for sample, colour in [(s, True) for s in SAMPLES] + [("v2_client", False)]:
        folder = tmp_path_factory.mktemp(sample)
        log = folder / "capture.log"
        log.write_bytes(console_log(sample, colour))
        for name, source in (("console", log), ("frames", FIXTURES / f"{sample}.frames.jsonl.gz")):
            if (sample, colour, name) in done or (not colour and name == "frames"):
                continue
            pcap, har = folder / f"{name}.pcapng", folder / f"{name}.har"
            run = run_main("convert", str(source), "-w", str(pcap), "--har", str(har), text=True)
            assert run.returncode == 0, run.stderr[-2000:]
            done[sample, colour, name] = pcap, json.loads(har.read_text(encoding="utf-8")), run.stderr
    return done


def _text_exchanges(sample: str) -> list[dict]:
    """The exchanges whose bytes are all text (an HTTP/1 head and a text body, not compressed): the console keeps
    them whole."""
    return [ex for ex in expected_for(FIXTURES, sample)["exchanges"]
            if ex["http_version"] == "HTTP/1.1" and str(ex.get("content_encoding")) in ("None", "identity")
            and str(ex.get("content_type", "")).startswith(TEXT_TYPES)]


@pytest.mark.parametrize("sample,colour", [(s, True) for s in SAMPLES] + [("v2_client", False)])
def test_text_exchanges_come_back_whole(converted, sample, colour):
    entries = converted[sample, colour, "console"][1]["log"]["entries"]
    wanted = _text_exchanges(sample)
    assert len(wanted) >= 3
    for ex in wanted:
        [e] = find_entries(entries, ex)
        assert "_error" not in e, (ex["truth_id"], e["_error"])
        check_body(e, ex)


@pytest.mark.parametrize("sample", SAMPLES)
def test_what_the_console_lost_is_said_in_the_packets_the_har_and_the_summary(converted, sample):
    pcap, har, stderr = converted[sample, True, "console"]
    lost = sum(go_string(entry.event_payload.payload).count("\ufffd")
               for entry, which in log_entries(FIXTURES / f"{sample}.frames.jsonl.gz") if which == "event_payload")
    assert lost  # (the samples' HTTP/2 and binary bodies are not UTF-8)
    assert "data lost by eCapture" in stderr.split("ecq2pcap summary:")[1]
    assert LOST_BY_ECAPTURE.encode() in pcap.read_bytes()  # (in the comments of the packets that carry them)
    assert any(LOST_BY_ECAPTURE in e.get("_error", "") for e in har["log"]["entries"])
    assert "linux_amd64:v2.5.1" in stderr  # (the eCapture version, from its own log line)


@pytest.mark.parametrize("sample", SAMPLES)
def test_connections_of_text_are_the_packets_eCaptureQ_gives(converted, tshark, sample):
    """Every direction of a TCP stream whose bytes are text is the same, byte for byte, as the conversion of the same
    events sent through eCaptureQ."""
    console, frames = (dissect(tshark, converted[sample, True, name][0], payload=True)
                       for name in ("console", "frames"))
    assert len(syns(console)) == len(syns(frames))
    same = 0
    for stream in range(len(syns(frames))):
        for want, got in zip(follow(frames, stream), follow(console, stream)):
            try:
                want.decode()
            except UnicodeDecodeError:
                assert len(got) == len(want)  # (bytes lost are as many "?")
                continue
            assert got == want, stream
            same += 1
    assert same >= 3
    assert not [m for m in bad_expert(console) if "HTTP" not in m and "WebSocket" not in m]


def test_a_copy_with_windows_line_ends_reads_the_same(tmp_path, converted):
    """A console log copied through a Windows tool has CR LF line ends: v2.1+ prints the data's CRs escaped, so a
    CR before a line end is the copy's, not data."""
    log = tmp_path / "capture.log"
    log.write_bytes(console_log("v2_client").replace(b"\n", b"\r\n"))
    assert main(["convert", "-q", str(log), "--har", str(tmp_path / "crlf.har")]) == 0
    entries = json.loads((tmp_path / "crlf.har").read_text(encoding="utf-8"))["log"]["entries"]
    assert entries == converted["v2_client", True, "console"][1]["log"]["entries"]


def test_piped_in_it_gives_what_the_file_gives(tmp_path, converted):
    """``ecapture tls | ecq2pcap convert - …``: the records come through a pipe, and the outputs are the file's
    (origins aside: ``<stdin>:N`` for ``capture.log:N``)."""
    log = console_log("v2_client")
    result = subprocess.run([sys.executable, "-m", "ecq2pcap", "convert", "-q", "-", "--har", "piped.har"],
                            input=log, capture_output=True, cwd=tmp_path, env={"PYTHONPATH": str(ROOT)}, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    piped = (tmp_path / "piped.har").read_text(encoding="utf-8")
    from_file = json.dumps(converted["v2_client", True, "console"][1]["log"]["entries"])
    assert json.loads(piped.replace("<stdin>:", "capture.log:"))["log"]["entries"] == json.loads(from_file)


def test_several_processes_and_the_summary_read_it_alike(tmp_path):
    log = tmp_path / "capture.log"
    log.write_bytes(console_log("v2_client"))
    for jobs in ("1", "2"):
        assert main(["convert", "-q", str(log), "-w", str(tmp_path / f"{jobs}.pcapng"), "--har",
                     str(tmp_path / f"{jobs}.har"), "-j", jobs]) == 0
    assert (tmp_path / "1.pcapng").read_bytes() == (tmp_path / "2.pcapng").read_bytes()
    assert (tmp_path / "1.har").read_bytes() == (tmp_path / "2.har").read_bytes()
    summary = run_main("summary", str(log), text=True)
    assert summary.returncode == 0 and "localhost:8443" in summary.stdout
