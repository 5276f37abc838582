"""The command line in-process: ``main(argv)`` with stdout and stderr captured, shaped like
``subprocess.run(..., capture_output=True)`` so a test can swap one for the other. (A process start costs
~0.3 s of imports; tests that need a real process, signals, stdin/stdout pipes or the extcap launcher start
one.)"""

from __future__ import annotations

import contextlib
import io
import signal
import subprocess
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
