"""End to end: an eCapture v2.1+ event log (what ``--eventaddr=FILE`` or a ``tcp://`` collector gets: each event's
text rendering back to back) converts as the same events sent through eCaptureQ do. The logs are the v2 samples'
event payloads written back to back, as eCapture's TextHandler writes them; what comes out is held to each sample's
expected file (written from the real traffic), read by tshark, and compared with the conversion of the sample itself.
"""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
import zstandard

from ecq2pcap.cli import main
from tests.conftest import FIXTURES
from tests.support.dissect import assert_exchanges_dissected, bad_expert, dissect, follow, syns
from tests.support.cli import run_main
from tests.support.recordings import log_entries
from tests.support.pcapng import epbs
from tests.test_convert_e2e import check_body, expected_for, find_entries

SAMPLES = ["v2_client", "v2_server", "gen_server_v2"]


def event_log(sample: str) -> bytes:
    """The sample's Event messages' payloads back to back (eCapture ends each with a newline already: the payload is
    what TextHandler writes); its heartbeats and process logs do not go to --eventaddr."""
    return b"".join(entry.event_payload.payload for entry, which in log_entries(FIXTURES / f"{sample}.frames.jsonl.gz")
                    if which == "event_payload")


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    done = {}
    for sample in SAMPLES:
        folder = tmp_path_factory.mktemp(sample)
        (folder / "events.log").write_bytes(event_log(sample))
        for name, source in (("log", folder / "events.log"), ("frames", FIXTURES / f"{sample}.frames.jsonl.gz")):
            pcap, har, notes = folder / f"{name}.pcapng", folder / f"{name}.har", folder / f"{name}.notes.jsonl"
            assert main(["convert", "-q", str(source), "-w", str(pcap), "--har", str(har), "--annotations",
                         str(notes)]) == 0
            done[sample, name] = pcap, json.loads(har.read_text(encoding="utf-8"))
            # (nothing but connections and their data: no rendering cut in two, whose rest would be an annotation)
            assert not notes.exists(), notes.read_text()[:300]
    return done


@pytest.mark.parametrize("sample", SAMPLES)
def test_an_event_log_gives_every_exchange_of_the_traffic(converted, sample):
    expected = expected_for(FIXTURES, sample)
    entries = converted[sample, "log"][1]["log"]["entries"]
    for ex in expected["exchanges"]:
        [e] = find_entries(entries, ex)
        assert "_error" not in e, (ex["truth_id"], e.get("_error"))
        check_body(e, ex)
    got = [("c2s" if m["type"] == "send" else "s2c", m["opcode"],
            hashlib.sha256(m["data"].encode() if m["opcode"] == 1 else base64.b64decode(m["data"])).hexdigest())
           for e in entries for m in e.get("_webSocketMessages", [])]
    want = [(m["dir"], m["opcode"], m["sha256"]) for m in expected["websocket_messages"]]
    assert sorted(got) == sorted(want)
    assert len(entries) == len(expected["exchanges"]) + len(expected["partial_exchanges"])


@pytest.mark.parametrize("sample", SAMPLES)
def test_an_event_log_gives_the_packets_eCaptureQ_gives(converted, tshark, sample):
    """The same connections and bytes as the conversion of the same events sent through eCaptureQ (times aside:
    without eCaptureQ's receive times, the headers' local times are read as UTC; origins are the log's lines)."""
    log, frames = (dissect(tshark, converted[sample, name][0], payload=True) for name in ("log", "frames"))
    assert not bad_expert(log)
    assert_exchanges_dissected(log, expected_for(FIXTURES, sample)["exchanges"])
    assert len(syns(log)) == len(syns(frames))
    for stream in range(len(syns(frames))):
        assert follow(log, stream) == follow(frames, stream), stream


def test_utc_offset_says_what_time_the_headers_were_in(tmp_path):
    """An event log has no receive time to tell the eCapture host's UTC offset from: read as UTC, or as given."""
    (tmp_path / "events.log").write_bytes(event_log("v2_client"))
    starts = {}
    for offset in ("0", "+08:00", "-05:30"):
        pcap, har = tmp_path / f"{offset}.pcapng", tmp_path / f"{offset}.har"
        assert main(["convert", "-q", str(tmp_path / "events.log"), "-w", str(pcap), "--har", str(har),
                     f"--utc-offset={offset}"]) == 0
        starts[offset] = (epbs(pcap)[0][0], json.loads(har.read_text())["log"]["entries"][0]["startedDateTime"])
    assert starts["0"][1] == "2026-11-26T17:56:41.246Z"  # (the first data event's header: [2026-11-26 17:56:41.246])
    assert starts["+08:00"][1] == "2026-11-26T09:56:41.246Z" and starts["-05:30"][1] == "2026-11-26T23:26:41.246Z"
    assert starts["0"][0] - starts["+08:00"][0] == 8 * 3600 * 10**9  # (nanoseconds: the pcapng's resolution)
    assert starts["-05:30"][0] - starts["0"][0] == 5.5 * 3600 * 10**9


def test_utc_offset_holds_for_every_process_and_command(tmp_path):
    (tmp_path / "events.log").write_bytes(event_log("v2_client"))
    log = str(tmp_path / "events.log")
    assert main(["convert", "-q", log, "-w", str(tmp_path / "one.pcapng"), "--utc-offset", "+08:00"]) == 0
    assert main(["convert", "-q", log, "-w", str(tmp_path / "two.pcapng"), "--utc-offset", "+08:00", "-j", "2"]) == 0
    assert epbs(tmp_path / "one.pcapng") == epbs(tmp_path / "two.pcapng")
    summary = run_main("summary", log, "--utc-offset", "+08:00", text=True)
    assert summary.returncode == 0 and "2026-11-26T09:56:41.246Z" in summary.stdout


