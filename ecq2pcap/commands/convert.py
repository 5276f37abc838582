"""``ecq2pcap convert``: recorded dumps (JSON lines, .gz, ecq2pcap recordings) → pcapng and HAR."""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack

from ..limits import Limits
from ..outputs import OutputGuard, describe_write_error, input_problem
from ..argtypes import int_between
from ..pipeline import Pipeline
from ..report import Count, Report
from ..sources.files import FileSource, InputError
from ..summary import format_summary
from .common import (EXIT_INTERRUPTED, EXIT_OK, EXIT_STRICT, UsageError, add_output_args, finish_outputs,
                     open_pipeline, stderr_report)


def add_convert_parser(sub) -> argparse.ArgumentParser:
    conv = sub.add_parser(
        "convert",
        help="convert recorded dumps (JSON lines, .gz, ecq2pcap recordings)",
        description="Convert eCapture dumps: one eCaptureQ message per line (websocat-style JSON), "
        "gzip-compressed files, or ecq2pcap recordings. '-' reads stdin.",
    )
    conv.add_argument("inputs", nargs="+", metavar="INPUT")
    add_output_args(conv)
    conv.add_argument("--strict", action="store_true", help="exit 1 if any input line was skipped")
    conv.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary")
    conv.add_argument("--no-progress", action="store_true", help="no progress bar")
    conv.add_argument("-j", "--jobs", type=int_between(1, 256), default=1, metavar="N",
                      help="convert in N processes, each writing the connections of its share, then merge the "
                      "outputs in time order (files only: not stdin, not -w -/--har -, not -b) (default 1)")
    return conv


def _progress(sources: list[FileSource], enabled: bool):
    if not enabled or not sys.stderr.isatty():
        return None
    total = sum(s.size or 0 for s in sources)
    if not total:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="B", unit_scale=True, file=sys.stderr, leave=False, desc="converting")


def cmd_convert(args: argparse.Namespace) -> int:
    if args.inputs.count("-") > 1:
        raise UsageError("'-' (stdin) can be given only once")
    report = stderr_report()
    sources = open_sources(args, report)
    if args.jobs > 1:
        from .parallel import convert_in_parallel

        return convert_in_parallel(args)
    status, pipeline = run_conversion(args, report, sources, OutputGuard(args.inputs),
                                      progress=not (args.quiet or args.no_progress))
    if not args.quiet:
        print(format_summary(report, pipeline), file=sys.stderr)
    if status == EXIT_OK and args.strict and report.counts[Count.SKIPPED]:
        status = EXIT_STRICT
    return status


def open_sources(args: argparse.Namespace, report: Report) -> list[FileSource]:
    """The inputs as sources; a usage error (exit 2, before anything is written) when one cannot be read."""
    sources = [FileSource(p, report, Limits.from_args(args).message_size) for p in args.inputs]
    for src in sources:
        problem = input_problem(src.path)
        if problem:
            raise UsageError(f"{src.path}: cannot read: {problem}")
    return sources


def run_conversion(args: argparse.Namespace, report: Report, sources: list[FileSource], guard: OutputGuard, *,
                   progress: bool = False, sink_report: Report | None = None,
                   shard: tuple[int, int] | None = None) -> tuple[int, Pipeline]:
    """Feed every source through one pipeline to the outputs of ``args``; (exit status, pipeline)."""
    status = EXIT_OK
    with ExitStack() as stack:
        pipeline = open_pipeline(args, stack, report, guard=guard, sink_report=sink_report, shard=shard)
        bar = _progress(sources, progress)
        try:
            for src in sources:
                done = 0
                try:
                    for msg in src:
                        pipeline.feed(msg)
                        if bar is not None and src.position != done:
                            bar.update(src.position - done)
                            done = src.position
                except InputError as exc:
                    print(f"ecq2pcap: {exc}", file=sys.stderr)
                    report.count(Count.BROKEN_INPUTS)
                    status = EXIT_STRICT
        except KeyboardInterrupt:
            print("ecq2pcap: interrupted: completing the outputs", file=sys.stderr)
            status = EXIT_INTERRUPTED
        except BrokenPipeError:
            raise
        except OSError as exc:  # an output cannot be written (disk full): stop, complete the others
            print(f"ecq2pcap: error: {describe_write_error(exc)}; stopped, the outputs end with what was "
                  "written before", file=sys.stderr)
            status = EXIT_STRICT
        finally:
            if bar is not None:
                bar.close()
        status = finish_outputs(pipeline, status)
    return status, pipeline
