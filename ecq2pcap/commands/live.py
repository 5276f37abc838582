"""``ecq2pcap live`` and ``ecq2pcap record`` as commands: their options, the outputs they open, their
exit codes and summary lines. The capture itself (session, status line, the event loop) is
:mod:`ecq2pcap.live`.

Exit codes: 0 stopped as asked; 1 eCapture went away for good after a connection was made (outputs
completed), an output could not be written any more, or live's converting process ended before its
time; 2 usage error, unwritable output, or never connected (refused handshake, bad certificate, gave
up retrying).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
from collections.abc import Callable
from contextlib import ExitStack

from ..argtypes import int_between, seconds, size
from ..limits import LIMIT_FLAGS, Limits, format_size
from ..live import Session, capture
from ..sources.backlog import DEFAULT_MEMORY
from ..stops import deferred, stops_as_ctrl_c
from . import converting
from .status import Progress, StatusLine
from ..outputs import describe_write_error
from ..sources.websocket import DEFAULT_ORIGIN, WebSocketSource, check_url
from .common import add_output_args
from .exits import EXIT_INTERRUPTED, EXIT_OK, EXIT_STRICT, EXIT_USAGE, UsageError
from .live_outputs import Opener, open_live_outputs, open_record_outputs

READING_GC_THRESHOLD = 5_000  # allocations between young-generation collections while reading (run_session)


def _add_connection_args(cmd: argparse.ArgumentParser, **helps: str) -> None:
    cmd.add_argument("url", metavar="URL", help="eCapture's --ecaptureq address, e.g. ws://127.0.0.1:28257/")
    add_connection_options(cmd, **helps)


def add_connection_options(cmd: argparse.ArgumentParser, quiet: str = "no status line and no summary",
                           count: str = "stop after N events") -> None:
    """Stopping and connection options of every command that reads eCaptureQ live (``quiet``, ``count``: the
    help of -q and --count)."""
    stop = cmd.add_argument_group("stopping (default: Ctrl-C, SIGTERM or SIGHUP)")
    stop.add_argument("--duration", type=seconds, metavar="S", help="stop after S seconds (0 = no limit)")
    stop.add_argument("--count", type=int_between(1), metavar="N", help=count)
    conn = cmd.add_argument_group("connection")
    conn.add_argument("--origin", default=DEFAULT_ORIGIN, metavar="O",
                      help=f"Origin header; eCapture rejects a handshake without one (default {DEFAULT_ORIGIN}; "
                      "'' sends none)")
    conn.add_argument("--insecure", action="store_true", help="wss://: do not verify the server certificate")
    conn.add_argument("--retry-for", type=seconds, metavar="S",
                      help="while disconnected, keep retrying for S seconds, then stop "
                      "(default: forever; 0 = do not retry)")
    conn.add_argument("--open-timeout", type=seconds, default=10.0, metavar="S",
                      help="give up an opening handshake that gets no answer after S seconds, then retry "
                      "(default 10, as websockets; 0 = wait forever)")
    conn.add_argument("--max-backlog-memory", type=size, default=DEFAULT_MEMORY, metavar="BYTES",
                      help="messages received and not yet converted (or recorded) are kept in memory up to "
                      "this; beyond it they wait in a temporary file (TMPDIR), so falling behind a busy eCapture "
                      f"neither gets us dropped nor grows without bound (default {format_size(DEFAULT_MEMORY)})")
    cmd.add_argument("-q", "--quiet", action="store_true", help=quiet)


def add_live_parser(subparsers, help: str) -> argparse.ArgumentParser:
    cmd = subparsers.add_parser(
        "live",
        help=help,
        description="Connect to eCapture (ecapture tls --ecaptureq ws://host:28257/) and convert its events as "
        "they arrive. '-w -' writes pcapng to stdout: ecq2pcap live URL -w - | wireshark -k -i -",
    )
    _add_connection_args(cmd)
    add_output_args(cmd)
    cmd.add_argument("--record", metavar="DUMP",
                     help="also keep a lossless recording (JSON lines; gzip if DUMP ends with .gz) for convert")
    return cmd


def add_record_parser(subparsers, help: str) -> argparse.ArgumentParser:
    cmd = subparsers.add_parser(
        "record",
        help=help,
        description="Record every eCaptureQ message byte-exact with its receive time "
        "(JSON lines; gzip if DUMP ends with .gz). Convert it later with: ecq2pcap convert DUMP -w OUT.pcapng",
    )
    _add_connection_args(cmd, count="stop after N messages that are neither logs nor heartbeats (events, v2 "
                         "connect lines: record does not decode them)")
    cmd.add_argument("-o", "--output", required=True, metavar="DUMP", help="recording file ('-' = stdout)")
    cmd.add_argument(LIMIT_FLAGS["message_size"], dest="message_size", type=size, default=None, metavar="BYTES",
                     help="largest eCaptureQ message received; a bigger one is refused (the connection is "
                     f"closed with code 1009 and opened again) (default {format_size(Limits().message_size)})")
    return cmd


def make_source(args: argparse.Namespace, status: StatusLine, consumer: str = "converting") -> WebSocketSource:
    try:
        check_url(args.url)
    except ValueError as exc:
        raise UsageError(str(exc)) from None

    def on_status(kind: str, text: str) -> None:
        if kind == "heartbeat":
            status.say(f"warning: {text}")
        elif kind != "error" and not (kind == "connected" and args.quiet):  # (the command reports the final error
            status.say(text)  # itself; -q leaves out the news that all is well, never a retry or the backlog's)

    return WebSocketSource(args.url, origin=args.origin or None, insecure=args.insecure,
                           retry_for=args.retry_for, on_status=on_status, open_timeout=args.open_timeout or None,
                           max_message_size=Limits.from_args(args).message_size,
                           backlog_memory=args.max_backlog_memory, consumer=consumer)


def run_session(source: WebSocketSource, session: Session, args: argparse.Namespace, status: StatusLine, what: str) -> str:
    # The socket reader and the converting thread share the GIL. With Python's default 5 ms switch interval
    # the reader can wait that long for it, while eCapture sends on: at 50k messages/s that is 250 messages,
    # as many as eCapture queues for a client before dropping it. 0.5 ms keeps the reader close behind.
    switch = sys.getswitchinterval()
    sys.setswitchinterval(min(switch, 0.0005))
    # The cycle collector stops the reader too, for a time that grows with the young generation: a whole
    # process collects it rarely (cli.tune_gc): every 50,000 allocations took 12 ms here, 1,200 messages at
    # 100k/s. Every 5,000 while reading: ~1 ms each. (Without fork the converter shares this process, and its
    # collector runs as often: slower converting, on the rare platform without fork.)
    threshold = gc.get_threshold()
    gc.set_threshold(min(threshold[0], READING_GC_THRESHOLD), *threshold[1:])
    try:
        runner = asyncio.Runner()  # (asyncio.run's, with its loop made while the stop signals wait: one in the
        try:  # middle left a half-made loop, whose end printed a traceback)
            with deferred():
                runner.get_loop()
            return runner.run(capture(source, session, duration=args.duration or None,
                                      progress=Progress(source, session, status, what)))
        finally:
            runner.close()
    except KeyboardInterrupt:  # only when the signal handlers could not be installed (or one came just before)
        return "signal"
    finally:
        sys.setswitchinterval(switch)
        gc.set_threshold(*threshold)
        status.clear()


def exit_code(source: WebSocketSource, session: Session, reason: str, status: StatusLine) -> int:
    if reason == "signal":
        status.say("stopped: outputs completed")
    elif reason == "output closed":
        status.say("the reader of stdout went away: stopped")
    elif reason == "output failed":
        status.say(f"error: {describe_write_error(session.output_error)}; stopped, the outputs end with "
                   "what was written before")
        return EXIT_STRICT
    if reason != "error":
        return EXIT_OK
    status.say(f"error: {source.error}")
    return EXIT_STRICT if source.connections else EXIT_USAGE


def cmd_live(args: argparse.Namespace) -> int:
    if args.record == "-" and args.write == "-":
        raise UsageError("--record - and -w - cannot both write to stdout")
    status = StatusLine(enabled=False if args.quiet else None)
    return _capture(args, make_source(args, status), status, open_live_outputs, "converting", "live", _live_end,
                    gone=_live_summary)


def _capture(args: argparse.Namespace, source: WebSocketSource, status: StatusLine, opener: Opener, role: str,
             what: str, end: Callable[..., int], gone: Callable[[WebSocketSource, object], str] | None = None) -> int:
    """Capture until stopped, ``opener``'s outputs written by a process of their own (by this one without
    fork); ``end(args, source, session, reason, status, summary)`` says how it went and gives the exit code.
    When that process ended before its time, ``gone(source, session)`` is the summary printed (if any).
    SIGTERM and SIGHUP before the capture loop's handlers are in place stop it as Ctrl-C does (they killed it)."""
    with stops_as_ctrl_c():
        return _capture_until_stopped(args, source, status, opener, role, what, end, gone)


