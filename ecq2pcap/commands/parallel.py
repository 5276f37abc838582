"""``convert -j N`` (N > 1): N processes each write a share of the connections into temporary
files, which are then merged into the outputs in single-process order (see :mod:`ecq2pcap.shards`):
the outputs are byte for byte those of ``-j 1``.

Every worker reads and decodes the whole input and runs the whole connection table, so connection
numbers, placement, invented endpoints and every flow decision are one process's; what runs in
parallel is the per-connection work (normalising, filtering, TCP synthesis, HTTP parsing, HAR).
This process is worker 0: it reports bad input lines and flow warnings, writes the annotations and
shows the progress; the others (forked) report only what their own connections' outputs met, and
the summary adds their counts to worker 0's. The temporary files live in a ``.ecq2pcap-jobs-*``
folder beside the first output and are removed at the end, also after an error.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import sys
import tempfile
import traceback
from contextlib import ExitStack

from ..filters import ConnectionView, filter_from_args
from ..limits import Limits
from ..outputs import OutputFile, OutputGuard, describe_write_error
from ..pipeline import Pipeline
from ..report import Count, Report
from ..shards import EntryLog, Recorder, ShardView, drop_named, merged_runs, owner
from ..sinks.har import HarOptions, HarSink
from ..sinks.pcapng import PcapngSink
from ..sources.files import FileSource
from .common import (EXIT_INTERRUPTED, EXIT_OK, EXIT_STRICT, UsageError, connection_table, finish_outputs,
                     open_pipeline, pcapng_options)
from .conversion import feed_sources, progress_bar


def check_parallel(args: argparse.Namespace) -> None:
    """What -j cannot do: a usage error (exit 2) before anything is written."""
    if "-" in args.inputs:
        raise UsageError("-j needs files as inputs: stdin can be read only once")
    if args.write == "-" or args.har == "-":
        raise UsageError("-j writes files: -w - and --har - need -j 1")
    if getattr(args, "ring_buffer", None):
        raise UsageError("-j and -b (ring buffer) cannot be combined")


def _workdir(args: argparse.Namespace) -> str:
    first = next((p for p in (args.write, args.har) if p and p != "-"), None)
    if first:
        try:
            return tempfile.mkdtemp(prefix=".ecq2pcap-jobs-", dir=os.path.dirname(os.path.abspath(first)))
        except OSError:
            pass  # e.g. /dev/null: a folder that takes no files
    return tempfile.mkdtemp(prefix="ecq2pcap-jobs-")


class _Worker:
    """Worker ``k``'s pipeline and temporary files."""

    def __init__(self, args: argparse.Namespace, k: int, n: int, workdir: str, stack: ExitStack,
                 report: Report, local: Report, on_annotation=None) -> None:
        owns = owner(n)(k)
        self.view = ShardView(ConnectionView(filter_from_args(args), local), owns)
        self.pcapng_path = os.path.join(workdir, f"{k}.pcapng")
        self.har_path = os.path.join(workdir, f"{k}.har")
        pcapng = entries = None
        sinks = []
        if args.write:
            pcapng = PcapngSink(stack.enter_context(OutputFile(self.pcapng_path)), report=local,
                                hosts=self.view.host, **pcapng_options(args))
            sinks.append(pcapng)
        if args.har:
            entries = EntryLog(stack.enter_context(OutputFile(self.har_path)))
            sinks.append(HarSink(None, report=local, options=HarOptions(limits=Limits.from_args(args)),
                                 writer_factory=lambda out, **_: entries))
        table = connection_table(args, report)
        table.wire_needed = lambda conn_id: conn_id % n == k  # the others' bytes need no normalising
        self.recorder = Recorder(sinks, self.view.tags, pcapng, entries,
                                 names=lambda: local.counts[Count.NAMES])
        self.pipeline = Pipeline([self.recorder], report, table, on_annotation=on_annotation, view=self.view)
        if pcapng is not None:
            pcapng.ecapture_version = lambda: self.pipeline.ecapture_version

    def run(self, sources: list[FileSource], report: Report, loud: bool, bar=None) -> int:
        return finish_outputs(self.pipeline, feed_sources(self.pipeline, sources, report, bar=bar, loud=loud))


