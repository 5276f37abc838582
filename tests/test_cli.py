"""The command line as a user meets it: real processes, exit codes, one-line errors."""

import gzip
import os
import signal
import subprocess
import sys

import pytest

from ecq2pcap.stops import STOP_SIGNALS
from tests.conftest import FIXTURES, ROOT

ENV = {**os.environ, "PYTHONPATH": str(ROOT)}

SAMPLE = FIXTURES / "v140_client.dump.jsonl.gz"


def ecq2pcap(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "ecq2pcap", *args], input=stdin, capture_output=True, timeout=120,
                          env=ENV)


def test_version():
    from ecq2pcap import __version__

    p = ecq2pcap("--version")
    assert p.returncode == 0 and p.stdout.decode().strip() in (f"ecq2pcap {__version__} (packets and checksums in C)",
                                                               f"ecq2pcap {__version__} (pure Python: its C part was not built)")
    forced = subprocess.run([sys.executable, "-m", "ecq2pcap", "--version"], capture_output=True, text=True,
                            timeout=120, env={**ENV, "ECQ2PCAP_PURE_PYTHON": "1"})
    assert forced.stdout == f"ecq2pcap {__version__} (pure Python: ECQ2PCAP_PURE_PYTHON is set)\n", forced


@pytest.mark.parametrize("args,message", [
    ((), b"usage"),
    (("convert", str(SAMPLE)), b"needs an output"),
    (("convert", "/no/such/file.jsonl", "--har", "x.har"), b"/no/such/file.jsonl: cannot read: no such file"),
    (("convert", str(SAMPLE), "--har", "/no/such/dir/x.har"), b"cannot write"),
    (("convert", str(SAMPLE), "-w", "x.pcapng", "--port-map", "443:http"), b"--port-map"),
    (("convert", str(SAMPLE), "-w", "x.pcapng", "--mss", "0"), b"--mss"),
    (("convert", str(SAMPLE), "-w", "x.pcapng", "--mss", "23"), b"--mss"),  # (HTTP/2's preface split: not decoded)
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
    commands, the pipeline) is imported inside entry(), where a Ctrl-C is an exit 130 without a traceback (and
    ecq2pcap.stops, which takes the stop signals first: the signal module's)."""
    code = "import sys, ecq2pcap.cli; print(sorted(m for m in sys.modules if m.startswith('ecq2pcap.')))"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=ENV)
    assert p.returncode == 0 and p.stdout.strip() == "['ecq2pcap.cli', 'ecq2pcap.stops']", p.stdout + p.stderr


IMPORTED = ("import sys, runpy; sys.argv = ['ecq2pcap', *sys.argv[1:]]\n"
            "try:\n    runpy.run_module('ecq2pcap', run_name='__main__')\n"
            "except SystemExit:\n    pass\n"
            "print(' '.join(sorted(m for m in sys.modules if m.startswith('ecq2pcap.'))), file=sys.stderr)")


def imported_by(*argv: str) -> tuple[subprocess.CompletedProcess, set[str]]:
    """Run ``ecq2pcap ARGV`` as the program does; what it printed, and the ecq2pcap modules it imported."""
    p = subprocess.run([sys.executable, "-c", IMPORTED, *argv], capture_output=True, text=True, timeout=60, env=ENV)
    return p, set(p.stderr.strip().splitlines()[-1].split())


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["extcap", "--extcap-interfaces"],
                                  ["extcap", "--extcap-dlts", "--extcap-interface", "ecapture"], ["wireshark", "--help"]])
def test_what_wireshark_asks_at_start_and_help_import_no_conversion(argv):
    """Wireshark runs every extcap at start (``--extcap-interfaces``) and when it shows the interface: each
    answer waited ~0.5 s for the whole pipeline's imports. Only the command being run is imported."""
    p, modules = imported_by(*argv)
    assert p.returncode == 0, p.stderr
    assert not modules & {"ecq2pcap.pipeline", "ecq2pcap.commands.common", "ecq2pcap.sinks.har", "ecq2pcap.live"}, \
        modules
    if argv == ["--help"]:
        for name in cli_commands():  # the list names every command, with its line
            assert name in p.stdout


def test_each_command_imports_only_what_it_runs(tmp_path):
    p, modules = imported_by("convert", str(SAMPLE), "-w", str(tmp_path / "o.pcapng"), "-q")
    assert p.returncode == 0 and (tmp_path / "o.pcapng").stat().st_size > 1000, p.stderr
    assert "ecq2pcap.pipeline" in modules and "ecq2pcap.sources.websocket" not in modules, modules
    p, modules = imported_by("convert", "--help")
    assert p.returncode == 0 and "--jobs" in p.stdout  # a command's own help has all its options


def test_a_command_help_and_a_misspelt_command_are_answered_as_before():
    p = subprocess.run([sys.executable, "-m", "ecq2pcap", "convrt", "x"], capture_output=True, text=True,
                       timeout=60, env=ENV)
    assert p.returncode == 2 and "invalid choice: 'convrt'" in p.stderr
    p = subprocess.run([sys.executable, "-m", "ecq2pcap"], capture_output=True, text=True, timeout=60, env=ENV)
    assert p.returncode == 2 and "convert" in p.stderr and "wireshark" in p.stderr


def cli_commands() -> list[str]:
    from ecq2pcap import cli
    return list(cli.COMMANDS)


def test_ctrl_c_before_a_command_takes_over_exits_130_quietly(monkeypatch, capsys):
    from ecq2pcap import cli
    from ecq2pcap.commands.exits import EXIT_INTERRUPTED

    def interrupted(command):
        raise KeyboardInterrupt  # (as when Ctrl-C comes while a command's modules are imported)

    monkeypatch.setattr(cli, "_load", interrupted)
    monkeypatch.setattr(sys, "argv", ["ecq2pcap", "convert", "in.jsonl", "-w", "out.pcapng"])
    before = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    try:
        with pytest.raises(SystemExit) as exit_:
            cli.entry()
    finally:  # (entry() took the stop signals to note them while starting; a process would end here, this one goes
        for sig, handler in before.items():  # on to other tests, which found SIGINT's handler still taken)
            signal.signal(sig, handler)
    assert exit_.value.code == EXIT_INTERRUPTED == cli.INTERRUPTED
    assert capsys.readouterr().err == ""
