"""``convert -j N``: N worker processes, each writing its share of the connections, then one merge.

Every worker reads and decodes the whole input and runs the whole connection table, so connection numbers,
placement of tuple-less calls, invented endpoints, host names and every flow-level decision are exactly those of
a single process. Only the sinks are shared out: worker k writes the packets and HAR entries of the connections
whose number is k modulo N (:class:`~ecq2pcap.pipeline.Pipeline`'s ``shard``), into temporary files beside the
outputs. The parent then merges them in time order (:mod:`ecq2pcap.sinks.merge`): the same packets and entries
as ``-j 1``, ordered by time where a single process writes them in release order.

So the work that parallelises is the sinks' (TCP synthesis, pcapng blocks, HTTP parsing, HAR entries); reading,
decoding and the connection table are done N times. Worker 0 alone says what concerns the input (bad lines,
flow warnings, the annotations file); every worker says what its sinks met. The summary adds the workers'
sink counts to worker 0's input counts.
"""

from __future__ import annotations

import argparse
import copy
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
from collections import Counter
from contextlib import ExitStack

from ..outputs import OutputConflict, OutputFile, OutputGuard, describe_write_error
from ..report import Count, Counts, Report
from ..sinks.har.writer import HarWriter
from ..sinks.merge import har_comment, merge_har, merge_pcapng
from ..summary import format_summary
from .common import EXIT_INTERRUPTED, EXIT_OK, EXIT_STRICT, UsageError, stderr_report
from .conversion import open_sources, run_conversion

__all__ = ["convert_in_parallel"]


def _annotations_path(args: argparse.Namespace) -> str | None:
    default = next((p for p in (args.write, args.har) if p and p != "-"), None)
    return args.annotations or (default and f"{default}.annotations.jsonl")


def _check(args: argparse.Namespace) -> None:
    if "-" in args.inputs:
        raise UsageError("-j needs files as inputs: stdin can be read only once")
    if args.write == "-" or args.har == "-":
        raise UsageError("-j writes files: -w - and --har - need -j 1")
    if getattr(args, "ring_buffer", None):
        raise UsageError("-j and -b (ring buffer) cannot be combined")
    if not args.write and not args.har:
        raise UsageError("convert needs an output: -w OUT.pcapng and/or --har OUT.har")
    guard = OutputGuard(args.inputs)
    try:
        for option, path in (("-w", args.write), ("--har", args.har), ("--annotations", _annotations_path(args))):
            if path:
                guard.claim(option, path)
    except OutputConflict as exc:
        raise UsageError(str(exc)) from None


def _report_state(report: Report) -> dict:
    return {"counts": dict(report.counts), "warnings": dict(report.warnings),
            "annotation_kinds": dict(report.annotation_kinds), "limits": dict(report.limits)}


def _worker(args: argparse.Namespace, k: int, n: int, tmp: str) -> None:
    """One worker (a forked process): convert, write what it counted to ``tmp/k.json``, exit."""
    status = EXIT_STRICT
    try:
        wargs = copy.copy(args)
        wargs.write = os.path.join(tmp, f"{k}.pcapng") if args.write else None
        wargs.har = os.path.join(tmp, f"{k}.har") if args.har else None
        wargs.annotations = _annotations_path(args) if k == 0 else os.devnull
        main_report = stderr_report() if k == 0 else Report()  # the input's messages: said once
        sink_report = stderr_report()
        sources = open_sources(wargs, main_report)
        status, pipeline = run_conversion(wargs, main_report, sources, OutputGuard(args.inputs),
                                          sink_report=sink_report, shard=(k, n))
        flt = pipeline.view.filter
        state = {"status": status, "main": _report_state(main_report), "sink": _report_state(sink_report),
                 "annotations_path": main_report.annotations_path,
                 "filter": flt.describe() if flt is not None else None, "version": pipeline.ecapture_version}
        with open(os.path.join(tmp, f"{k}.json"), "w", encoding="utf-8") as f:
            json.dump(state, f)
    except BaseException as exc:  # noqa: BLE001 - a worker never unwinds into the parent's code
        print(f"ecq2pcap: worker {k}: {exc!r}", file=sys.stderr)
    finally:
        sys.stderr.flush()
        os._exit(status)


