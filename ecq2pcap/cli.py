"""Command line: ``ecq2pcap convert | live | record | summary | extcap | wireshark``.

The commands live in :mod:`ecq2pcap.commands` and :mod:`ecq2pcap.wireshark` (their shared
options in :mod:`ecq2pcap.commands.common`, exit codes in :mod:`ecq2pcap.commands.exits`);
this module builds the parser, imports the module of the command being run, and dispatches.
Nothing imports it.

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
import importlib
import os
import sys
from collections.abc import Iterable

from . import __version__
from .stops import held_while_starting, started

INTERRUPTED = 130  # = commands.exits.EXIT_INTERRUPTED, not imported: entry() must work while the imports are

# each command: its module, the function that adds its arguments, the function that runs it, and its line in
# ``ecq2pcap --help``. Only the module of the command being run is imported: the others take a few tenths of
# a second (a conversion imports the pipeline, both sinks and the dialects), which ``--help``, ``--version``
# and the extcap questions Wireshark asks at every start (``extcap --extcap-interfaces``) do not need.
COMMANDS = {
    "convert": ("commands.convert", "add_convert_parser", "cmd_convert",
                "convert recorded dumps (JSON lines, ecq2pcap recordings, protobuf, eCapture v2's console output and "
                "event logs; compressed too)"),
    "live": ("commands.live", "add_live_parser", "cmd_live",
             "connect to eCapture's eCaptureQ WebSocket and write pcapng/HAR as events arrive"),
    "record": ("commands.live", "add_record_parser", "cmd_record",
               "record eCapture's eCaptureQ WebSocket losslessly, for convert later"),
    "summary": ("commands.summary", "add_summary_parser", "cmd_summary",
                "print tables of the connections and HTTP exchanges of dumps or of a live stream (no file written)"),
    "extcap": ("wireshark.extcap", "add_extcap_parser", "cmd_extcap",
               "Wireshark's external capture interface (Wireshark runs it; see 'ecq2pcap wireshark install')"),
    "wireshark": ("wireshark.install", "add_wireshark_parser", "cmd_wireshark",
                  "install or remove the eCapture capture interface and the ecapture.* fields in Wireshark"),
}

YOUNG_COLLECTION = 500_000  # tracked objects' growth between the cycle collector's young runs (tune_gc)
_frozen = False  # tune_gc() was called: what a command imports is frozen too


def entry() -> None:
    """The ``ecq2pcap`` program (console script, ``python -m ecq2pcap``). A Ctrl-C, SIGTERM or SIGHUP while it
    starts (the imports, which this module leaves to :func:`_load`: :func:`~ecq2pcap.stops.held_while_starting`),
    or a Ctrl-C that no command handles, exits 130 without a traceback."""
    held_while_starting()
    try:
        tune_gc()
        code = main()
    except KeyboardInterrupt:
        code = INTERRUPTED
    sys.exit(code)


def _load(command: str):
    """The module of ``command`` (imported now, not at the top), frozen for the collector after
    :func:`tune_gc`."""
    module = importlib.import_module(f".{COMMANDS[command][0]}", __package__)
    if _frozen:
        gc.freeze()
    return module


def tune_gc() -> None:
    """For a whole process only (not for callers of :func:`main` in their own process): what was
    imported is never garbage (``gc.freeze``, again after a command's modules are imported), and the
    young generation is collected once the objects it tracks grew by :data:`YOUNG_COLLECTION` instead of 700.
    A conversion makes no cyclic garbage as it goes (its objects are freed by their counts: 0 found in 84
    collections of an 800k-event run, nor in HTTP/2, v1.5 or v2 mixes), so a collection only costs: it walks every
    young object, and the connections open at once are ~130k of them (4,096 by ``--max-connections``, ~16 each).
    Every 50,000 that was 9.6 s of a 55 s ``--har`` run; with the default 700, ~45 % of the flow table's time
    (bench/README.md). Memory stays bounded: a collection still runs when the tracked objects keep growing."""
    global _frozen
    _frozen = True
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION, 20, 20)


def command_of(argv: list[str]) -> str | None:
    """The command ``argv`` names (its first word that is not an option), None when none."""
    for word in argv:
        if not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


class _Version(argparse.Action):
    """``--version``: ``ecq2pcap VERSION (packets and checksums in C)`` or ``(pure Python: why)``, looked up only when
    asked (:mod:`.speedups` imports its C module)."""

    def __init__(self, option_strings, dest, **kwargs) -> None:
        super().__init__(option_strings, dest, nargs=0, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        from .speedups import describe

        sys.stdout.write(f"ecq2pcap {__version__} ({describe()})\n")
        parser.exit()


def build_parser(full: Iterable[str] = COMMANDS) -> argparse.ArgumentParser:
    """The parser, with the arguments of the commands in ``full`` (by default all); the others are
    only listed with their help line, their modules not imported."""
    parser = argparse.ArgumentParser(
        prog="ecq2pcap",
        description="Turn eCapture's eCaptureQ event stream into Wireshark pcapng and HAR 1.2.",
    )
    parser.add_argument("--version", action=_Version, help="show the version, and whether its C part runs; exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, add, _, line) in COMMANDS.items():
        if name in full:
            getattr(_load(name), add)(sub, line)
        else:
            sub.add_parser(name, help=line)
    return parser


def main(argv: list[str] | None = None) -> int:
    from .commands.exits import EXIT_OK, EXIT_USAGE, UsageError
    from .commands.stderr import unfailing

    # (its reader going away never stops a run; kept after main returns: Python's own flush of a broken stderr at
    # exit would make the exit status 120)
    sys.stderr = unfailing(sys.stderr)
    argv = sys.argv[1:] if argv is None else argv
    command = command_of(argv)
    if command == "extcap":  # (Wireshark passes an option's value apart, even one that starts with "-")
        from .wireshark.extcap import joined_values

        argv = joined_values(argv)
    parser = build_parser([command] if command else [])  # (none: the list; argparse says what is wrong)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    module = _load(args.command)
    run = getattr(module, COMMANDS[args.command][2])
    if started():  # (a stop signal while the program started: nothing opened yet)
        return INTERRUPTED
    try:
        if args.command == "extcap":
            return run(args, run=main)
        return run(args)
    except UsageError as exc:
        print(f"ecq2pcap: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # the reader of -w - went away (e.g. Wireshark closed): not an error of ours
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return EXIT_OK