def test_a_compressed_event_log_converts_as_the_plain_one(tmp_path, converted):
    """Logs are kept compressed (eCapture's rotation leaves many): told after the compression is read through."""
    (tmp_path / "events.log").write_bytes(zstandard.compress(event_log("v2_client")))
    assert main(["convert", "-q", str(tmp_path / "events.log"), "--har", str(tmp_path / "z.har")]) == 0
    plain = converted["v2_client", "log"][1]["log"]["entries"]
    assert json.loads((tmp_path / "z.har").read_text())["log"]["entries"] == plain


def _conversation(fd: int, port: int, t: float = 1795800001.0) -> bytes:
    """A connect line, a GET and its 200, as eCapture's TextHandler writes them."""
    from fixtures.encoders import v2_connect_text, v2_data_text

    return (v2_connect_text(10, 10, "curl", fd, ("10.0.0.1", port), ("10.1.0.1", 443))
            + v2_data_text(t, 10, 10, "curl", fd, True, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            + v2_data_text(t, 10, 10, "curl", fd, False, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"))


@pytest.mark.parametrize("announced", [10**12, 40 << 20])
def test_a_header_announcing_more_than_the_limit_takes_nothing_after_its_event(tmp_path, announced):
    """Found by an audit of hostile inputs: a header saying more than --max-message-size (32 MiB) was read past for
    that many bytes, all the log after it (1 HAR entry of 53, exit 0, said as one message skipped). Its event now
    ends where the next rendering starts, said at its line."""
    from fixtures.encoders import v2_stamp

    liar = (f"[{v2_stamp(1795800001.0)}] PID:10 TID:10 Comm:curl FD:9 WRITE ({announced} bytes):\n".encode()
            + b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    log = tmp_path / "events.log"
    log.write_bytes(_conversation(3, 5000) + liar + _conversation(4, 5001) + _conversation(5, 5002) * 50)
    har = tmp_path / "out.har"
    done = run_main("convert", str(log), "-w", str(tmp_path / "out.pcapng"), "--har", str(har), text=True)
    assert done.returncode == 0, done.stderr
    assert (f"{log}:11: warning: a data event's header announces more bytes than --max-message-size: not trusted, the "
            f"event ends where the next rendering starts: {announced} bytes announced, 27 there") in done.stderr
    assert "skipped" not in done.stderr.split("summary")[0]
    entries = json.loads(har.read_text())["log"]["entries"]
    assert len(entries) == 53  # (the cut event's GET too, its response not captured)
    assert sum(e["response"]["status"] == 200 for e in entries) == 52


def test_a_real_event_over_the_limit_is_still_skipped_whole(tmp_path):
    """An event whose bytes are all there, over --max-message-size, its data holding no rendering's start: read past
    and skipped as one message at its line, the conversations after it whole."""
    from fixtures.encoders import v2_data_text

    big = v2_data_text(1795800001.0, 10, 10, "curl", 3, False, b"y" * 99 + (b"\n" + b"y" * 99) * 3000)
    log = tmp_path / "events.log"
    log.write_bytes(_conversation(3, 5000) + big + _conversation(4, 5001) * 5)
    har = tmp_path / "out.har"
    done = run_main("convert", str(log), "--har", str(har), "--max-message-size", "64K", text=True)
    assert done.returncode == 0, done.stderr
    assert f"{log}:11: message of {len(big)} bytes over the 65536-byte limit skipped" in done.stderr
    assert "announces more" not in done.stderr
    entries = json.loads(har.read_text())["log"]["entries"]
    assert [e["response"]["status"] for e in entries] == [200] * 6


def test_a_negative_length_keeps_the_bytes_that_follow_and_says_so(tmp_path, tshark):
    """A data header of ``(-5 bytes)`` (no length eCapture writes: a damaged log) made an empty capture, its note on
    no packet: the request after it was in neither output, and nothing was said. Its bytes are taken, said."""
    from fixtures.encoders import v2_connect_text, v2_data_text, v2_stamp

    t = 1795800001.0
    request, response = b"GET /neg HTTP/1.1\r\nHost: a\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"
    log = (v2_connect_text(10, 10, "curl", 3, ("10.0.0.1", 5000), ("10.1.0.1", 443))
           + f"[{v2_stamp(t)}] PID:10 TID:10 Comm:curl FD:3 WRITE (-5 bytes):\n".encode() + request
           + v2_data_text(t, 10, 10, "curl", 3, False, response))
    dump, pcap, har = tmp_path / "neg.log", tmp_path / "o.pcapng", tmp_path / "o.har"
    dump.write_bytes(log)
    assert main(["convert", str(dump), "-w", str(pcap), "--har", str(har), "-q"]) == 0
    (entry,) = json.loads(har.read_text())["log"]["entries"]
    assert entry["request"]["url"].endswith("/neg") and entry["response"]["status"] == 200
    frames = dissect(tshark, pcap, payload=True)
    assert follow(frames, 0) == (request, response)
    comments = " ".join(c for f in frames for c in f["frame.comment"])
    assert "negative length -5 in header: the 30 bytes that follow it taken" in comments
