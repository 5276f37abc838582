"""Ring buffers (-b filesize/duration/files): every file complete on its own, the requests add up."""

import argparse
import base64
import json
import os
import re
import subprocess
import sys
from collections import Counter

import pytest

from ecq2pcap.ring import RingSpec, open_ring, ring_name
from ecq2pcap.outputs import OutputConflict
from tests.conftest import FIXTURES, ROOT
from tests.support.dissect import bad_expert, dissect
from tests.support import mixed_stream
from tests.support.cli import run_main

ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
NAME = re.compile(r"^out_(\d{5})_(\d{14})\.(pcapng|har)$")


def ecq2pcap(*args):
    """The CLI in-process (live runs start a real process: see test_duration_ring_in_live)."""
    return run_main(*args, text=True)


def ecq2pcap_process(*args):
    return subprocess.run([sys.executable, "-m", "ecq2pcap", *args], capture_output=True, text=True, timeout=180,
                          env=ENV)


def requests(frames):
    """The requests tshark dissects, but the upgrade a continued WebSocket connection starts each file with
    (made up, and its comment says so)."""
    got = Counter()
    for f in frames:
        if any("synthetic WebSocket upgrade" in c for c in f["frame.comment"]):
            continue
        for pair in zip(f["http.request.method"], f["http.request.uri"]):
            got[pair] += 1
        for pair in zip(f["http2.headers.method"], f["http2.headers.path"]):
            got[pair] += 1
    return got


def files(d, ext):
    names = sorted(p.name for p in d.iterdir() if p.name.endswith(ext))
    assert all(NAME.match(n) for n in names), names
    return [d / n for n in names]


def har_urls(paths):
    return Counter(e["request"]["url"] for p in paths for e in json.loads(p.read_text())["log"]["entries"])


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    """The requests the fixture holds (its generator's truth, which tshark finds in the unsplit pcapng:
    tests/test_convert_e2e.py) and the URLs of the unsplit HAR."""
    expected = json.loads((FIXTURES / "v2_client.expected.json").read_text())
    want = Counter((e["method"], e["path"]) for e in expected["exchanges"] + expected["partial_exchanges"]
                   if e.get("has_request", True))
    d = tmp_path_factory.mktemp("single")
    assert ecq2pcap("convert", str(FIXTURES / "v2_client.frames.jsonl.gz"), "--har", str(d / "out.har"),
                    "-q").returncode == 0
    return want, har_urls([d / "out.har"])


@pytest.mark.slow
def test_filesize_ring_files_are_complete_and_add_up(tmp_path, tshark, single):
    # 700 kB files: five of them for the fixture's 3.1 MB (each is dissected on its own)
    p = ecq2pcap("convert", str(FIXTURES / "v2_client.frames.jsonl.gz"), "-w", str(tmp_path / "out.pcapng"),
                 "--har", str(tmp_path / "out.har"), "-b", "filesize:700", "-q")
    assert p.returncode == 0, p.stderr
    pcaps, hars = files(tmp_path, ".pcapng"), files(tmp_path, ".har")
    assert len(pcaps) > 3 and len(hars) == len(pcaps)
    assert [int(NAME.match(p.name).group(1)) for p in pcaps] == list(range(1, len(pcaps) + 1))
    assert [p.name[:9] for p in pcaps] == [h.name[:9] for h in hars]
    total = Counter()
    for pcap in pcaps:
        frames = dissect(tshark, pcap)  # each read on its own (fails on a tshark error)
        total += requests(frames)
        assert not bad_expert(frames), pcap.name
    want_requests, want_urls = single
    assert total == want_requests
    assert har_urls(hars) == want_urls
    comments = [c for f in dissect(tshark, pcaps[1]) for c in f["frame.comment"] if "continued from" in c]
    assert any(f"continued from {pcaps[0].name}" in c for c in comments)


def test_files_keeps_only_the_newest(tmp_path):
    p = ecq2pcap("convert", str(FIXTURES / "v2_client.frames.jsonl.gz"), "-w", str(tmp_path / "out.pcapng"),
                 "--har", str(tmp_path / "out.har"), "-b", "filesize:200", "-b", "files:3", "-q")
    assert p.returncode == 0, p.stderr
    pcaps, hars = files(tmp_path, ".pcapng"), files(tmp_path, ".har")
    assert len(pcaps) == 3 and len(hars) == 3
    numbers = [int(NAME.match(p.name).group(1)) for p in pcaps]
    assert numbers[0] > 1 and numbers == list(range(numbers[0], numbers[0] + 3))


