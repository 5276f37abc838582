"""``ecq2pcap summary INPUT...|URL``: what a conversion would contain, as tables, without writing a file.

Two tables on stdout, like ``tshark -z conv,tcp`` plus ``-z http,tree``: the connections
(pid, comm, client → server, frames, bytes and payload bytes each way, HTTP version,
exchanges, duration) and the HTTP exchanges (time, connection, method, URL, status,
size). ``--json`` prints ``{"connections": [...], "exchanges": [...]}`` instead (and ``"filtered_out"``, the
connections a selection left out, when one is given). The
figures are those of the pcapng ``convert`` writes with the same options. A ``ws://``
URL is read live until ``--duration``, ``--count`` or Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import sys

from ..limits import Limits
from ..pipeline import Pipeline
from ..report import Count, Report
from ..sinks.har.options import HarOptions
from ..sinks.overview import ConnectionRow, ExchangeRow, OverviewSink
from ..live import Session
from .status import StatusLine
from .conversion import CtrlC, feed_sources, open_sources, say_interrupted
from .common import add_conversion_args, connection_table, connection_view, pcapng_options, stream_state
from .exits import EXIT_INTERRUPTED, EXIT_OK, EXIT_STRICT, UsageError
from .live import add_connection_options, exit_code, make_source, run_session

__all__ = ["add_summary_parser", "cmd_summary", "format_tables"]


def add_summary_parser(subparsers, help: str) -> argparse.ArgumentParser:
    cmd = subparsers.add_parser(
        "summary",
        help=help,
        description="Print the connections (pid, comm, client → server, frames/bytes each way, HTTP version, "
        "exchanges, duration) and the HTTP exchanges (time, connection, method, URL, status, size) of dumps or of "
        "eCapture's eCaptureQ address, with the figures of the pcapng convert would write. Nothing is written.",
    )
    cmd.add_argument("inputs", nargs="+", metavar="INPUT|URL",
                     help="dump files ('-' = stdin), or one ws:// / wss:// address read live")
    cmd.add_argument("--json", action="store_true", help='print {"connections": [...], "exchanges": [...]}')
    add_conversion_args(cmd)
    add_connection_options(cmd, quiet="no status line, no warnings, no skipped lines (an input that breaks off and "
                           "the live source's retries are still said)")
    return cmd


def cmd_summary(args: argparse.Namespace) -> int:
    urls = [i for i in args.inputs if i.startswith(("ws://", "wss://"))]
    if urls and len(args.inputs) > 1:
        raise UsageError("summary reads either dump files or one ws:// address, not both")
    report = Report(emit=None if args.quiet else (lambda line: print(f"ecq2pcap: {line}", file=sys.stderr)))
    overview = OverviewSink(report, HarOptions(limits=Limits.from_args(args)), **pcapng_options(args))
    view = connection_view(args, report)  # (no -w here: no names read unless --host)
    pipeline = Pipeline([overview], report, connection_table(args, report), view=view, stream_state=stream_state(args))
    status = EXIT_OK
    if urls:
        status = _live(args, urls[0], pipeline)
    else:
        status = _files(args, pipeline, report)
        if status == EXIT_INTERRUPTED:
            pass
        elif status != EXIT_OK:
            status = EXIT_STRICT
    pipeline.finish()
    filtered = report.counts[Count.FILTERED_CONNECTIONS] if view.filter is not None else None
    if args.json:
        doc = {"connections": [r.as_dict() for r in overview.connections],
               "exchanges": [e.as_dict() for e in overview.exchanges]}
        if filtered is not None:  # (as the tables' heading says it)
            doc["filtered_out"] = filtered
        sys.stdout.write(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(format_tables(overview.connections, overview.exchanges, filtered))
    sys.stdout.flush()
    return status


def _files(args: argparse.Namespace, pipeline: Pipeline, report: Report) -> int:
    if args.inputs.count("-") > 1:
        raise UsageError("'-' (stdin) can be given only once")
    sources = open_sources(args, report)  # (convert's: its --max-message-size, its unreadable inputs)
    # read as convert reads: Ctrl-C, SIGTERM and SIGHUP take effect between two messages, and the tables are of
    # what was read (SIGTERM and SIGHUP killed it, without a table)
    ctrl_c, then = CtrlC(), "the tables are of what was read"
    with ctrl_c.deferred():
        status = feed_sources(pipeline, sources, report, ctrl_c=ctrl_c, then=then)
    if ctrl_c.interrupted and status == EXIT_OK:  # (during the last message)
        say_interrupted(then)
        status = EXIT_INTERRUPTED
    return status


def _live(args: argparse.Namespace, url: str, pipeline: Pipeline) -> int:
    args.url = url
    status = StatusLine(enabled=False if args.quiet else None)
    pipeline.report.emit = None if args.quiet else status.say
    source = make_source(args, status)
    session = Session(pipeline, None, args.count)
    reason = run_session(source, session, args, status, "summary")
    return exit_code(source, session, reason, status)


# ---------------------------------------------------------------------------- text tables


def _table(headers: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return [line(headers).rstrip()] + [line(r).rstrip() for r in rows]


def format_tables(conns: list[ConnectionRow], exchanges: list[ExchangeRow], filtered: int | None = None) -> str:
    head = f"Connections: {len(conns)}" + (f" ({filtered} filtered out)" if filtered is not None else "")
    rows = []
    for c in conns:
        server = c.server if c.server.endswith(f":{c.shown_server_port}") else f"{c.server} (as {c.shown_server_port})"
        client = c.client if c.client.endswith(f":{c.shown_client_port}") else f"{c.client} (as {c.shown_client_port})"
        rows.append([str(c.id), str(c.pid), c.comm, f"{client} → {server}", f"{c.frames_c2s}/{c.frames_s2c}",
                     f"{c.bytes_c2s}/{c.bytes_s2c}", f"{c.payload_c2s}/{c.payload_s2c}", c.http or "-",
                     str(c.exchanges), f"{c.duration_s:.4f}"])
    out = [head] + ["  " + x for x in _table(
        ["#", "pid", "comm", "client → server", "frames →/←", "bytes →/←", "payload →/←", "HTTP", "exchanges",
         "duration s"], rows, {0, 1, 4, 5, 6, 8, 9})]
    out += ["", f"HTTP exchanges: {len(exchanges)}"]
    rows = [[e.time, str(e.connection) + (f"/{e.stream}" if e.stream is not None else ""), e.method or "-",
             e.url or "-", str(e.status or "-"), "-" if e.size is None else str(e.size)] for e in exchanges]
    out += ["  " + x for x in _table(["time", "conn", "method", "URL", "status", "size"], rows, {1, 4, 5})]
    return "\n".join(out) + "\n"
