"""``ecq2pcap summary``: its figures equal what tshark counts in the pcapng of the same input."""

import json
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict
from urllib.parse import urlsplit

import pytest

from tests.conftest import FIXTURES, ROOT
from tests.support.dissect import dissect
from tests.support import mixed_stream
from tests.support.cli import run_main

ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def ecq2pcap(*args, cwd=None):
    """The CLI in-process (the live test starts a real process)."""
    return run_main(*args, cwd=cwd)


def ecq2pcap_process(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "ecq2pcap", *args], capture_output=True, timeout=180, env=ENV,
                          cwd=cwd)


def _inputs(tmp_path_factory):
    mixed = mixed_stream.write(tmp_path_factory.mktemp("mixed") / "mixed.jsonl")
    return {"v2_client": FIXTURES / "v2_client.frames.jsonl.gz", "v140_server": FIXTURES / "v140_server.dump.jsonl.gz",
            "mixed": mixed}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return _inputs(tmp_path_factory)


def _tshark_view(tshark, pcap):
    """Per client port: frames/bytes/payload each way, duration, requests and statuses, as tshark counts them
    (what ``-z conv,tcp`` tabulates, summed here from tshark's per-frame fields of the one dissect run)."""
    client_of_stream, times = {}, defaultdict(list)
    per = defaultdict(lambda: {"frames_c2s": 0, "frames_s2c": 0, "bytes_c2s": 0, "bytes_s2c": 0, "payload_c2s": 0,
                               "payload_s2c": 0, "requests": Counter(), "statuses": Counter()})
    for f in dissect(tshark, pcap):
        stream, sport = f.first("tcp.stream"), int(f.first("tcp.srcport"))
        if f.flag("tcp.flags.syn") and not f.flag("tcp.flags.ack"):
            client_of_stream[stream] = sport
        client = client_of_stream[stream]
        row = per[client]
        way = "c2s" if sport == client else "s2c"
        row[f"frames_{way}"] += 1
        row[f"bytes_{way}"] += int(f.first("frame.len"))
        row[f"payload_{way}"] += int(f.first("tcp.len"))
        times[client].append(float(f.first("frame.time_epoch")))
        for m, u in [*zip(f["http.request.method"], f["http.request.uri"], strict=True),
                     *zip(f["http2.headers.method"], f["http2.headers.path"], strict=True)]:
            row["requests"][(m, u)] += 1
        for code in f["http.response.code"] + f["http2.headers.status"]:
            row["statuses"][int(code)] += 1
    for client, row in per.items():
        row["duration"] = max(times[client]) - min(times[client])
    return per


@pytest.mark.parametrize("name", ["v2_client", "v140_server", "mixed"])
def test_summary_json_equals_tshark_counts_of_the_pcapng(tmp_path, tshark, inputs, name):
    src = inputs[name]
    pcap = tmp_path / "out.pcapng"
    assert ecq2pcap("convert", str(src), "-w", str(pcap), "-q").returncode == 0
    p = ecq2pcap("summary", str(src), "--json", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert list(tmp_path.iterdir()) == [pcap]  # the summary wrote nothing
    doc = json.loads(p.stdout)
    assert set(doc) == {"connections", "exchanges"}
    ts = _tshark_view(tshark, pcap)
    assert len(doc["connections"]) == len(ts)
    for c in doc["connections"]:
        t = ts[int(c["client"].rsplit(":", 1)[1])]
        for key in ("frames_c2s", "frames_s2c", "bytes_c2s", "bytes_s2c", "payload_c2s", "payload_s2c"):
            assert c[key] == t[key], (c["id"], key)
        assert abs(c["duration"] - t["duration"]) < 1e-4
        mine = [e for e in doc["exchanges"] if e["connection"] == c["id"]]
        assert c["exchanges"] == len(mine)
        requests = Counter((e["method"], _path(e["url"])) for e in mine if e["method"])
        assert requests == t["requests"], c["id"]
        assert Counter(e["status"] for e in mine if e["status"]) == t["statuses"], c["id"]


def _path(url):
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def test_summary_text_tables_and_filters(tmp_path, inputs):
    p = ecq2pcap("summary", str(inputs["mixed"]), "--host", "*.example.com", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    text = p.stdout.decode()
    assert text.startswith("Connections: 3 (2 filtered out)\n")
    assert "10.0.0.9:50000 → 10.0.0.5:443 (as 80)" in text and "nginx" in text
    assert "HTTP exchanges: 3" in text
    assert re.search(r"POST\s+https://shop\.example\.com/d\s+201\s+4\b", text)
    assert "www.other.test" not in text
    assert list(tmp_path.iterdir()) == []


@pytest.mark.live
def test_summary_of_a_live_stream(tmp_path):
    from tests.support.fake_ecapture import FakeECapture, load_frames

    replay, frames = load_frames(FIXTURES / "v2_client.frames.jsonl.gz")
    with FakeECapture(replay=replay, script=frames) as server:
        p = ecq2pcap_process("summary", server.url, "--json", "--duration", "2", "--idle-timeout", "0", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert {e["method"] for e in doc["exchanges"]} >= {"GET", "POST"}
    assert list(tmp_path.iterdir()) == []


def test_summary_refuses_files_and_url_together(tmp_path, inputs):
    p = ecq2pcap("summary", str(inputs["mixed"]), "ws://127.0.0.1:1/")
    assert p.returncode == 2 and b"Traceback" not in p.stderr


def test_summary_json_says_the_connections_a_selection_left_out(tmp_path, inputs):
    """The tables' heading said "(N filtered out)"; the JSON said nothing of them. Now "filtered_out", which with the
    connections kept makes those of the unfiltered summary; no such key without a selection."""
    src = str(inputs["v2_client"])
    whole = json.loads(ecq2pcap("summary", src, "--json").stdout)
    kept = json.loads(ecq2pcap("summary", src, "--json", "--comm", "curl").stdout)
    assert "filtered_out" not in whole and kept["filtered_out"] > 0
    assert len(kept["connections"]) + kept["filtered_out"] == len(whole["connections"])
    assert {c["comm"] for c in kept["connections"]} == {"curl"}
