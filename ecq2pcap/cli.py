"""Command line: ``ecq2pcap convert | live | record | summary | extcap | wireshark``.

The commands live in :mod:`ecq2pcap.commands` (their shared options and exit codes in
:mod:`ecq2pcap.commands.common`); this module builds the parser and dispatches. Nothing
imports it.

Exit codes (also in the README):
  0  outputs written (skipped lines, if any, were reported)
  1  outputs written, but --strict and some input was skipped, or an input broke off midway,
     or an output could not be written to the end (disk full: what was written stays valid)
  2  usage error, or an input/output that cannot be opened or must not be written
     (an output that is an input, a directory, or the same file as another output): nothing written
  130 interrupted (outputs are still completed)
"""

from __future__ import annotations

import argparse
import gc
import os
import sys

from . import __version__

INTERRUPTED = 130  # = commands.common.EXIT_INTERRUPTED, not imported: entry() must work while the imports are


def entry() -> None:
    """The ``ecq2pcap`` program (console script, ``python -m ecq2pcap``). A Ctrl-C that no command handles
    (e.g. during the imports, which this module leaves to :func:`_commands`) exits 130 without a traceback."""
    try:
        tune_gc()
        code = main()
    except KeyboardInterrupt:
        code = INTERRUPTED
    sys.exit(code)


def _commands():
    """The commands' modules (imported here, not at the top: they take a few tenths of a second)."""
    from .commands import common, convert, live, summary
    from .wireshark import extcap, install
    return common, convert, live, summary, extcap, install


def tune_gc() -> None:
    """For a whole process only (not for callers of :func:`main` in their own process): what was
    imported is never garbage (``gc.freeze``), and the young generation is collected every 50,000
    allocations instead of 700. A conversion allocates a few objects per event and keeps few: with
    the default threshold the cycle collector took ~45 % of the flow table's time (bench/README.md).
    Memory stays bounded: collections still run, less often."""
    _commands()  # (imported first, so that they are frozen too)
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def build_parser() -> argparse.ArgumentParser:
    _, convert, live, summary, extcap, install = _commands()
    parser = argparse.ArgumentParser(
        prog="ecq2pcap",
        description="Turn eCapture's eCaptureQ event stream into Wireshark pcapng and HAR 1.2.",
    )
    parser.add_argument("--version", action="version", version=f"ecq2pcap {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    convert.add_convert_parser(sub)
    live.add_live_parser(sub)
    live.add_record_parser(sub)
    summary.add_summary_parser(sub)
    extcap.add_extcap_parser(sub)
    install.add_wireshark_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    common, convert, live, summary, extcap, install = _commands()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return common.EXIT_USAGE
    try:
        commands = {"convert": convert.cmd_convert, "live": live.cmd_live, "record": live.cmd_record,
                    "summary": summary.cmd_summary, "extcap": lambda a: extcap.cmd_extcap(a, run=main),
                    "wireshark": install.cmd_wireshark}
        return commands[args.command](args)
    except common.UsageError as exc:
        print(f"ecq2pcap: error: {exc}", file=sys.stderr)
        return common.EXIT_USAGE
    except BrokenPipeError:
        # the reader of -w - went away (e.g. Wireshark closed): not an error of ours
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return common.EXIT_OK
