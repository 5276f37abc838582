"""Stderr's reader going away (``2>&1 | head``, a closed log pipe or ssh session) never stops a run: the messages
are dropped, the work goes on and ends as it would have. Before, the first message said afterwards raised
BrokenPipeError: a conversion stopped with empty outputs and exit 0, a capture stopped at eCapture's next
restart with everything after it lost, exit 0."""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import sys

import pytest

from ecq2pcap.commands.stderr import UnfailingStream, unfailing
from tests.conftest import FIXTURES, ROOT
from tests.support.pcapng import epbs
from tests.support.fake_ecapture import FakeECapture, event_frame
from tests.support.recordings import read_recording

ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def _closed_pipe() -> int:
    """The write end of a pipe whose reader is gone."""
    r, w = os.pipe()
    os.close(r)
    return w


def test_convert_with_stderr_gone_writes_the_same_outputs(tmp_path):
    dump = tmp_path / "in.jsonl"
    dump.write_bytes(b"not json\n" + gzip.decompress((FIXTURES / "v140_client.dump.jsonl.gz").read_bytes()))
    outs = {}
    for name, stderr in (("gone", _closed_pipe()), ("kept", subprocess.PIPE)):
        out = tmp_path / name
        proc = subprocess.run([sys.executable, "-m", "ecq2pcap", "convert", str(dump), "-w", f"{out}.pcapng",
                               "--har", f"{out}.har"], env=ENV, stderr=stderr, stdout=subprocess.DEVNULL, timeout=120)
        if name == "gone":
            os.close(stderr)
        else:
            assert b"not json" in proc.stderr or b":1:" in proc.stderr  # (the bad line is said, to a reader)
        outs[name] = (proc.returncode, (tmp_path / f"{name}.pcapng").read_bytes(), (tmp_path / f"{name}.har").read_bytes())
    assert outs["gone"][0] == outs["kept"][0] == 0
    assert len(epbs(tmp_path / "gone.pcapng")) > 10
    assert outs["gone"][1:] == outs["kept"][1:]  # (pcapng: no timestamps of the run in it; HAR: the same)


@pytest.mark.live
def test_a_capture_goes_on_after_stderrs_reader_left(tmp_path):
    rec = tmp_path / "rec.jsonl"
    script = lambda i: [event_frame(n) for n in range(5)] if i == 0 else [event_frame(n) for n in range(100, 300)]
    with FakeECapture(script=script, rate=400, close_after_script=False) as srv:
        r, w = os.pipe()
        proc = subprocess.Popen([sys.executable, "-m", "ecq2pcap", "record", srv.url, "-o", str(rec),
                                 "--duration", "4"], cwd=tmp_path, env=ENV, stderr=w, stdout=subprocess.DEVNULL)
        os.close(w)
        try:
            first = os.read(r, 4096)  # the first line ("connected to ..."), then the reader goes away
            os.close(r)
            assert b"connected" in first
            assert srv.wait_clients(1)
            srv.restart(0.3)  # a restart of eCapture: "reconnecting" and "connected" are said to nobody
            assert proc.wait(30) == 0
        finally:
            proc.kill()
    got = [m for m in read_recording(rec) if m.opcode.name == "BINARY"]
    assert len(got) == 205  # (5 before the restart, 200 after)


def test_the_stream_drops_writes_after_one_fails():
    class Failing(io.StringIO):
        calls = 0

        def write(self, text):
            Failing.calls += 1
            raise BrokenPipeError(32, "Broken pipe")

    s = unfailing(Failing())
    assert isinstance(s, UnfailingStream) and unfailing(s) is s
    print("one", file=s, flush=True)
    print("two", file=s, flush=True)
    assert s.broken and Failing.calls == 1 and not s.isatty()
