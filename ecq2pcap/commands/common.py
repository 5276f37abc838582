"""What the commands share: output and conversion options, and the pipeline they open (``convert``,
``live``, ``record`` and ``summary`` import it; it imports none of them). Exit codes and the usage
error are in :mod:`.exits`, which the CLI imports without this module's pipeline and sinks."""

from __future__ import annotations

import argparse
import os
import stat
import sys
from contextlib import ExitStack
from dataclasses import fields
from typing import BinaryIO

from ..argtypes import int_between, seconds, size, utc_offset
from ..dialects import StreamState
from ..filters import ConnectionView, add_filter_args, filter_from_args
from ..flows import ConnectionTable
from ..limits import Limits, format_size
from ..outputs import OutputConflict, OutputFile, OutputGuard, describe_write_error
from ..pipeline import Pipeline
from ..report import Report
from ..ring import RingOutputs, open_ring, ring_spec
from ..sinks.annotations import AnnotationFile
from ..sinks.har import HarOptions, HarSink
from ..sinks.har.writer import COMMIT_INTERVAL_S
from ..sinks.pcapng import PcapngSink, PortMap
from .exits import EXIT_STRICT, UsageError

SECOND = 1_000_000_000


def _port_map(text: str) -> PortMap:
    try:
        return PortMap.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_output_args(cmd: argparse.ArgumentParser) -> None:
    """Options shared by every command that writes pcapng/HAR (convert, live)."""
    out = cmd.add_argument_group("outputs (at least one)")
    out.add_argument("-w", "--write", metavar="OUT.pcapng", help="pcapng output ('-' = stdout)")
    out.add_argument("--har", metavar="OUT.har", help="HAR 1.2 output ('-' = stdout)")
    out.add_argument("-b", "--ring-buffer", action="append", type=ring_spec, metavar="KEY:VALUE",
                     help="ring buffer like dumpcap: filesize:KB, duration:S (capture time), files:N (keep the "
                     "newest N); writes OUT_00001_YYYYmmddHHMMSS.pcapng, ... and the HAR alongside")
    out.add_argument("--annotations", metavar="FILE",
                     help="JSON lines file for events that are not TLS data (bash, SQL, master keys, unknown "
                     "messages); default: OUTPUT.annotations.jsonl beside -w/--har, created only when needed")
    add_conversion_args(cmd)


# the smallest MSS Linux takes (TCP_MIN_MSS): smaller ones split what a dissector must see whole to know the protocol
# (HTTP/2's 24-byte preface across segments: Wireshark then decoded no HTTP/2 at all)
MIN_MSS = 88


def add_conversion_args(cmd: argparse.ArgumentParser) -> None:
    """How the packets and flows are made, and which connections are kept (convert, live, summary)."""
    pc = cmd.add_argument_group("pcapng")
    pc.add_argument("--link-type", choices=("ether", "raw"), default="ether",
                    help="Ethernet frames (default) or raw IP packets")
    pc.add_argument("--mss", type=int_between(MIN_MSS, 65495), default=65495,
                    help=f"largest TCP payload per segment ({MIN_MSS}..65495, default 65495)")
    pc.add_argument("--port-map", type=_port_map, default=None, metavar="REAL:SHOWN,...",
                    help="server ports to show instead of the real ones, e.g. 443:80,8443:8080 "
                    "(default: every non-HTTP server port is shown as 80 so Wireshark dissects HTTP/1 and HTTP/2)")
    pc.add_argument("--keep-ports", action="store_true",
                    help="keep the real server ports (but those --port-map names)")
    pc.add_argument("--raw-payload", action="store_true",
                    help="write payloads exactly as eCapture sent them: no HTTP/1 framing repair, v1's HTTP/2 text "
                    "dumps not re-encoded (hex dumps are still turned back into bytes)")
    fl = cmd.add_argument_group("flows")
    fl.add_argument("--idle-timeout", type=seconds, default=300.0, metavar="S",
                    help="end a connection after S seconds (capture time) without data (0 = only at end of input; "
                    "default 300; at least twice --reorder-window: captures may come that late)")
    fl.add_argument("--reorder-window", type=seconds, default=3.0, metavar="S",
                    help="how long (capture time) to wait for out-of-order events (default 3)")
    fl.add_argument("--utc-offset", type=utc_offset, default=None, metavar="+HH:MM",
                    help="the eCapture host's UTC offset, e.g. +08:00: eCapture v2.1+ writes its local time in its "
                    "events (default: told from eCaptureQ's receive times or the console's own; an event log, which "
                    "has neither, is read as UTC); a negative one as --utc-offset=-05:30")
    add_filter_args(cmd)
    add_limit_args(cmd)