def _capture_until_stopped(args, source, status, opener, role, what, end, gone) -> int:
    try:
        child = converting.start(args, status.say, opener, role)  # the outputs are opened (and checked) there
    except KeyboardInterrupt:  # (Ctrl-C before the signal handlers are in place: the outputs were completed)
        status.say("stopped before connecting: outputs completed")
        return EXIT_OK
    except BrokenPipeError:  # (stdout's reader went away before anything was written: as when it goes later)
        status.say("the reader of stdout went away: stopped")
        return EXIT_OK
    if child is None:  # no fork on this platform: write in this process
        with ExitStack() as stack:
            served = opener(args, stack, status.say)
            try:
                reason = run_session(source, served.session, args, status, what)
            finally:
                served.finish()
        return end(args, source, served.session, reason, status, served.summary())
    try:
        try:
            reason = run_session(source, child, args, status, what)
        finally:
            child.finish()
    except KeyboardInterrupt:  # (a further stop request while the outputs were completed: the child completes them)
        child.wait()
        status.say("stopped again while completing the outputs: they are complete; no summary")
        return EXIT_INTERRUPTED
    except converting.ConverterGone as exc:
        status.say(f"error: {exc}")
        if gone is not None and not args.quiet:
            print(gone(source, child), file=sys.stderr)
        return EXIT_STRICT
    return end(args, source, child, reason, status, child.summary)


