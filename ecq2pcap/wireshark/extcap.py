"""``ecq2pcap extcap``: eCapture as a capture interface in Wireshark's list (Wireshark's extcap protocol).

Wireshark runs the installed launcher (``ecq2pcap wireshark install``) with:

* ``--extcap-interfaces [--extcap-version=V]`` → the ``extcap`` and ``interface`` lines;
* ``--extcap-interface ecapture --extcap-dlts`` → the link type (Ethernet);
* ``--extcap-interface ecapture --extcap-config`` → the options dialog (URL, Origin, filters,
  port map, keep ports, reconnect);
* ``--extcap-interface ecapture --capture --fifo PATH [options]`` → pcapng into the FIFO,
  flushed after every event, exactly what ``ecq2pcap live URL -w -`` writes.

A capture stops cleanly (exit 0, connections finished) on SIGTERM/SIGINT or when the
reader closes the FIFO. Errors follow the extcap convention: a message on stderr and a
non-zero exit, which Wireshark shows in a dialog; nothing else is written to stderr
(Wireshark treats any stderr output as an error), so ``live``'s messages are kept and
shown only when the capture fails. Events that are not TLS data (bash, SQL, ...) have no
place in a capture interface and are not written (record with ``ecq2pcap record`` for them).
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable

from .. import __version__

__all__ = ["INTERFACE", "add_extcap_parser", "cmd_extcap", "joined_values"]

INTERFACE = "ecapture"
DEFAULT_URL = "ws://127.0.0.1:28257/"
HELP_URL = "https://github.com/gojue/ecapture"
DLT_EN10MB = 1
EXIT_ERROR = 1


# the options that take a value: Wireshark passes it as the next argument, which argparse refuses when it starts
# with "-" (a thread named "-x" in the Filters options: "argument --comm: expected one argument")
_VALUED = frozenset(("--url", "--origin", "--pid", "--comm", "--host", "--port", "--port-map", "--fifo",
                     "--extcap-interface", "--extcap-capture-filter", "--extcap-control-in", "--extcap-control-out",
                     "--debug-file", "--extcap-reload-option"))


def joined_values(argv: list[str]) -> list[str]:
    """``argv`` with each of :data:`_VALUED`'s options joined to its value (``--comm -x`` → ``--comm=-x``)."""
    out, i = [], 0
    while i < len(argv):
        if argv[i] in _VALUED and i + 1 < len(argv):
            out.append(f"{argv[i]}={argv[i + 1]}")
            i += 2
        else:
            out.append(argv[i])
            i += 1
    return out


def _config_lines() -> list[str]:
    from ..sources.websocket import DEFAULT_ORIGIN

    args = [
        ("--url", "eCaptureQ address", "string", DEFAULT_URL,
         "eCapture's --ecaptureq address (ws:// or wss://)", "{required=true}"),
        ("--origin", "Origin header", "string", DEFAULT_ORIGIN,
         "eCapture refuses a WebSocket handshake without an Origin header", ""),
        ("--pid", "Only process ids", "string", "", "comma-separated process ids (empty: all)", ""),
        ("--comm", "Only process names", "string", "", "comma-separated names, wildcards allowed (empty: all)", ""),
        ("--host", "Only hosts", "string", "",
         "comma-separated IP addresses or requested host names, wildcards allowed (empty: all)", ""),
        ("--port", "Only ports", "string", "", "comma-separated real ports of either end (empty: all)", ""),
        ("--port-map", "Server port map", "string", "",
         "REAL:SHOWN,... (default: every non-HTTP server port is shown as 80 so HTTP/2 dissects)", ""),
        ("--keep-ports", "Keep the real server ports", "boolflag", "false", "do not map server ports", ""),
        ("--no-reconnect", "Do not reconnect", "boolflag", "false",
         "stop when the connection to eCapture fails or drops (default: keep retrying)", ""),
    ]
    lines = []
    for n, (call, display, kind, default, tooltip, extra) in enumerate(args):
        line = f"arg {{number={n}}}{{call={call}}}{{display={display}}}{{type={kind}}}"
        if default:
            line += f"{{default={default}}}"
        lines.append(line + f"{{tooltip={tooltip}}}{extra}{{group={'Filters' if 2 <= n <= 5 else 'Capture'}}}")
    return lines


