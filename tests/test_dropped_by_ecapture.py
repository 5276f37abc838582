"""eCapture says in its log when its perf buffer dropped events (``LostSamples``: gojue/ecapture v1.4.0
``user/module/imodule.go``, v2.5.1 ``internal/probe/base/base_probe.go``): what no output can hold is counted in the
summary and warned of at the log line, from every form its log comes in."""

from __future__ import annotations

import json

from ecq2pcap.dialects.v15_proto import delimit, encode_run_log
from tests.support.cli import run_main
from tests.support.zerolog_console import record

V14_LINES = [
    {"log_type": 1, "payload": {"level": "info", "Version": "linux_amd64:v1.4.2-20250927-5e0c4b7:6.1.0", "time": "t"}},
    {"log_type": 1, "payload": {"level": "warn", "lostSamples": 12, "time": "2026-12-07T10:00:00Z",
                                "message": "perf event ring buffer full, dropped samples"}},
    {"log_type": 1, "payload": {"level": "warn", "lostSamples": 30, "time": "2026-12-07T10:00:01Z",
                                "message": "perf event ring buffer full, dropped samples"}},
]


def _convert(path) -> str:
    run = run_main("convert", str(path), "-w", str(path.with_suffix(".pcapng")), text=True)
    assert run.returncode == 0
    return run.stderr


def test_v1_json_logs(tmp_path):
    dump = tmp_path / "v14.jsonl"
    dump.write_text("".join(json.dumps(line) + "\n" for line in V14_LINES))
    stderr = _convert(dump)
    assert "v14.jsonl:2: warning: eCapture dropped events: its perf buffer was full" in stderr
    assert "v14.jsonl:3: warning: eCapture dropped events" in stderr and "30 event(s)" in stderr
    assert "dropped by eCapture   42  events its perf buffer could not hold" in stderr
    assert "2 × eCapture dropped events" in stderr


def test_v15_protobuf_logs(tmp_path):
    dump = tmp_path / "v15.bin"
    dump.write_bytes(b"".join(delimit(encode_run_log(json.dumps(line["payload"]) + "\n"))
                              for line in V14_LINES))
    assert "dropped by eCapture   42  events" in _convert(dump)


def test_v2_console_logs(tmp_path):
    log = tmp_path / "console.log"
    log.write_bytes(record("", "2026-12-07T10:00:00Z", {"Version": "linux_amd64:v2.5.1-20260621-e28d4c5:6.1.0"},
                           escape=False)
                    + record("Perf buffer full, samples lost", "2026-12-07T10:00:01Z",
                             {"lost_samples": "7", "probe": "openssl"}, level="WRN"))
    stderr = _convert(log)
    assert "console.log:2: warning: eCapture dropped events" in stderr and "7 event(s)" in stderr
    assert "dropped by eCapture    7  events" in stderr


def test_nothing_said_when_nothing_was_dropped(tmp_path):
    dump = tmp_path / "v14.jsonl"
    dump.write_text(json.dumps(V14_LINES[0]) + "\n")
    assert "dropped" not in _convert(dump)
