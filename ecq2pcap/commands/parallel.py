"""``convert -j N`` (N > 1): N processes each write a share of the connections into temporary
files, which are then merged into the outputs in single-process order (see :mod:`ecq2pcap.shards`):
the outputs are byte for byte those of ``-j 1``.

This process is worker 0: it alone reads and decodes the inputs and runs the connection table, so
connection numbers, placement, invented endpoints and every flow decision are one process's, and
it reports bad input lines, flow warnings and annotations and shows the progress. It keeps some
connections and sends the others' events through a pipe to the forked workers 1..N-1 (a worker
that is behind gets no new connections, so the work balances itself whatever the outputs cost);
what runs in parallel is the per-connection work (wire bytes, filtering, TCP synthesis, HTTP parsing,
HAR).
The other workers report only what their own connections' outputs met, and the summary adds their
counts to worker 0's. The temporary files live in a ``.ecq2pcap-jobs-*`` folder beside the first
output and are removed at the end, also after an error.
"""

from __future__ import annotations

import argparse
import fcntl
import multiprocessing
import os
import shutil
import sys
import tempfile
import traceback
from contextlib import ExitStack

from ..limits import Limits
from ..outputs import OutputFile, OutputGuard, describe_write_error
from ..pipeline import Pipeline
from ..report import Count, Report
from ..shards import Dispatcher, EntryLog, Recorder, ShardFeed, drop_named, merged_runs, whole_blocks, whole_entries
from ..sinks.har import HarOptions, HarSink
from ..sinks.pcapng import PcapngSink
from ..sources.files import FileSource
from .common import (connection_table, connection_view, finish_outputs, open_pipeline, pcapng_options,
                     stream_state)
from .exits import EXIT_INTERRUPTED, EXIT_OK, EXIT_STRICT, UsageError
from ..stops import blocked, left_to_the_parent
from .conversion import CtrlC, feed_sources, progress_bar, say_interrupted

PIPE_BYTES = 1 << 20  # what a pipe to a worker holds (Linux: F_SETPIPE_SZ; the default is 64 KiB)


def check_parallel(args: argparse.Namespace) -> None:
    """What -j cannot do: a usage error (exit 2) before anything is written."""
    if "-" in args.inputs:
        raise UsageError("-j needs files as inputs: stdin can be read only once")
    if args.write == "-" or args.har == "-":
        raise UsageError("-j writes files: -w - and --har - need -j 1")
    if getattr(args, "ring_buffer", None):
        raise UsageError("-j and -b (ring buffer) cannot be combined")


def _workdir(args: argparse.Namespace) -> str:
    """The temporary folder, named after this process (``.ecq2pcap-jobs-<pid>-…``); the ones a killed run left
    there (their process gone: kill -9, a crash) are removed first, said on stderr: they hold captured plaintext."""
    first = next((p for p in (args.write, args.har) if p and p != "-"), None)
    prefix = f"ecq2pcap-jobs-{os.getpid()}-"
    if first:
        where = os.path.dirname(os.path.abspath(first))
        _remove_left_behind(where, ".ecq2pcap-jobs-")
        try:
            return tempfile.mkdtemp(prefix="." + prefix, dir=where)
        except OSError:
            pass  # e.g. /dev/null: a folder that takes no files
    _remove_left_behind(tempfile.gettempdir(), "ecq2pcap-jobs-")
    return tempfile.mkdtemp(prefix=prefix)


def _remove_left_behind(where: str, prefix: str) -> None:
    try:
        names = [n for n in os.listdir(where) if n.startswith(prefix)]
    except OSError:
        return
    for name in names:
        pid = name[len(prefix):].split("-", 1)[0]
        if not (pid.isascii() and pid.isdigit()) or _alive(int(pid)):
            continue
        path = os.path.join(where, name)
        shutil.rmtree(path, ignore_errors=True)
        if not os.path.exists(path):
            print(f"ecq2pcap: removed {path}, the temporary files of a -j run that was killed", file=sys.stderr)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # (another user's, or not a pid: left alone)
    return True