def add_extcap_parser(subparsers, help: str) -> argparse.ArgumentParser:
    cmd = subparsers.add_parser(
        "extcap",
        help=help,
        description="The extcap program Wireshark runs to list and capture the eCapture interface.",
    )
    ex = cmd.add_argument_group("extcap protocol (passed by Wireshark)")
    ex.add_argument("--extcap-interfaces", action="store_true")
    ex.add_argument("--extcap-version", nargs="?", const="", default=None, metavar="VERSION")
    ex.add_argument("--extcap-interface", metavar="NAME")
    ex.add_argument("--extcap-dlts", action="store_true")
    ex.add_argument("--extcap-config", action="store_true")
    ex.add_argument("--extcap-reload-option", metavar="OPTION")
    ex.add_argument("--capture", action="store_true")
    ex.add_argument("--fifo", metavar="PATH")
    ex.add_argument("--extcap-capture-filter", metavar="FILTER")
    ex.add_argument("--extcap-control-in", metavar="PIPE")
    ex.add_argument("--extcap-control-out", metavar="PIPE")
    ex.add_argument("--debug", action="store_true")
    ex.add_argument("--debug-file", metavar="FILE")
    op = cmd.add_argument_group("capture options (the interface's options dialog)")
    op.add_argument("--url", default=DEFAULT_URL)
    op.add_argument("--origin")
    for name in ("pid", "comm", "host", "port"):
        op.add_argument(f"--{name}", action="append", default=[])
    op.add_argument("--port-map", default="")
    op.add_argument("--keep-ports", action="store_true")
    op.add_argument("--no-reconnect", action="store_true")
    return cmd


def cmd_extcap(args: argparse.Namespace, run: Callable[[list[str]], int]) -> int:
    """Answer Wireshark; a capture runs ``run(["live", ...])`` (the CLI's main, handed in by the CLI,
    so that this module does not import it)."""
    out = sys.stdout
    if args.extcap_interfaces:
        out.write(f"extcap {{version={__version__}}}{{help={HELP_URL}}}\n")
        out.write(f"interface {{value={INTERFACE}}}{{display=eCapture TLS plaintext (eCaptureQ)}}\n")
        return 0
    if args.extcap_interface is not None and args.extcap_interface != INTERFACE:
        return _error(f"unknown interface {args.extcap_interface!r} (this program provides {INTERFACE!r})")
    if args.extcap_dlts:
        out.write(f"dlt {{number={DLT_EN10MB}}}{{name=EN10MB}}{{display=Ethernet (synthesized TCP/IP)}}\n")
        return 0
    if args.extcap_config:
        if args.extcap_reload_option is None:
            out.write("\n".join(_config_lines()) + "\n")
        return 0
    if (args.extcap_capture_filter or "").strip():  # (asked to check one, or capturing with one: dumpcap applies
        # no filter to an extcap's FIFO, and a capture that silently ignored it was taken as filtered)
        if not args.capture:  # (Wireshark's check reads stdout, and only after an exit status 0: the filter is then
            out.write(_NO_FILTERS + "\n")  # shown invalid, with this text)
            return 0
        return _error(_NO_FILTERS)
    if args.capture:
        if not args.fifo:
            return _error("--capture needs --fifo PATH")
        return _capture(args, run)
    if args.extcap_version is not None:
        out.write(f"extcap {{version={__version__}}}{{help={HELP_URL}}}\n")
        return 0
    return _error("nothing to do: Wireshark passes --extcap-interfaces, --extcap-config or --capture")


_NO_FILTERS = ("capture filters are not supported: use the interface's Filters options (process ids and names, hosts, "
               "ports) or a display filter")


def _error(text: str) -> int:
    sys.stderr.write(f"ecq2pcap: {text}\n")
    sys.stderr.flush()
    return EXIT_ERROR


