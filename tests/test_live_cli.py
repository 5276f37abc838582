"""``ecq2pcap live`` / ``record`` end to end through ``ecq2pcap.cli.main``, against a fake eCapture replaying
the shared samples: live's pcapng and HAR are ``convert``'s of its recording (through the backlog file and
across a reconnect too), --count, --duration and a signal stop with the outputs complete, usage errors, a
server that refuses or is not there, lossless recording (to a file and to stdout), and a pcapng reader that
goes away. The capture loop's own tests, and ``cli_main`` and ``after_shb``, are in test_live.py."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ecq2pcap import live
from ecq2pcap.model import Opcode
from ecq2pcap.sources.recording import LineDecoder
from tests.support.fake_ecapture import FakeECapture, load_frames
from tests.support.recordings import as_bytes, read_recording
from tests.test_live import after_shb, cli_main

pytestmark = pytest.mark.live

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ["v140_client", "v15_client", "v2_client"]


@pytest.fixture
def no_ticks(monkeypatch):
    """The samples' capture times are in the past: wall-clock ticks would close their
    connections as idle, which ``convert`` (no ticks) would not do."""
    monkeypatch.setattr(live, "TICK_S", 3600.0)


@pytest.mark.parametrize("name", SAMPLES)
def test_cli_live_then_convert_of_the_recording_is_identical(samples_dir, tmp_path, no_ticks, name):
    replay, stream = load_frames(samples_dir / f"{name}.frames.jsonl.gz")
    pcap1, har1, rec = tmp_path / "live.pcapng", tmp_path / "live.har", tmp_path / "rec.jsonl.gz"
    with FakeECapture(replay=replay, script=stream) as fake:
        code = cli_main(["live", fake.url, "-w", str(pcap1), "--har", str(har1), "--record", str(rec),
                         "--idle-timeout", "0", "--duration", "1", "-q"])
    assert code == 0
    recorded = read_recording(rec)
    assert [m.data for m in recorded] == [as_bytes(f) for f in replay + stream]
    pcap2, har2 = tmp_path / "conv.pcapng", tmp_path / "conv.har"
    assert cli_main(["convert", str(rec), "-w", str(pcap2), "--har", str(har2), "--idle-timeout", "0", "-q"]) == 0
    assert after_shb(pcap1) == after_shb(pcap2)
    assert har1.read_bytes() == har2.read_bytes()
    json.loads(har1.read_text())


def test_cli_record_through_the_backlog_file_says_so_and_records_everything(samples_dir, tmp_path, no_ticks,
                                                                              capsys):
    replay, stream = load_frames(samples_dir / "v15_client.frames.jsonl.gz")
    rec = tmp_path / "rec.jsonl.gz"
    with FakeECapture(replay=replay, script=stream) as fake:
        code = cli_main(["record", fake.url, "-o", str(rec), "--duration", "1", "--max-backlog-memory", "1"])
    assert code == 0
    n = len(replay) + len(stream)
    err = capsys.readouterr().err
    assert re.search(rf"recorded {n} messages \(.*\) to .*; {n} message\(s\) waited in a temporary file "
                     r"\(recording fell behind", err)
    assert "recording fell behind eCapture" in err and "converting" not in err
    assert [m.data for m in read_recording(rec)] == [as_bytes(f) for f in replay + stream]


def test_cli_record_across_a_reconnect_says_so_and_records_both_connections(samples_dir, tmp_path, no_ticks,
                                                                              capsys):
    replay, stream = load_frames(samples_dir / "v140_client.frames.jsonl.gz")
    half = len(stream) // 2
    script = lambda i: stream[:half] if i == 0 else stream[half:]  # noqa: E731
    rec = tmp_path / "rec.jsonl"
    with FakeECapture(replay=replay, script=script, drop_after=len(replay) + half) as fake:
        code = cli_main(["record", fake.url, "-o", str(rec), "--duration", "2"])
        assert fake.connections == 2
    assert code == 0
    n = 2 * len(replay) + len(stream)
    assert re.search(rf"recorded {n} messages \(.*\) to {re.escape(str(rec))}; 1 reconnect\(s\)",
                     capsys.readouterr().err)
    assert [m.data for m in read_recording(rec)] == [as_bytes(f) for f in replay + stream[:half] + replay
                                                    + stream[half:]]


def test_cli_live_through_the_backlog_file_is_identical_to_convert(samples_dir, tmp_path, no_ticks, capsys,
                                                                     monkeypatch):
    """With one byte of backlog memory every message waits in the temporary file (written and read back in pieces
    smaller than a message): the outputs are still those of convert of the recording, and the summary
    says the converter fell behind."""
    from ecq2pcap.sources import backlog

    monkeypatch.setattr(backlog, "WRITE_CHUNK", 100)
    monkeypatch.setattr(backlog, "READ_CHUNK", 37)
    replay, stream = load_frames(samples_dir / "v15_client.frames.jsonl.gz")  # (binary frames)
    pcap1, har1, rec = tmp_path / "live.pcapng", tmp_path / "live.har", tmp_path / "rec.jsonl.gz"
    with FakeECapture(replay=replay, script=stream) as fake:
        code = cli_main(["live", fake.url, "-w", str(pcap1), "--har", str(har1), "--record", str(rec),
                         "--idle-timeout", "0", "--duration", "1", "--max-backlog-memory", "1"])
    assert code == 0
    err = capsys.readouterr().err
    assert f"{len(replay) + len(stream)} message(s) waited in a temporary file" in err
    assert "converting fell behind eCapture" in err
    assert [m.data for m in read_recording(rec)] == [as_bytes(f) for f in replay + stream]
    pcap2, har2 = tmp_path / "conv.pcapng", tmp_path / "conv.har"
    assert cli_main(["convert", str(rec), "-w", str(pcap2), "--har", str(har2), "--idle-timeout", "0", "-q"]) == 0
    assert after_shb(pcap1) == after_shb(pcap2)
    assert har1.read_bytes() == har2.read_bytes()


def test_cli_live_count(samples_dir, tmp_path, no_ticks, capsys):
    replay, stream = load_frames(samples_dir / "v140_client.frames.jsonl.gz")
    with FakeECapture(replay=replay, script=stream) as fake:
        t0 = time.monotonic()
        code = cli_main(["live", fake.url, "--har", str(tmp_path / "o.har"), "-w", str(tmp_path / "o.pcapng"),
                         "--count", "3"])
        assert time.monotonic() - t0 < 3
    assert code == 0
    err = capsys.readouterr().err
    assert "events 3" in err and "ecq2pcap summary" in err
    json.loads((tmp_path / "o.har").read_text())


def test_cli_live_duration_with_only_heartbeats(tmp_path, capsys):
    from scapy.utils import PcapNgReader

    with FakeECapture(heartbeat_s=0.1, immediate_heartbeat=True) as fake:
        code = cli_main(["live", fake.url, "--har", str(tmp_path / "o.har"), "-w", str(tmp_path / "o.pcapng"),
                         "--duration", "0.5"])
    assert code == 0
    err = capsys.readouterr().err
    assert int(re.search(r"heartbeats (\d+)", err)[1]) >= 1 and re.search(r"HAR entries\s+0\n", err)
    assert json.loads((tmp_path / "o.har").read_text())["log"]["entries"] == []
    with PcapNgReader(str(tmp_path / "o.pcapng")) as reader:  # a complete file, without packets
        assert list(reader) == []


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_cli_live_signal_completes_outputs(samples_dir, tmp_path, no_ticks, sig):
    replay, stream = load_frames(samples_dir / "v140_client.frames.jsonl.gz")
    pcap1, har1, rec = tmp_path / "live.pcapng", tmp_path / "live.har", tmp_path / "rec.jsonl"
    with FakeECapture(replay=replay, script=stream) as fake:
        def stop_later():
            while fake.scripts_done < 1:
                time.sleep(0.01)
            time.sleep(0.3)
            os.kill(os.getpid(), sig)

        threading.Thread(target=stop_later, daemon=True).start()
        code = cli_main(["live", fake.url, "-w", str(pcap1), "--har", str(har1), "--record", str(rec),
                         "--idle-timeout", "0", "-q"])
    assert code == 0
    har = json.loads(har1.read_text())
    assert har["log"]["entries"]
    pcap2, har2 = tmp_path / "conv.pcapng", tmp_path / "conv.har"
    assert cli_main(["convert", str(rec), "-w", str(pcap2), "--har", str(har2), "--idle-timeout", "0", "-q"]) == 0
    assert after_shb(pcap1) == after_shb(pcap2)
    assert har1.read_bytes() == har2.read_bytes()


@pytest.mark.parametrize("command", ["live", "record"])
def test_cli_invalid_url_is_a_usage_error(tmp_path, capsys, command):
    out = ["-w", str(tmp_path / "o.pcapng")] if command == "live" else ["-o", str(tmp_path / "o.jsonl")]
    assert cli_main([command, "http://127.0.0.1:28257/", *out]) == 2
    assert "ws://" in capsys.readouterr().err


def test_cli_403_without_origin(tmp_path, capsys):
    with FakeECapture() as fake:
        code = cli_main(["record", fake.url, "-o", str(tmp_path / "r.jsonl"), "--origin", ""])
        assert fake.rejected == 1
    assert code == 2
    err = capsys.readouterr().err
    assert "403" in err and "Origin" in err and "Traceback" not in err


def test_cli_no_server_retries_then_gives_up(tmp_path, capsys):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = cli_main(["record", f"ws://127.0.0.1:{port}/", "-o", str(tmp_path / "r.jsonl"), "--retry-for", "0.5"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("cannot connect") >= 2 and "Connection refused" in err and "gave up" in err
    assert "Traceback" not in err


def test_cli_record_is_lossless_for_binary_frames(samples_dir, tmp_path, capfd):
    replay, stream = load_frames(samples_dir / "v2_client.frames.jsonl.gz")
    rec = tmp_path / "rec.jsonl.gz"
    with FakeECapture(replay=replay, script=stream) as fake:
        assert cli_main(["record", fake.url, "-o", str(rec), "--duration", "1", "-q"]) == 0
    assert capfd.readouterr().err == ""  # -q: nothing to say when all went well (not even "connected to")
    with open(rec, "rb") as f:
        assert f.read(2) == b"\x1f\x8b"
    recorded = read_recording(rec)
    assert [m.data for m in recorded] == [as_bytes(f) for f in replay + stream]
    assert {m.opcode for m in recorded} == {Opcode.BINARY}
    assert all(m.recv_time_ns for m in recorded)


def test_cli_record_to_stdout(samples_dir, capfdbinary):
    """(Captured at the file descriptor: the recording is written by record's forked writing process.)"""
    replay, stream = load_frames(samples_dir / "v15_client.frames.jsonl.gz")
    with FakeECapture(replay=replay, script=stream) as fake:
        assert cli_main(["record", fake.url, "-o", "-", "--duration", "0.7", "-q"]) == 0
    lines = capfdbinary.readouterr().out.splitlines()
    dec = LineDecoder()
    msgs = [m for m in (dec.message(ln, str(i)) for i, ln in enumerate(lines)) if m is not None]
    assert dec.url.startswith("ws://127.0.0.1:")
    assert [m.data for m in msgs] == [as_bytes(f) for f in replay + stream]


@pytest.mark.parametrize("more_traffic", [True, False], ids=["on-next-write", "while-idle"])
def test_cli_live_stops_when_the_pcapng_reader_goes_away(samples_dir, tmp_path, more_traffic):
    """``live -w - | wireshark``: when Wireshark quits, stop and still complete the HAR."""
    replay, stream = load_frames(samples_dir / "v140_client.frames.jsonl.gz")
    har = tmp_path / "o.har"
    with FakeECapture(replay=replay, script=stream) as fake:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ecq2pcap", "live", fake.url, "-w", "-", "--har", str(har), "-q"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
        )
        try:
            assert proc.stdout.read(64)[:4] == b"\x0a\x0d\x0d\x0a"
            while fake.scripts_done < 1:
                time.sleep(0.01)
            proc.stdout.close()  # the reader goes away
            for _ in range(30):
                if more_traffic:  # the next write fails
                    fake.broadcast(stream)
                if proc.poll() is not None:
                    break
                time.sleep(0.1)
            code = proc.wait(10)
        finally:
            if proc.poll() is None:
                proc.kill()
    err = proc.stderr.read().decode()
    assert code == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err
    assert json.loads(har.read_text())["log"]["entries"]
