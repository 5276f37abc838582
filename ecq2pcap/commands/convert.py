"""``ecq2pcap convert``: recorded dumps (JSON lines, ecq2pcap recordings, protobuf, eCapture v2's console output,
event logs; compressed or not) → pcapng and HAR."""

from __future__ import annotations

import argparse
import os
import sys

from ..argtypes import int_between
from ..outputs import OutputGuard
from ..report import Count
from ..summary import format_summary
from .common import add_output_args, stderr_report
from .exits import EXIT_OK, EXIT_STRICT, UsageError
from ..stops import stops_as_ctrl_c
from .conversion import open_sources, run_conversion
from .each import convert_each, per_input
from .parallel import check_parallel, convert_parallel


def add_convert_parser(sub, help: str) -> argparse.ArgumentParser:
    conv = sub.add_parser(
        "convert",
        help=help,
        description="Convert eCapture dumps: one eCaptureQ message per line (websocat-style JSON), ecq2pcap "
        "recordings, length-delimited protobuf files (varint length + LogEntry), eCapture v2's console output "
        "(what 'ecapture tls' prints without --ecaptureq) or v2.1+ event logs; gzip, zstd, xz and bzip2 are read "
        "transparently. '-' reads stdin.",
    )
    conv.add_argument("inputs", nargs="+", metavar="INPUT")
    add_output_args(conv)
    conv.add_argument("--strict", action="store_true", help="exit 1 if any input line was skipped")
    conv.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary")
    conv.add_argument("--no-progress", action="store_true", help="no progress bar")
    conv.add_argument("-j", "--jobs", type=_jobs, default=1, metavar="N",
                      help="convert in N processes, each writing the connections of its share, then merge them into "
                      "the same outputs as -j 1 (files only: not stdin, not -w -/--har -, not -b); with {} in the "
                      "output names, N inputs at once, each into its own outputs; 'auto': one per CPU this process "
                      "may use, or 1 where -j cannot be used (default 1)")
    return conv


_int_jobs = int_between(1, 256)


def _jobs(text: str) -> int | str:
    return "auto" if text == "auto" else _int_jobs(text)


def jobs_for(args: argparse.Namespace) -> int:
    """``-j``'s number: ``auto`` is one process per usable CPU, and 1 for what -j cannot do (stdin,
    ``-w -``/``--har -``, ``-b``) rather than the usage error an explicit N gets."""
    if args.jobs != "auto":
        return args.jobs
    try:
        check_parallel(args)
    except UsageError:
        return 1
    return usable_cpus()


def usable_cpus() -> int:
    """The CPUs this process may use (at most 256)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 256))


def cmd_convert(args: argparse.Namespace) -> int:
    if per_input(args):  # (-w 'pcap/{}.pcapng': each input into its own outputs, -j N of them at once)
        with stops_as_ctrl_c():
            return convert_each(args, _convert, usable_cpus() if args.jobs == "auto" else args.jobs)
    return _convert(args)


def _convert(args: argparse.Namespace) -> int:
    """The inputs of ``args`` into its outputs: the exit status."""
    if args.inputs.count("-") > 1:
        raise UsageError("'-' (stdin) can be given only once")
    report = stderr_report()
    sources = open_sources(args, report)
    progress = not (args.quiet or args.no_progress)
    args.jobs = jobs_for(args)
    with stops_as_ctrl_c():
        if args.jobs > 1:
            status, pipeline = convert_parallel(args, report, sources, progress)
        else:
            status, pipeline = run_conversion(args, report, sources, OutputGuard(args.inputs), progress=progress)
    if not args.quiet:
        print(format_summary(report, pipeline), file=sys.stderr)
    if status == EXIT_OK and args.strict and report.counts[Count.SKIPPED]:
        status = EXIT_STRICT
    return status