def live_argv(args: argparse.Namespace) -> list[str]:
    """The ``ecq2pcap live`` command line a capture runs (pcapng on stdout, which is the FIFO)."""
    # (not -q: the lines it would leave out are kept, not shown, and "connected to" tells a capture that reached
    # eCapture from one stopped while it retried a wrong address: _capture)
    argv = ["live", args.url or DEFAULT_URL, "-w", "-", "--annotations", os.devnull]
    if args.origin is not None:  # (each value joined to its option: one that starts with "-" is a value)
        argv.append(f"--origin={args.origin}")
    for name in ("pid", "comm", "host", "port"):
        values = [v.strip() for text in getattr(args, name) for v in text.split(",") if v.strip()]
        if values:
            argv.append(f"--{name}={','.join(values)}")
    if args.port_map.strip():
        argv.append(f"--port-map={args.port_map.strip()}")
    if args.keep_ports:
        argv.append("--keep-ports")
    if args.no_reconnect:
        argv += ["--retry-for", "0"]
    return argv


def _capture(args: argparse.Namespace, run: Callable[[list[str]], int]) -> int:
    try:
        fd = os.open(args.fifo, os.O_WRONLY)
    except OSError as exc:
        return _error(f"{args.fifo}: cannot open the capture FIFO: {exc.strerror or exc}")
    sys.stdout.flush()
    os.dup2(fd, sys.stdout.fileno())  # `live -w -` writes to stdout: it is the FIFO now
    os.close(fd)
    real_stderr, kept = sys.stderr, _Tail()
    sys.stderr = kept
    _stop_when_orphaned()
    try:
        code = run(live_argv(args))
    except SystemExit as exc:  # (argparse refused an option's value: its message is in the kept lines; it went
        code = exc.code if isinstance(exc.code, int) else EXIT_ERROR  # past the lines' writing, a blank error)
    finally:
        sys.stderr = real_stderr
    if code not in (0, 130):
        real_stderr.write(kept.message() or "ecq2pcap: the capture failed\n")
        real_stderr.flush()
        return code or EXIT_ERROR
    if kept.failure and not kept.connected:  # (stopped while retrying a wrong or unreachable address: an empty
        real_stderr.write(kept.failure)  # capture and no word, as if eCapture had no traffic)
        real_stderr.flush()
        return EXIT_ERROR
    return 0


def _stop_when_orphaned(every_s: float = 1.0) -> None:
    """Stop the capture as Wireshark does (SIGTERM) once the program that started it is gone (killed, crashed):
    the FIFO's reader is then dumpcap, orphaned too, which reads on, and a quiet eCapture kept this process
    connected to it for as long as no event came to fail a write."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every_s)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="ecq2pcap orphan watch", daemon=True).start()


_CONNECTED, _CANNOT = "ecq2pcap: connected to ", "ecq2pcap: cannot connect to "
# what Wireshark shows of a failed extcap's stderr (4.0: its first 1,024 bytes; the rest is cut off)
DIALOG_BYTES = 1024


class _Tail(io.TextIOBase):
    """stderr while capturing: the last lines are kept, shown only if the capture fails."""

    def __init__(self, keep: int = 40) -> None:
        self.lines: deque[str] = deque(maxlen=keep)
        self._partial = ""
        self.connected = False  # eCapture was reached
        self.failure = ""  # the last "cannot connect" line

    def write(self, text: str) -> int:
        text = self._partial + text
        *done, self._partial = text.split("\n")
        for line in done:
            if line.strip() and not line.startswith("\r"):
                self.lines.append(line + "\n")
                if line.startswith(_CONNECTED):
                    self.connected = True
                elif line.startswith(_CANNOT):
                    self.failure = line + "\n"
        return len(text)

    def message(self) -> str:
        """The kept lines as a failed capture's message: without argparse's usage (``usage: ecq2pcap live`` and
        its indented lines: ~1 KiB, which took all of Wireshark's dialog and cut off the error line that says which
        option value is wrong), and only the last lines that fit in :data:`DIALOG_BYTES`, the error being last."""
        lines, in_usage = [], False
        for line in self.lines:
            in_usage = line.startswith("usage: ") or (in_usage and line[:1].isspace())
            if not in_usage:
                lines.append(line)
        shown, size = [], 0
        for line in reversed(lines):
            size += len(line.encode("utf-8", "replace"))
            if shown and size > DIALOG_BYTES:
                break
            shown.append(line)
        return "".join(reversed(shown))

    def isatty(self) -> bool:
        return False