def add_limit_args(cmd: argparse.ArgumentParser) -> None:
    """One option per settable :class:`~ecq2pcap.limits.Limits` field (sizes take K/M/G)."""
    lim = cmd.add_argument_group("limits on hostile input (each limit that bites is stated in the outputs "
                                 "and counted in the summary)")
    for f in fields(Limits):
        flag = f.metadata["flag"]
        if flag is None:
            continue
        is_size = f.metadata["unit"] == "bytes"
        default = format_size(f.default) if is_size else str(f.default)
        lim.add_argument(flag, dest=f.name, type=size if is_size else int_between(1), default=None,
                         metavar="BYTES" if is_size else "N", help=f"{f.metadata['help']} (default {default})")


def open_pipeline(args: argparse.Namespace, stack: ExitStack, report: Report, *, live: bool = False,
                  guard: OutputGuard | None = None) -> Pipeline:
    """The sinks the options ask for, their files opened on ``stack``, wired to a pipeline.

    Every output is claimed on ``guard`` before any is opened (see :class:`OutputGuard`).
    ``live`` flushes the pcapng after every event so a reader on a pipe sees packets at
    once, and commits the HAR after every entry; so does a conversion of stdin (it may be
    a live pipe). Otherwise the HAR is committed at least once a second.
    """
    if not args.write and not args.har:
        raise UsageError(f"{args.command} needs an output: -w OUT.pcapng and/or --har OUT.har")
    limits = Limits.from_args(args)
    path = annotations_path(args)
    guard = guard or OutputGuard()
    try:
        for option, out_path in (("-w", args.write), ("--har", args.har), ("--annotations", path)):
            if out_path:
                guard.claim(option, out_path)
    except OutputConflict as exc:
        raise UsageError(str(exc)) from None
    streaming = live or "-" in getattr(args, "inputs", ())
    view = connection_view(args, report)
    sinks = []
    try:  # each sink writes its file's header at once: an unwritable output fails here
        if getattr(args, "ring_buffer", None):
            try:
                sinks.append(open_ring(
                    args, guard,
                    lambda out: PcapngSink(out, flush_each_event=live, report=report, hosts=view.host,
                                           follow_frames=True, **pcapng_options(args)),
                    lambda out: HarSink(out, report=report, commit_interval=0 if streaming else COMMIT_INTERVAL_S,
                                        options=HarOptions(limits=limits)),
                    capture_time_names=not live, warn=lambda reason, detail: report.warn(reason, detail=detail)))
            except ValueError as exc:
                raise UsageError(str(exc)) from None
        elif args.write:
            sinks.append(PcapngSink(_open_output(args.write, stack, True), flush_each_event=live, report=report,
                                    hosts=view.host, **pcapng_options(args)))
        if args.har and not getattr(args, "ring_buffer", None):
            sinks.append(HarSink(_open_output(args.har, stack, False), report=report,
                                 commit_interval=0 if streaming else COMMIT_INTERVAL_S,
                                 options=HarOptions(limits=limits)))
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise UsageError(describe_write_error(exc)) from None
    table = connection_table(args, report)
    annotations = AnnotationFile(path, stack, report) if path else None
    report.annotations_path = path
    pipeline = Pipeline(sinks, report, table, on_annotation=annotations.write if annotations else None, view=view,
                        stream_state=stream_state(args))
    pipeline.annotations = annotations
    for sink in sinks:
        pcapng = sink.pcapng if isinstance(sink, RingOutputs) else sink
        if isinstance(pcapng, PcapngSink):
            pcapng.ecapture_version = lambda: pipeline.ecapture_version
    return pipeline