def test_the_ends_of_connections_do_not_start_a_file(tmp_path, tshark):
    """The FINs that close the open connections at the end of the input went to a file of their own (a made-up
    handshake and a FIN each, no event, an empty HAR); with files:1 it was the one kept, the data deleted."""
    def event(data_type: int, rendered: int, data: bytes) -> str:  # (eCapture v1.4.2, a client's connection)
        b64 = base64.b64encode(data).decode()
        return json.dumps({"log_type": 2, "payload": {
            "timestamp": 1795715800, "uuid": f"100_100_curl_5_{data_type}_10.0.0.1:40000-10.0.0.5:443",
            "src_ip": "10.0.0.1", "src_port": 40000, "dst_ip": "10.0.0.5", "dst_port": 443, "pid": 100,
            "pname": "curl", "type": rendered, "length": len(b64), "payload_base64": b64}})

    dump = tmp_path / "in.jsonl"
    dump.write_text(event(1, 1, b"GET /a HTTP/1.1\r\nHost: a\r\n\r\n") + "\n" + event(
        0, 3, b"HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n" + b"B" * 3000) + "\n")
    p = ecq2pcap("convert", str(dump), "-w", str(tmp_path / "out.pcapng"), "--har", str(tmp_path / "out.har"),
                 "-b", "filesize:2", "-b", "files:1", "-q")
    assert p.returncode == 0, p.stderr
    (pcap,), (har,) = files(tmp_path, ".pcapng"), files(tmp_path, ".har")
    assert any(f["tcp.len"] != ["0"] for f in dissect(tshark, pcap))
    assert json.loads(har.read_text())["log"]["entries"]


@pytest.mark.live
@pytest.mark.slow
def test_duration_ring_in_live(tmp_path, tshark):
    from tests.support.fake_ecapture import FakeECapture

    lines = mixed_stream.lines()
    with FakeECapture(replay=lines[:1], script=lines[1:]) as server:
        p = ecq2pcap_process("live", server.url, "-w", str(tmp_path / "out.pcapng"), "-b", "duration:3", "--duration", "2",
                     "--idle-timeout", "0", "-q")
    assert p.returncode == 0, p.stderr
    pcaps = files(tmp_path, ".pcapng")
    assert len(pcaps) >= 3  # events 1 s apart in capture time: a new file every 3 s of it
    total = Counter()
    for pcap in pcaps:
        frames = dissect(tshark, pcap)
        total += requests(frames)
        times = [float(f.first("frame.time_epoch")) for f in frames]
        assert max(times) - min(times) < 4
    assert sorted(u for _, u in total) == ["/a", "/b", "/c", "/d", "/e?x=1"]


@pytest.mark.parametrize("args,message", [
    (("-b", "files:3"), "needs -b filesize"),
    (("-b", "size:3"), "-b"),
    (("-b", "filesize:0"), "-b"),
    (("-b", "duration:5", "--har", "-"), "--har -"),
])
def test_ring_usage_errors(tmp_path, args, message):
    src = mixed_stream.write(tmp_path / "m.jsonl")
    p = ecq2pcap("convert", str(src), "-w", str(tmp_path / "out.pcapng"), *args)
    assert p.returncode == 2 and message in p.stderr and "Traceback" not in p.stderr
    p = ecq2pcap("convert", str(src), "-w", "-", "-b", "duration:5")
    assert p.returncode == 2 and "-w FILE" in p.stderr


def test_every_ring_file_name_goes_through_the_output_check(tmp_path):
    claimed = []

    class Guard:
        def claim(self, option, path):
            claimed.append((option, path))
            if len(claimed) == 3:
                raise OutputConflict(f"{option} {path}: is an input")

    from ecq2pcap.sinks.har import HarSink
    from ecq2pcap.sinks.pcapng import PcapngSink

    args = argparse.Namespace(ring_buffer=[RingSpec(duration_s=1)], write=str(tmp_path / "out.pcapng"),
                              har=str(tmp_path / "out.har"))
    ring = open_ring(args, Guard(), PcapngSink, HarSink)
    assert [o for o, _ in claimed] == ["-w", "--har"]
    with pytest.raises(OSError, match="is an input"):
        ring.rotate(5)
    assert claimed[2][0] == "-w" and re.search(r"out_00002_\d{14}\.pcapng$", claimed[2][1])


