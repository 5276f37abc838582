"""The command line as a user meets it: real processes, exit codes, one-line errors."""

import gzip
import os
import subprocess
import sys

import pytest

from tests.conftest import FIXTURES, ROOT

ENV = {**os.environ, "PYTHONPATH": str(ROOT)}

SAMPLE = FIXTURES / "v140_client.dump.jsonl.gz"


def ecq2pcap(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "ecq2pcap", *args], input=stdin, capture_output=True, timeout=120,
                          env=ENV)


def test_version():
    from ecq2pcap import __version__

    p = ecq2pcap("--version")
    assert p.returncode == 0 and p.stdout.decode().strip() == f"ecq2pcap {__version__}"


@pytest.mark.parametrize("args,message", [
    ((), b"usage"),
    (("convert", str(SAMPLE)), b"needs an output"),
    (("convert", "/no/such/file.jsonl", "--har", "x.har"), b"/no/such/file.jsonl: cannot read: no such file"),
    (("convert", str(SAMPLE), "--har", "/no/such/dir/x.har"), b"cannot write"),
    (("convert", str(SAMPLE), "-w", "x.pcapng", "--port-map", "443:http"), b"--port-map"),
    (("convert", str(SAMPLE), "-w", "x.pcapng", "--mss", "0"), b"--mss"),
    (("live", "http://127.0.0.1:1/", "-w", "x.pcapng"), b"ws://"),
])
def test_usage_errors_exit_2_with_one_line_and_no_traceback(tmp_path, args, message):
    p = subprocess.run([sys.executable, "-m", "ecq2pcap", *args], capture_output=True, timeout=60, cwd=tmp_path,
                       env=ENV)
    assert p.returncode == 2
    assert message in p.stderr and b"Traceback" not in p.stderr


def test_stdin_and_stdout(tmp_path):
    p = ecq2pcap("convert", "-", "-w", "-", "--har", str(tmp_path / "o.har"), "-q", stdin=gzip.decompress(SAMPLE.read_bytes()))
    assert p.returncode == 0
    assert p.stdout[:4] == b"\x0a\x0d\x0d\x0a"  # pcapng section header block
    assert (tmp_path / "o.har").stat().st_size > 1000


def test_summary_on_stderr(tmp_path):
    p = ecq2pcap("convert", str(SAMPLE), "-w", str(tmp_path / "o.pcapng"))
    err = p.stderr.decode()
    assert p.returncode == 0
    for word in ("messages", "connections", "packets", "HAR entries", "skipped", "warnings"):
        assert word in err
    assert "connections         4" in err


def test_truncated_gzip_converts_what_is_there_and_exits_1(tmp_path):
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(SAMPLE.read_bytes()[:-200])
    p = ecq2pcap("convert", str(cut), "--har", str(tmp_path / "o.har"), "-q")
    assert p.returncode == 1 and b"cannot read further" in p.stderr
    assert (tmp_path / "o.har").read_bytes().rstrip().endswith(b"}")  # the HAR was completed


def test_the_program_module_imports_no_command_so_ctrl_c_during_the_imports_is_handled():
    """``python -m ecq2pcap`` and the console script import ``ecq2pcap.cli``: what takes time to import (the
    commands, the pipeline) is imported inside entry(), where a Ctrl-C is an exit 130 without a traceback."""
    code = "import sys, ecq2pcap.cli; print(sorted(m for m in sys.modules if m.startswith('ecq2pcap.')))"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=ENV)
    assert p.returncode == 0 and p.stdout.strip() == "['ecq2pcap.cli']", p.stdout + p.stderr


def test_ctrl_c_before_a_command_takes_over_exits_130_quietly(monkeypatch, capsys):
    from ecq2pcap import cli
    from ecq2pcap.commands.common import EXIT_INTERRUPTED

    def interrupted():
        raise KeyboardInterrupt  # (as when Ctrl-C comes while the commands are imported)

    monkeypatch.setattr(cli, "_commands", interrupted)
    with pytest.raises(SystemExit) as exit_:
        cli.entry()
    assert exit_.value.code == EXIT_INTERRUPTED == cli.INTERRUPTED
    assert capsys.readouterr().err == ""