def stream_state(args: argparse.Namespace) -> StreamState:
    """What the dialects keep for a stream, with what the options say of it (``--utc-offset``)."""
    return StreamState(utc_offset_ns=getattr(args, "utc_offset", None))


def annotations_path(args: argparse.Namespace) -> str | None:
    """Where the annotations go: ``--annotations``, else ``OUTPUT.annotations.jsonl`` beside the first of -w/--har
    that is a file (or nothing yet); None when there is none."""
    default = next((p for p in (args.write, args.har) if p and p != "-" and _is_file(p)), None)
    return args.annotations or (default and f"{default}.annotations.jsonl")


def _is_file(path: str) -> bool:
    """``path`` is a file's (or nothing's yet): not a device, a pipe or a socket, beside which no annotations file
    is made (``-w /dev/null``'s would be in /dev: refused to a user, made there by root)."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return True


def finish_outputs(pipeline: Pipeline, status: int) -> int:
    """``pipeline.finish()``; an output that cannot be written then is reported and makes
    the exit status 1 (EXIT_STRICT) unless it is already an error."""
    try:
        pipeline.finish()
    except BrokenPipeError:
        raise
    except OSError as exc:
        print(f"ecq2pcap: error: {describe_write_error(exc)}; it ends with what was written before",
              file=sys.stderr)
        return status or EXIT_STRICT
    return status


def pcapng_options(args: argparse.Namespace) -> dict:
    """PcapngSink's keyword arguments from :func:`add_conversion_args`' options."""
    given = args.port_map
    # (--keep-ports keeps the ports --port-map does not name: its entries still apply, as PortMap says)
    port_map = PortMap(given.mapping if given else None, keep_ports=True) if args.keep_ports else (given or PortMap())
    return {"link_type": args.link_type, "mss": args.mss, "port_map": port_map, "raw_payload": args.raw_payload,
            "max_names": Limits.from_args(args).named_addresses}


def connection_view(args: argparse.Namespace, report: Report) -> ConnectionView:
    """The view of the options' filter; host names are read for a pcapng's NRBs only when one is written (-w)."""
    return ConnectionView(filter_from_args(args), report, names=bool(getattr(args, "write", None)))


def connection_table(args: argparse.Namespace, report: Report, *, normalize: bool = True) -> ConnectionTable:
    """The options' table; with filters, it is told which connections they leave out whatever their requests say
    (not written: what it counts as out of time order is against what the pcapng has)."""
    flt = filter_from_args(args)
    return ConnectionTable(
        report,
        limits=Limits.from_args(args),
        reorder_window_ns=int(args.reorder_window * SECOND),
        idle_timeout_ns=int(args.idle_timeout * SECOND) or None,
        normalize=normalize,
        leaves_out=flt.leaves_out if flt.active else None,
    )


def stderr_report() -> Report:
    return Report(emit=lambda line: print(f"ecq2pcap: {line}", file=sys.stderr))


def _open_output(path: str, stack: ExitStack, binary_stdout: bool) -> BinaryIO:
    if path == "-":
        if sys.stdout is None:  # (started with stdout closed)
            raise UsageError("-: standard output is closed")
        if binary_stdout and sys.stdout.isatty():
            raise UsageError("refusing to write binary pcapng to a terminal; redirect or pipe it")
        return sys.stdout.buffer
    try:
        return stack.enter_context(OutputFile(path))
    except OSError as exc:
        raise UsageError(f"{path}: cannot write: {exc.strerror or exc}") from None
