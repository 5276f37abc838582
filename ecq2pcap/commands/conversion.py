"""The conversion itself, shared by ``convert`` and its ``-j`` workers: inputs → one pipeline → outputs."""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack

from ..limits import Limits
from ..outputs import OutputGuard, describe_write_error, input_problem, reader_gone, silence_stdout
from ..pipeline import Pipeline
from ..report import Count, Report
from ..sources.files import FileSource, InputError, not_a_dump
from ..stops import STOP_SIGNALS, handling
from .common import finish_outputs, open_pipeline
from .exits import EXIT_INTERRUPTED, EXIT_OK, EXIT_STRICT, UsageError


def progress_bar(sources: list[FileSource], enabled: bool):
    """A tqdm bar over the inputs' bytes on a terminal, else None."""
    if not enabled or not sys.stderr.isatty():
        return None
    total = sum(s.disk_size() or 0 for s in sources)  # (before they are opened: their size was read only then, so
    # the bar was never shown)
    if not total:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="B", unit_scale=True, file=sys.stderr, leave=False, desc="converting")


def open_sources(args: argparse.Namespace, report: Report) -> list[FileSource]:
    """The inputs as sources; a usage error (exit 2, before anything is written) when one cannot be read or is no
    eCapture dump (a capture file, a HAR, an archive)."""
    sources = [FileSource(p, report, Limits.from_args(args).message_size) for p in args.inputs]
    for src in sources:
        problem = input_problem(src.path) or not_a_dump(src.path)
        if problem:
            raise UsageError(f"{src.path}: cannot read: {problem}")
    return sources


def run_conversion(args: argparse.Namespace, report: Report, sources: list[FileSource], guard: OutputGuard, *,
                   progress: bool = False) -> tuple[int, Pipeline]:
    """Feed every source through one pipeline to the outputs of ``args``; (exit status, pipeline)."""
    with ExitStack() as stack:
        pipeline = open_pipeline(args, stack, report, guard=guard)
        bar = progress_bar(sources, progress)
        pipeline.on_output_closed = _ReaderGone(pipeline)
        ctrl_c = CtrlC()
        try:
            with ctrl_c.deferred():
                status = feed_sources(pipeline, sources, report, bar=bar, ctrl_c=ctrl_c)
            if ctrl_c.interrupted and status == EXIT_OK:  # (Ctrl-C during the last message)
                say_interrupted()
                status = EXIT_INTERRUPTED
        finally:
            if bar is not None:
                bar.close()
        status = finish_outputs(pipeline, status)
    return status, pipeline


COMPLETING = "completing the outputs"


def say_interrupted(then: str = COMPLETING) -> None:
    """What a Ctrl-C during a conversion says (once): the outputs are completed with what was converted (``then``:
    what happens instead, for a command without outputs)."""
    print(f"ecq2pcap: interrupted: {then}", file=sys.stderr)


def feed_sources(pipeline: Pipeline, sources: list[FileSource], report: Report, *, bar=None,
                 ctrl_c: CtrlC | None = None, then: str = COMPLETING) -> int:
    """Feed every message of ``sources`` to ``pipeline``; the exit status so far. An input that breaks off,
    Ctrl-C and an output that cannot be written stop the feeding, said on stderr (the caller finishes the
    outputs), as does the end of every output's reader (:class:`_ReaderGone`). With ``ctrl_c`` (its handler in
    place: :meth:`CtrlC.deferred`), Ctrl-C takes effect between two messages."""
    status = EXIT_OK
    feed, closed, outputs = pipeline.feed, pipeline.closed_sinks, len(pipeline.sinks)
    try:
        for src in sources:
            done = 0
            try:
                for msg in src:
                    if ctrl_c is None:
                        feed(msg)
                    else:  # (two stores a message: a wrapper's call cost 2.5 % of a conversion)
                        ctrl_c.busy = True
                        feed(msg)
                        ctrl_c.busy = False
                        if ctrl_c.interrupted:
                            ctrl_c.interrupted = False
                            raise KeyboardInterrupt
                    if closed and len(closed) >= outputs:
                        raise _NothingToWrite
                    if bar is not None and src.position != done:
                        bar.update(src.position - done)
                        done = src.position
            except InputError as exc:
                print(f"ecq2pcap: {exc}", file=sys.stderr)
                report.count(Count.BROKEN_INPUTS)
                status = EXIT_STRICT
            if bar is not None and src.position != done:  # (its end, read after its last message)
                bar.update(src.position - done)
    except KeyboardInterrupt:
        say_interrupted(then)
        status = EXIT_INTERRUPTED
    except _NothingToWrite:
        pass
    except BrokenPipeError:
        raise
    except OSError as exc:  # an output cannot be written (disk full): stop, complete the others
        print(f"ecq2pcap: error: {describe_write_error(exc)}; stopped, the outputs end with what was "
              "written before", file=sys.stderr)
        status = EXIT_STRICT
    return status


class _NothingToWrite(Exception):
    """Every output's reader went away: the conversion stops (the outputs are completed)."""


class _ReaderGone:
    """A pipeline's ``on_output_closed`` in ``convert``: the output whose reader went away (``-w - | head``)
    stops, said once, and the others go on to their end (they were left cut short, the exit 0 and silent); when
    none is left, the conversion stops (:func:`feed_sources`). (What ``live`` does, but for going on.)"""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.said = False

    def __call__(self) -> None:
        stdout = reader_gone(sys.stdout)
        if stdout:  # (a pipe given as a file name, -w fifo, closes too: stdout then stays, another output's)
            silence_stdout()
        if not self.said:
            self.said = True
            left = len(self.pipeline.sinks) - len(self.pipeline.closed_sinks)
            print(f"ecq2pcap: the reader of {'stdout' if stdout else 'an output pipe'} went away: that output "
                  "stopped" + ("; converting on for the others" if left else ""), file=sys.stderr)


class CtrlC:
    """Ctrl-C (or another of :data:`STOP_SIGNALS`) taking effect between two messages (:func:`feed_sources`).

    A KeyboardInterrupt raised in the middle of a message lost what was in hand: the captures the reorder
    buffer was releasing (a second of exchanges gone from both outputs, their answers made into "request not
    captured" entries), a HAR exchange half made; ``-j``'s worker 0 also numbers the events it hands on, and
    the merge would put the rest in the wrong places. So SIGINT only sets a flag while a message is converted
    (``busy``), and the interrupt comes after it (the run then completes the outputs, as at any Ctrl-C). Between
    two messages (reading the input: ``convert -`` waits on a pipe) it comes at once."""

    __slots__ = ("busy", "interrupted")

    def __init__(self) -> None:
        self.busy = False
        self.interrupted = False

    def deferred(self):
        def later(signum, frame) -> None:
            if not self.busy:
                raise KeyboardInterrupt
            self.interrupted = True

        return handling(STOP_SIGNALS, later)
