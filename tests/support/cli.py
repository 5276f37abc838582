"""The command line in-process: ``main(argv)`` with stdout and stderr captured, shaped like
``subprocess.run(..., capture_output=True)`` so a test can swap one for the other. (A process start costs
~0.3 s of imports; tests that need a real process, signals, stdin/stdout pipes or the extcap launcher start
one.)"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import time
from pathlib import Path

from ecq2pcap.cli import main


def run_main(*args: str, text: bool = False, cwd: Path | str | None = None) -> subprocess.CompletedProcess:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.chdir(cwd or "."), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code if isinstance(exc.code, int) else 2
    stdout, stderr = out.getvalue(), err.getvalue()
    if not text:
        stdout, stderr = stdout.encode(), stderr.encode()
    return subprocess.CompletedProcess(list(args), code, stdout, stderr)


def sigint_as_from_a_terminal() -> None:
    """``preexec_fn`` for a process a test sends SIGINT: SIGINT at its default, as a terminal's foreground job
    has it. A shell's background job (``cmd &`` without job control, as CI scripts run) inherits it ignored, and
    Python then never installs its KeyboardInterrupt handler, so Ctrl-C would do nothing."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def stop_signals_at_default() -> None:
    """``preexec_fn`` for a process a test sends stop signals: Ctrl-C, SIGTERM and SIGHUP at their default, as an
    interactive session starts it, whatever the test run inherited (a background job's SIGINT ignored, see
    :func:`sigint_as_from_a_terminal`; a run under ``nohup``'s SIGHUP ignored, which ecq2pcap keeps ignored)."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)


def under_way(proc: subprocess.Popen, ready, timeout: float = 60) -> None:
    """Wait until ``ready()`` says the run is well under way (however busy the machine); fails if ``proc`` ends first."""
    deadline = time.monotonic() + timeout
    while not ready():
        assert time.monotonic() < deadline and proc.poll() is None, "the conversion did not get under way"
        time.sleep(0.02)


def signal_when(proc: subprocess.Popen, ready, sig: int, group: bool, timeout: float = 60) -> None:
    """Once the run is :func:`under_way`, ``sig`` to ``proc``: to its whole process group when ``group`` (a terminal's
    Ctrl-C, a closed terminal's hang-up), else to it alone (``kill PID``)."""
    under_way(proc, ready, timeout)
    if group:
        os.killpg(proc.pid, sig)
    else:
        os.kill(proc.pid, sig)
