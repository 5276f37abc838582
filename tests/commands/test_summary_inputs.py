"""``summary`` reads its dump files as ``convert`` does: ``--max-message-size`` skips the same lines (its
tables are those of the pcapng convert writes with the same options), and an input that cannot be read is
the same usage error (exit 2, nothing printed on stdout)."""

import fcntl
import gzip
import json
import os
import signal
import struct
import subprocess
import sys
import termios
import time

from tests.conftest import FIXTURES, ROOT
from tests.support.cli import run_main, stop_signals_at_default

SAMPLE = FIXTURES / "v140_client.dump.jsonl.gz"


def test_max_message_size_skips_the_lines_convert_skips(tmp_path):
    limit = "2K"  # the sample's line of an HTTP/2 download's frames (~400 KB) is over it, its others are not
    convert = run_main("convert", str(SAMPLE), "-w", str(tmp_path / "o.pcapng"), "--max-message-size", limit,
                       text=True)
    assert convert.returncode == 0
    assert "(limit: --max-message-size)" in convert.stderr
    summary = run_main("summary", str(SAMPLE), "--json", "--max-message-size", limit, text=True)
    assert summary.returncode == 0
    assert "(limit: --max-message-size)" in summary.stderr
    whole = json.loads(run_main("summary", str(SAMPLE), "--json", text=True).stdout)
    cut = json.loads(summary.stdout)
    # the skipped line held the HTTP/2 connection's answers: fewer exchanges than the whole sample has
    assert len(cut["exchanges"]) < len(whole["exchanges"])


def test_a_directory_input_is_a_usage_error(tmp_path):
    result = run_main("summary", str(tmp_path), text=True)
    assert result.returncode == 2
    assert "is a directory" in result.stderr
    assert result.stdout == ""


def test_sigterm_stops_a_summary_of_stdin_as_ctrl_c_does(tmp_path):
    """``summary -`` of a pipe that stays open (a live ``websocat`` dump) stopped with SIGTERM or SIGHUP (``kill``,
    ``timeout``, a closed terminal) prints the tables of what it read and exits 130, as convert completes its
    outputs; the signal killed it before, without a table."""
    for sig in (signal.SIGTERM, signal.SIGHUP):
        proc = subprocess.Popen([sys.executable, "-m", "ecq2pcap", "summary", "-"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path,
                                env={**os.environ, "PYTHONPATH": str(ROOT)}, preexec_fn=stop_signals_at_default)
        try:
            proc.stdin.write(gzip.decompress(SAMPLE.read_bytes()))
            proc.stdin.flush()
            deadline = time.monotonic() + 60
            while _unread(proc.stdin) and time.monotonic() < deadline:  # (until the summary has read it all)
                time.sleep(0.05)
            time.sleep(0.5)
            proc.send_signal(sig)
            out, err = proc.communicate(timeout=60)
        finally:
            proc.kill()
        assert proc.returncode == 130, (sig, proc.returncode)
        assert out.startswith(b"Connections: ") and b"HTTP exchanges: " in out
        assert b"interrupted: the tables are of what was read" in err and b"outputs" not in err, err  # (it has none)


def _unread(pipe) -> int:
    """Bytes written to ``pipe`` that its reader has not read yet (Linux answers FIONREAD on a pipe's write end)."""
    return struct.unpack("i", fcntl.ioctl(pipe.fileno(), termios.FIONREAD, b"\0\0\0\0"))[0]