class _Share:
    """Worker ``k``'s view, sinks and temporary files: what every worker has."""

    def __init__(self, args: argparse.Namespace, k: int, workdir: str, stack: ExitStack, local: Report,
                 view, tags) -> None:
        self.pcapng_path = os.path.join(workdir, f"{k}.pcapng")
        self.har_path = os.path.join(workdir, f"{k}.har")
        self.pcapng = entries = None
        sinks = []
        if args.write:
            part = OutputFile(self.pcapng_path, label=f"{args.write} (worker {k}'s part)")
            self.pcapng = PcapngSink(stack.enter_context(part), report=local,
                                     hosts=view.host, **pcapng_options(args))
            sinks.append(self.pcapng)
        if args.har:
            part = OutputFile(self.har_path, label=f"{args.har} (worker {k}'s part)")
            entries = EntryLog(stack.enter_context(part))
            sinks.append(HarSink(None, report=local, options=HarOptions(limits=Limits.from_args(args)),
                                 writer_factory=lambda out, **_: entries))
        self.recorder = Recorder(sinks, tags, self.pcapng, entries, names=lambda: local.counts[Count.NAMES])

    def result(self, status: int) -> dict:
        return {"status": status, "header": self.recorder.header_size, "runs": self.recorder.runs}


class _Pipes:
    """Worker 0's ends of the pipes to the others, and how much each has read (shared memory)."""

    def __init__(self, ctx, n: int) -> None:
        self.read = ctx.RawArray("q", n)
        self.ends: dict[int, tuple] = {}  # k -> (reading end, writing end)
        for k in range(1, n):
            recv, send = ctx.Pipe(duplex=False)
            try:
                fcntl.fcntl(send.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
            except (AttributeError, OSError):  # not Linux, or over /proc/sys/fs/pipe-max-size: the default
                pass
            self.ends[k] = (recv, send)

    def send(self, k: int, data: bytes) -> None:
        """One batch to worker ``k``, whole: Ctrl-C waits until it is written (a message cut short
        would garble the rest of the worker's stream)."""
        with blocked():
            self.ends[k][1].send_bytes(data)

    def close(self) -> None:
        for recv, send in self.ends.values():
            recv.close()
            send.close()


def _child(args, k, workdir, events, read, results) -> None:
    """A forked worker: writes the connections worker 0 sends it, then sends back its status,
    runs and counters. Ctrl-C is worker 0's to handle: it completes the outputs and sends the end."""
    try:
        local = Report(relayed=[])  # (said by worker 0, under the run's cap: lines of two processes would mix)
        status = EXIT_OK
        with ExitStack() as stack:
            feed = ShardFeed(connection_view(args, local), limits=Limits.from_args(args), report=local)
            share = _Share(args, k, workdir, stack, local, feed.view, feed.tags)
            if share.pcapng is not None:
                share.pcapng.ecapture_version = lambda: feed.version
            handle = share.recorder.handle_events
            while data := events.recv_bytes():
                if status == EXIT_OK:
                    try:
                        feed.batch(data, handle)
                    except OSError as exc:  # this worker's file cannot be written: read on, write nothing
                        print(f"ecq2pcap: error: {describe_write_error(exc)}; worker {k} writes no more of its "
                              "connections, the outputs hold what it wrote before", file=sys.stderr)
                        status = EXIT_STRICT
                read[k] += len(data)
            try:
                if status == EXIT_OK:
                    feed.finish(handle)
                share.recorder.finish()
            except OSError as exc:
                if status == EXIT_OK:  # (a part that failed before was said already)
                    print(f"ecq2pcap: error: {describe_write_error(exc)}; it ends with what was written before",
                          file=sys.stderr)
                status = status or EXIT_STRICT
        results.send({**share.result(status), "counts": dict(local.counts), "warnings": dict(local.warnings),
                      "limits": dict(local.limits), "made_up": local.made_up, "said": local.relayed,
                      "left_out": dict(local.left_out)})
    except EOFError:
        results.send({"error": "worker 0 ended before sending the end of its events"})
    except BaseException:
        results.send({"error": traceback.format_exc()})
    finally:
        results.close()


def convert_parallel(args: argparse.Namespace, report: Report, sources: list[FileSource], progress: bool):
    """Run the N workers and merge; returns (status, the pipeline whose facts the summary prints)."""
    check_parallel(args)
    n = args.jobs
    status = EXIT_OK
    with ExitStack() as stack:
        final = open_pipeline(args, stack, report, guard=OutputGuard(args.inputs))  # the outputs, checked
        workdir = _workdir(args)
        pipes = None
        try:
            ctx = multiprocessing.get_context("fork")
            pipes = _Pipes(ctx, n)
            children = []
            # Ctrl-C (and SIGTERM, SIGHUP) is worker 0's: a worker ignores it from its first instruction (one that comes
            # meanwhile reaches this process once the workers are started)
            with blocked():
                for k in range(1, n):
                    recv, send = ctx.Pipe(duplex=False)
                    proc = ctx.Process(target=_start_child, args=(args, k, workdir, pipes, send), daemon=True)
                    proc.start()
                    send.close()
                    children.append((proc, recv))
            for recv, _ in pipes.ends.values():
                recv.close()
            with ExitStack() as files:
                view = Dispatcher(connection_view(args, report), n, pipes.send, pipes.read,
                                  limits=Limits.from_args(args), report=report)
                share = _Share(args, 0, workdir, files, report, view, view.tags)
                # each process makes the wire bytes of the connections it writes (Normalizing)
                table = connection_table(args, report, normalize=False)
                pipeline = Pipeline([share.recorder], report, table,
                                    on_annotation=final.on_annotation, view=view, stream_state=stream_state(args))
                view.version = lambda: pipeline.ecapture_version
                view.deliver = pipeline.deliver  # (a list of its own full of bytes made up goes on at once)
                if share.pcapng is not None:
                    share.pcapng.ecapture_version = lambda: pipeline.ecapture_version
                bar = progress_bar(sources, progress)
                ctrl_c = CtrlC()
                try:
                    with ctrl_c.deferred():
                        fed = feed_sources(pipeline, sources, report, bar=bar, ctrl_c=ctrl_c)
                    if ctrl_c.interrupted and fed == EXIT_OK:  # (Ctrl-C during the last message)
                        say_interrupted()
                        fed = EXIT_INTERRUPTED
                    status = finish_outputs(pipeline, fed)
                finally:
                    if bar is not None:
                        bar.close()
                    pipes.close()  # (the end is sent; a worker that missed it reads EOF and fails)
            results = [(0, share.result(status))]
            for k, (proc, recv) in enumerate(children, 1):
                while True:
                    try:
                        res = recv.recv()
                        break
                    except EOFError:
                        res = {"error": f"exited with code {proc.join() or proc.exitcode}"}
                        break
                    except KeyboardInterrupt:  # the workers complete their share, then we merge
                        say_interrupted()
                        status = EXIT_INTERRUPTED
                proc.join()
                results.append((k, res))
            for _, res in results[1:]:
                report.say_relayed(res.get("said", ()))
            failed = [(k, r["error"]) for k, r in results if "error" in r]
            for k, error in failed:
                print(f"ecq2pcap: error: worker {k} of -j {n} failed: {error.strip()}", file=sys.stderr)
            if failed:
                print("ecq2pcap: error: the outputs were not merged (they hold no packets and no entries)",
                      file=sys.stderr)
                status = EXIT_STRICT if status != EXIT_INTERRUPTED else status
            else:
                for _, res in results[1:]:
                    report.counts.add(res["counts"])
                    report.warnings.add(res["warnings"])
                    report.limits.add(res["limits"])
                    report.left_out.add(res["left_out"])
                    report.made_up += res["made_up"]
                    status = max(status, res["status"])
                status = _merge(final, share, results, workdir, report, status)
            status = finish_outputs(final, status)
        finally:
            if pipes is not None:
                pipes.close()
            shutil.rmtree(workdir, ignore_errors=True)
    return status, pipeline


def _start_child(args, k, workdir, pipes: _Pipes, results) -> None:
    """In the forked child (the stop signals blocked): they are worker 0's; only its own end of its pipe kept, so
    that it reads EOF when worker 0 ends."""
    left_to_the_parent()
    events = pipes.ends[k][0]
    for j, (recv, send) in pipes.ends.items():
        send.close()
        if j != k:
            recv.close()
    _child(args, k, workdir, events, pipes.read, results)


def _merge(final: Pipeline, share: _Share, results, workdir: str, report: Report, status: int) -> int:
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
                if len(data) < p1 - p0:  # the worker's part ended early (a write failed there): whole blocks
                    data = whole_blocks(data)
                if names:
                    data, dropped = drop_named(data, named)
                    report.counts[Count.NAMES] -= dropped
                if data:
                    pcapng.write_blocks(data)
            if har is not None and entries:
                data = os.pread(fds["har", k], h1 - h0, h0)
                if len(data) < h1 - h0:  # likewise: whole entries
                    data, entries = whole_entries(data)
                if entries:
                    har.write_encoded(memoryview(data)[2:], entries)  # (not copied: an entry may be 100 MB)
    except OSError as exc:
        print(f"ecq2pcap: error: {describe_write_error(exc)}; stopped, the outputs end with what was "
              "written before", file=sys.stderr)
        return status or EXIT_STRICT
    finally:
        for fd in fds.values():
            os.close(fd)
    return status
