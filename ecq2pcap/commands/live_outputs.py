"""``live``'s and ``record``'s outputs: opening them with the session that feeds them, the recording,
the claims on output paths, and finishing them (shared by the commands and the process that writes
them, commands/converting.py)."""

from __future__ import annotations

import gzip
import sys
from collections.abc import Callable
from contextlib import ExitStack
from typing import BinaryIO, NamedTuple

from ..live import Session
from ..outputs import OutputConflict, OutputFile, OutputGuard, describe_write_error
from ..report import Report
from ..sources.recording import Recorder
from ..summary import format_summary
from .common import open_pipeline
from .exits import UsageError


class Served(NamedTuple):
    """A command's outputs, opened: the session that feeds them, how to complete them, the end-of-run text."""

    session: Session
    finish: Callable[[], None]
    summary: Callable[[], str]


Opener = Callable[[object, ExitStack, Callable[[str], None]], Served]
"""``opener(args, stack, say)``: a command's outputs, opened on ``stack``; ``say`` prints warnings."""


def open_live_outputs(args, stack: ExitStack, say: Callable[[str], None]) -> Served:
    """``live``'s outputs: the pipeline's (-w, --har) and the recording (--record)."""
    report = Report(emit=say)
    guard = OutputGuard()
    if args.record:
        claim(guard, "--record", args.record)
    pipeline = open_pipeline(args, stack, report, live=True, guard=guard)
    recorder = open_recording(args.record, args.url, stack) if args.record else None
    session = Session(pipeline, recorder, args.count, watch_stdout=args.write == "-")
    pipeline.on_output_closed = session.output_closed  # the HAR is still completed when -w - closes
    return Served(session, lambda: finish_steps(session, pipeline.finish, session.flush, stack.close),
                  lambda: format_summary(report, pipeline))


def open_record_outputs(args, stack: ExitStack, say: Callable[[str], None]) -> Served:
    """``record``'s output: the recording (-o)."""
    claim(OutputGuard(), "-o", args.output)
    session = Session(None, open_recording(args.output, args.url, stack), args.count,
                      watch_stdout=args.output == "-")
    return Served(session, lambda: finish_steps(session, session.flush, stack.close),
                  lambda: recorded_text(session.recorder, args.output))


def recorded_text(recorder: Recorder, output: str) -> str:
    """``record``'s end line, as far as the recording knows it."""
    where = "stdout" if output == "-" else output
    return f"ecq2pcap: recorded {recorder.messages} messages ({recorder.bytes / 1e6:,.1f} MB) to {where}"


def open_recording(path: str, url: str, stack: ExitStack) -> Recorder:
    """A recorder on ``path`` ('-' = stdout; gzip when it ends with .gz), closed by ``stack``."""
    try:
        if path == "-":
            return Recorder(sys.stdout.buffer, url, "<stdin>")
        out: BinaryIO = stack.enter_context(OutputFile(path))
        if path.endswith(".gz"):
            out = stack.enter_context(gzip.GzipFile(filename="", mode="wb", fileobj=out, compresslevel=6))
        return Recorder(out, url, path)
    except BrokenPipeError:
        raise
    except OSError as exc:
        text = describe_write_error(exc) if exc.filename else f"{path}: cannot write: {exc.strerror or exc}"
        raise UsageError(text) from None


def claim(guard: OutputGuard, option: str, path: str) -> None:
    try:
        guard.claim(option, path)
    except OutputConflict as exc:
        raise UsageError(str(exc)) from None


def finish_steps(session: Session, *steps: Callable[[], None]) -> None:
    """Run every step (finishing the outputs); a write error is kept as the session's."""
    for step in steps:
        try:
            step()
        except OSError as exc:
            session._failed(exc)