def _merged_report(states: list[dict]) -> Report:
    report = Report()
    main = states[0]["main"]
    report.counts = Counts({Count(c): v for c, v in main["counts"].items()})
    report.warnings = Counter(main["warnings"])
    report.annotation_kinds = Counter(main["annotation_kinds"])
    report.limits = Counter(main["limits"])
    report.annotations_path = states[0]["annotations_path"]
    for st in states:
        sink = st["sink"]
        report.counts.update({Count(c): v for c, v in sink["counts"].items()})
        report.warnings.update(sink["warnings"])
        report.limits.update(sink["limits"])
    return report


def _merge(args: argparse.Namespace, tmp: str, workers: list[int]) -> None:
    """Merge the files of ``workers`` into the outputs."""
    with ExitStack() as stack:
        if args.write:
            parts = [stack.enter_context(open(os.path.join(tmp, f"{k}.pcapng"), "rb")) for k in workers]
            merge_pcapng(parts, stack.enter_context(OutputFile(args.write)))
        if args.har:
            parts = [stack.enter_context(open(os.path.join(tmp, f"{k}.har"), "rb")) for k in workers]
            writer = HarWriter(stack.enter_context(OutputFile(args.har)), comment=har_comment(parts[0]))
            merge_har(parts, writer)
            writer.close()


def convert_in_parallel(args: argparse.Namespace) -> int:
    _check(args)
    n = args.jobs
    out_dir = os.path.dirname(os.path.abspath(args.write or args.har))
    try:
        tmp = tempfile.mkdtemp(prefix=".ecq2pcap-jobs-", dir=out_dir)
    except OSError as exc:
        raise UsageError(f"{out_dir}: cannot write: {exc.strerror or exc}") from None
    status = EXIT_OK
    try:
        ctx = multiprocessing.get_context("fork")
        sys.stdout.flush()
        sys.stderr.flush()
        workers = [ctx.Process(target=_worker, args=(args, k, n, tmp), daemon=True) for k in range(n)]
        for w in workers:
            w.start()
        while True:
            try:
                for w in workers:
                    w.join()
                break
            except KeyboardInterrupt:  # the workers got it too: they complete their outputs, then we merge
                print("ecq2pcap: interrupted: completing the outputs", file=sys.stderr)
                status = EXIT_INTERRUPTED
        states = []
        for k, w in enumerate(workers):
            try:
                with open(os.path.join(tmp, f"{k}.json"), encoding="utf-8") as f:
                    states.append(json.load(f))
            except (OSError, ValueError):
                print(f"ecq2pcap: error: worker {k} ended without finishing (exit code {w.exitcode}); "
                      "its connections are missing from the outputs", file=sys.stderr)
                states.append(None)
        done = [st for st in states if st is not None]
        if not done or states[0] is None:
            print("ecq2pcap: error: -j: the first worker failed; nothing merged", file=sys.stderr)
            return EXIT_STRICT
        merged = _merged_report(done)
        if len(done) < n:
            merged.count(Count.INTERNAL_ERRORS, n - len(done))
            status = max(status, EXIT_STRICT)
        status = max([status] + [st["status"] for st in done])
        try:
            _merge(args, tmp, [k for k, st in enumerate(states) if st is not None])
        except OSError as exc:
            print(f"ecq2pcap: error: {describe_write_error(exc)}; the merged output ends with what was written",
                  file=sys.stderr)
            status = max(status, EXIT_STRICT)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not args.quiet:
        print(format_summary(merged, filter_description=states[0]["filter"], ecapture_version=states[0]["version"]),
              file=sys.stderr)
    if status == EXIT_OK and args.strict and merged.counts[Count.SKIPPED]:
        status = EXIT_STRICT
    return status