def _child(args, k, n, workdir, conn) -> None:
    """A forked worker: converts its share, sends back its status, runs and counters."""
    try:
        local = Report(emit=lambda line: print(f"ecq2pcap: {line}", file=sys.stderr))
        muted = Report()  # what every worker counts alike: worker 0 reports it
        with ExitStack() as stack:
            worker = _Worker(args, k, n, workdir, stack, muted, local)
            sources = [FileSource(p, muted, Limits.from_args(args).message_size) for p in args.inputs]
            status = worker.run(sources, muted, loud=False)
        conn.send({"status": status, "header": worker.recorder.header_size, "runs": worker.recorder.runs,
                   "counts": dict(local.counts), "warnings": dict(local.warnings), "limits": dict(local.limits)})
    except KeyboardInterrupt:
        conn.send({"error": "interrupted"})
    except BaseException:
        conn.send({"error": traceback.format_exc()})
    finally:
        conn.close()


def convert_parallel(args: argparse.Namespace, report: Report, sources: list[FileSource], progress: bool):
    """Run the N workers and merge; returns (status, the pipeline whose facts the summary prints)."""
    check_parallel(args)
    n = args.jobs
    status = EXIT_OK
    with ExitStack() as stack:
        final = open_pipeline(args, stack, report, guard=OutputGuard(args.inputs))  # the outputs, checked
        workdir = _workdir(args)
        try:
            ctx = multiprocessing.get_context("fork")
            children = []
            for k in range(1, n):
                recv, send = ctx.Pipe(duplex=False)
                proc = ctx.Process(target=_child, args=(args, k, n, workdir, send), daemon=True)
                proc.start()
                send.close()
                children.append((proc, recv))
            with ExitStack() as files:
                worker = _Worker(args, 0, n, workdir, files, report, report, final.on_annotation)
                bar = progress_bar(sources, progress)
                try:
                    status = worker.run(sources, report, loud=True, bar=bar)
                finally:
                    if bar is not None:
                        bar.close()
            results = [(0, {"status": status, "header": worker.recorder.header_size,
                            "runs": worker.recorder.runs})]
            for k, (proc, recv) in enumerate(children, 1):
                while True:
                    try:
                        res = recv.recv()
                        break
                    except EOFError:
                        res = {"error": f"exited with code {proc.join() or proc.exitcode}"}
                        break
                    except KeyboardInterrupt:  # the workers got it too: they complete their share, then we merge
                        print("ecq2pcap: interrupted: completing the outputs", file=sys.stderr)
                        status = EXIT_INTERRUPTED
                proc.join()
                results.append((k, res))
            failed = [(k, r["error"]) for k, r in results if "error" in r]
            for k, error in failed:
                print(f"ecq2pcap: error: worker {k} of -j {n} failed: {error.strip()}", file=sys.stderr)
            if failed:
                print("ecq2pcap: error: the outputs were not merged (they hold no packets and no entries)",
                      file=sys.stderr)
                status = EXIT_STRICT if status != EXIT_INTERRUPTED else status
            else:
                for _, res in results[1:]:
                    report.counts.update(res["counts"])
                    report.warnings.update(res["warnings"])
                    report.limits.update(res["limits"])
                    status = max(status, res["status"])
                status = _merge(final, worker, results, workdir, report, status)
            status = finish_outputs(final, status)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    return status, worker.pipeline


def _merge(final: Pipeline, worker: _Worker, results, workdir: str, report: Report, status: int) -> int:
    pcapng = next((s for s in final.sinks if isinstance(s, PcapngSink)), None)
    har = next((s for s in final.sinks if isinstance(s, HarSink)), None)
    fds = {}
    try:
        for k, _ in results:
            for kind, sink in (("pcapng", pcapng), ("har", har)):
                if sink is not None:
                    fds[kind, k] = os.open(os.path.join(workdir, f"{k}.{kind}"), os.O_RDONLY)
        named: set[bytes] = set()
        for k, p0, p1, h0, h1, entries, names in merged_runs([(r["header"], r["runs"]) for _, r in results]):
            if pcapng is not None and p1 > p0:
                data = os.pread(fds["pcapng", k], p1 - p0, p0)
                if names:
                    data, dropped = drop_named(data, named)
                    report.counts[Count.NAMES] -= dropped
                pcapng.write_blocks(data)
            if har is not None and entries:
                har.write_encoded(os.pread(fds["har", k], h1 - h0, h0)[2:], entries)
    except OSError as exc:
        print(f"ecq2pcap: error: {describe_write_error(exc)}; stopped, the outputs end with what was "
              "written before", file=sys.stderr)
        return status or EXIT_STRICT
    finally:
        for fd in fds.values():
            os.close(fd)
    return status
