"""Command line: ``ecq2pcap convert`` (and, later, ``live`` / ``record``).

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
import os
import sys
from contextlib import ExitStack
from dataclasses import fields
from typing import BinaryIO

from . import __version__
from .argtypes import int_between, seconds, size
from .filters import ConnectionView, add_filter_args, filter_from_args
from .flows import ConnectionTable
from .limits import Limits, format_size
from .live import add_live_parser, add_record_parser, cmd_live, cmd_record
from .pipeline import Pipeline
from .report import Report
from .ring import RingOutputs, open_ring, ring_spec
from .sinks.har import HarOptions, HarSink
from .sinks.pcapng import PcapngSink, PortMap
from .outputs import OutputConflict, OutputFile, OutputGuard, describe_write_error, input_problem
from .sinks.har.writer import COMMIT_INTERVAL_S
from .sources.files import FileSource, InputError
from .sinks.annotations import AnnotationFile
from .summary import format_summary
from .summary_cmd import add_summary_parser, cmd_summary
from .wireshark.extcap import add_extcap_parser, cmd_extcap
from .wireshark.install import add_wireshark_parser, cmd_wireshark

SECOND = 1_000_000_000
EXIT_OK, EXIT_STRICT, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    pass


def _port_map(text: str) -> PortMap:
    try:
        return PortMap.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_output_args(cmd: argparse.ArgumentParser) -> None:
    """Options shared by every command that writes pcapng/HAR (convert, live)."""
    out = cmd.add_argument_group("outputs (at least one)")
    out.add_argument("-w", "--write", metavar="OUT.pcapng", help="pcapng output ('-' = stdout)")
    out.add_argument("--har", metavar="OUT.har", help="HAR 1.2 output")
    out.add_argument("-b", "--ring-buffer", action="append", type=ring_spec, metavar="KEY:VALUE",
                     help="ring buffer like dumpcap: filesize:KB, duration:S (capture time), files:N (keep the "
                     "newest N); writes OUT_00001_YYYYmmddHHMMSS.pcapng, ... and the HAR alongside")
    out.add_argument("--annotations", metavar="FILE",
                     help="JSON lines file for events that are not TLS data (bash, SQL, master keys, unknown "
                     "messages); default: OUTPUT.annotations.jsonl beside -w/--har, created only when needed")
    add_conversion_args(cmd)


def add_conversion_args(cmd: argparse.ArgumentParser) -> None:
    """How the packets and flows are made, and which connections are kept (convert, live, summary)."""
    pc = cmd.add_argument_group("pcapng")
    pc.add_argument("--link-type", choices=("ether", "raw"), default="ether",
                    help="Ethernet frames (default) or raw IP packets")
    pc.add_argument("--mss", type=int_between(1, 65495), default=65495, help="largest TCP payload per segment (default 65495)")
    pc.add_argument("--port-map", type=_port_map, default=None, metavar="REAL:SHOWN,...",
                    help="server ports to show instead of the real ones, e.g. 443:80,8443:8080 "
                    "(default: every non-HTTP server port is shown as 80 so Wireshark dissects HTTP/1 and HTTP/2)")
    pc.add_argument("--keep-ports", action="store_true", help="keep the real server ports")
    pc.add_argument("--raw-payload", action="store_true",
                    help="write payloads exactly as eCapture sent them (no HTTP/1 framing repair)")
    fl = cmd.add_argument_group("flows")
    fl.add_argument("--idle-timeout", type=seconds, default=300.0, metavar="S",
                    help="end a connection after S seconds without data (0 = only at end of input; default 300)")
    fl.add_argument("--reorder-window", type=seconds, default=3.0, metavar="S",
                    help="how long (capture time) to wait for out-of-order events (default 3)")
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
    default = next((p for p in (args.write, args.har) if p and p != "-"), None)
    path = args.annotations or (default and f"{default}.annotations.jsonl")
    guard = guard or OutputGuard()
    try:
        for option, out_path in (("-w", args.write), ("--har", args.har), ("--annotations", path)):
            if out_path:
                guard.claim(option, out_path)
    except OutputConflict as exc:
        raise UsageError(str(exc)) from None
    streaming = live or "-" in getattr(args, "inputs", ())
    view = ConnectionView(filter_from_args(args), report)
    sinks = []
    try:  # each sink writes its file's header at once: an unwritable output fails here
        if getattr(args, "ring_buffer", None):
            try:
                sinks.append(open_ring(
                    args, guard,
                    lambda out: PcapngSink(out, flush_each_event=live, report=report, hosts=view.host,
                                           **pcapng_options(args)),
                    lambda out: HarSink(out, report=report, commit_interval=0 if streaming else COMMIT_INTERVAL_S,
                                        options=HarOptions(limits=limits))))
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
    annotations = AnnotationFile(path, stack) if path else None
    report.annotations_path = path
    pipeline = Pipeline(sinks, report, table, on_annotation=annotations.write if annotations else None, view=view)
    for sink in sinks:
        pcapng = sink.pcapng if isinstance(sink, RingOutputs) else sink
        if isinstance(pcapng, PcapngSink):
            pcapng.ecapture_version = lambda: pipeline.ecapture_version
    return pipeline


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
    port_map = PortMap(keep_ports=True) if args.keep_ports else (args.port_map or PortMap())
    return {"link_type": args.link_type, "mss": args.mss, "port_map": port_map, "raw_payload": args.raw_payload}


def connection_table(args: argparse.Namespace, report: Report) -> ConnectionTable:
    return ConnectionTable(
        report,
        limits=Limits.from_args(args),
        reorder_window_ns=int(args.reorder_window * SECOND),
        idle_timeout_ns=int(args.idle_timeout * SECOND) or None,
    )


def stderr_report() -> Report:
    return Report(emit=lambda line: print(f"ecq2pcap: {line}", file=sys.stderr))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ecq2pcap",
        description="Turn eCapture's eCaptureQ event stream into Wireshark pcapng and HAR 1.2.",
    )
    parser.add_argument("--version", action="version", version=f"ecq2pcap {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

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
    add_live_parser(sub)
    add_record_parser(sub)
    add_summary_parser(sub)
    add_extcap_parser(sub)
    add_wireshark_parser(sub)
    return parser


def _open_output(path: str, stack: ExitStack, binary_stdout: bool) -> BinaryIO:
    if path == "-":
        if binary_stdout and sys.stdout.isatty():
            raise UsageError("refusing to write binary pcapng to a terminal; redirect or pipe it")
        return sys.stdout.buffer
    try:
        return stack.enter_context(OutputFile(path))
    except OSError as exc:
        raise UsageError(f"{path}: cannot write: {exc.strerror or exc}") from None


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
    sources = [FileSource(p, report, Limits.from_args(args).message_size) for p in args.inputs]
    for src in sources:  # fail before writing anything when an input is unreadable
        problem = input_problem(src.path)
        if problem:
            raise UsageError(f"{src.path}: cannot read: {problem}")

    status = EXIT_OK
    with ExitStack() as stack:
        pipeline = open_pipeline(args, stack, report, guard=OutputGuard(args.inputs))
        bar = _progress(sources, not (args.quiet or args.no_progress))
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
                    report.count("broken_inputs")
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
    if not args.quiet:
        print(format_summary(report, pipeline), file=sys.stderr)
    if status == EXIT_OK and args.strict and report.counts["skipped"]:
        status = EXIT_STRICT
    return status


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        commands = {"convert": cmd_convert, "live": cmd_live, "record": cmd_record, "summary": cmd_summary,
                    "extcap": cmd_extcap, "wireshark": cmd_wireshark}
        return commands[args.command](args)
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