def _live_end(args: argparse.Namespace, source: WebSocketSource, session, reason: str, status: StatusLine,
              summary: str) -> int:
    if session.output_error is not None:
        reason = "output failed"
    code = exit_code(source, session, reason, status)
    if not args.quiet:
        print(summary, file=sys.stderr)
        print(_live_summary(source, session), file=sys.stderr)
    return code


def cmd_record(args: argparse.Namespace) -> int:
    status = StatusLine(enabled=False if args.quiet else None)
    return _capture(args, make_source(args, status, "recording"), status, open_record_outputs, "recording", "recording",
                    _record_end)


def _record_end(args: argparse.Namespace, source: WebSocketSource, session, reason: str, status: StatusLine,
                recorded: str) -> int:
    if session.output_error is not None:
        reason = "output failed"
    code = exit_code(source, session, reason, status)
    if not args.quiet:  # (what the recording lacks too: a "lossless" recording says so)
        print("; ".join([recorded, *_source_notes(source)]), file=sys.stderr)
    return code


def _live_summary(source: WebSocketSource, session: Session) -> str:
    text = f"  live         {source.messages} messages received over {source.connections} connection(s)"
    replays = session.replays_skipped
    return ", ".join([text, *_source_notes(source, f"{replays} replayed startup log(s) not converted again"
                                           if replays else None)])


def _source_notes(source: WebSocketSource, replays: str | None = None) -> list[str]:
    """What the summaries of live and record say of the source beyond its messages (and what it did not receive)."""
    notes = [f"{source.reconnects} reconnect(s)"] if source.reconnects else []
    if replays:
        notes.append(replays)
    if source.watchdog.warnings:
        notes.append(f"{source.watchdog.warnings} heartbeat warning(s)")
    if source.oversized:
        notes.append(f"{source.oversized} message(s) over {LIMIT_FLAGS['message_size']} not received")
    if source.spilled:
        notes.append(f"{source.spilled} message(s) waited in a temporary file ({source.consumer} fell behind; "
                     "--max-backlog-memory)")
    return notes