def test_ring_name_is_dumpcaps():
    import time

    when = time.mktime((2026, 12, 3, 8, 48, 55, 0, 0, -1))
    assert ring_name("/x/out.pcapng", 1, when) == "/x/out_00001_20261203084855.pcapng"
    assert ring_name("cap", 12, when) == "cap_00012_20261203084855"


def _frames_cut_by_file_changes(path):
    """A v2 stream whose big frames go out in 4,000-byte calls: an HTTP/2 response's 16,000-byte DATA frame and
    later exchanges; a WebSocket connection's 12,000-byte server frame and a client's masked 9,000-byte one, each
    followed by small messages. Small files (-b filesize:6) change in the middle of those frames."""
    import hpack

    from tests.support.frames import h2_data, h2_headers, ws_frame
    from tests.support.v2_stream import V2Stream

    s, enc, preface = V2Stream(), hpack.Encoder(), b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    s.connect(2100, 7, "curl", ("10.16.0.1", 50400), ("10.16.0.2", 443))
    s.call(2100, 7, "curl", True, preface + b"\0\0\0\x04\0\0\0\0\0")
    s.call(2100, 7, "curl", False, b"\0\0\0\x04\0\0\0\0\0")
    paths = ["/big"] + [f"/small{i}" for i in range(3, 23, 2)]
    for sid, target in zip(range(1, 23, 2), paths):  # (literal fields, a static :status: no compression state)
        block = enc.encode([(":method", "GET"), (":scheme", "https"), (":authority", "t"), (":path", target)],
                           huffman=False)
        s.call(2100, 7, "curl", True, h2_headers(sid, block, True))
        body = b"B" * 16000 if target == "/big" else b"small"
        blob = h2_headers(sid, b"\x88") + h2_data(sid, body, True)
        for k in range(0, len(blob), 4000):
            s.call(2100, 7, "curl", False, blob[k:k + 4000])
    s.connect(2200, 8, "wsc", ("10.16.0.1", 50500), ("10.16.0.2", 443))
    s.call(2200, 8, "wsc", True, b"GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                 b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    s.call(2200, 8, "wsc", False, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                  b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
    for server, frame in ((True, ws_frame(b"S" * 12000, 2, masked=False)),
                          (False, ws_frame(b"c" * 9000, 1, masked=True, key=b"\x11\x22\x33\x44"))):
        for k in range(0, len(frame), 4000):
            s.call(2200, 8, "wsc", not server, frame[k:k + 4000])
        for i in range(6):
            s.call(2200, 8, "wsc", not server, ws_frame(b"message %d" % i, 1, masked=not server))
    path.write_bytes(s.dump())


def test_frames_a_file_change_cuts_leave_the_frames_after_them_readable(tmp_path, tshark):
    """A file change in the middle of an HTTP/2 or WebSocket frame: the next file's connection started with the
    frame's rest, read as frame headers, and no frame after it was dissected there (10 of 11 responses lost; the
    server's WebSocket messages after a big frame; the Wireshark audit's finding 1). The rest is made a frame of its
    own by a made-up header (said in the comment): every file's frames add up to the single file's, no expert
    warning (the made-up headers themselves: tests/payloads/test_websocket_frames.py, test_alignment.py)."""
    dump = tmp_path / "cut.jsonl"
    _frames_cut_by_file_changes(dump)
    one, ring = tmp_path / "one.pcapng", tmp_path / "ring"
    ring.mkdir()
    assert ecq2pcap("convert", str(dump), "-w", str(one), "-q").returncode == 0
    p = ecq2pcap("convert", str(dump), "-w", str(ring / "out.pcapng"), "-b", "filesize:6", "-q")
    assert p.returncode == 0, p.stderr
    pcaps = files(ring, ".pcapng")
    assert len(pcaps) >= 4

    def counted(frames):
        return Counter({"status": sum(len(f["http2.headers.status"]) for f in frames),
                        "ws": sum(1 for f in frames for op in f["websocket.opcode"] if op in ("1", "2"))})

    whole = counted(dissect(tshark, one))
    assert whole == Counter({"status": 11, "ws": 14})
    total, rests = Counter(), 0
    for pcap in pcaps:
        frames = dissect(tshark, pcap, payload=True)
        assert not bad_expert(frames), pcap.name
        total += counted(frames)
        rests += sum(1 for f in frames for c in f["frame.comment"] if "a frame the file change cut goes on" in c)
    assert rests >= 2
    # (a cut frame's rest is a frame of its own: counted where its start, cut, is not; at most once more a cut)
    assert total["status"] == whole["status"] and whole["ws"] <= total["ws"] <= whole["ws"] + rests
