"""``convert`` with ``{}`` in its output names: each input converted on its own into outputs named after it
(``convert dumps/*.jsonl.gz -w 'pcap/{}.pcapng' --har 'har/{}.har' -j 4``), ``-j N`` of them at once.

Each conversion is the one ``convert INPUT -w … --har …`` makes (its outputs are byte for byte those), run in a
forked process of its own process group: Ctrl-C, SIGTERM or SIGHUP reach this process alone, which passes one
Ctrl-C to each conversion running (each completes its outputs, as a single ``convert`` does) and starts no more;
Ctrl-Z stops them with it, and continuing it continues them.
What a conversion says (its warnings, its summary) is said whole when it ends, after a line naming its input.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import tempfile
from collections import deque
from collections.abc import Callable
from multiprocessing import connection, get_context
from typing import BinaryIO, TextIO

from ..outputs import OutputConflict, OutputGuard, input_problem
from ..sources.files import not_a_dump
from ..sources.formats import COMPRESSED_SUFFIXES
from ..stops import blocked, handling
from .common import annotations_path
from .exits import EXIT_INTERRUPTED, EXIT_OK, EXIT_STRICT, EXIT_USAGE, UsageError
from .stderr import unfailing

__all__ = ["PLACEHOLDER", "per_input", "input_stem", "plan", "convert_each"]

PLACEHOLDER = "{}"
OUTPUTS = (("write", "-w"), ("har", "--har"), ("annotations", "--annotations"))


def per_input(args: argparse.Namespace) -> bool:
    """Whether an output's name holds ``{}``: each input is then converted on its own."""
    return any(PLACEHOLDER in (getattr(args, dest, None) or "") for dest, _ in OUTPUTS)


def input_stem(path: str) -> str:
    """What ``{}`` stands for: the input's file name without a compression's extension (``.gz``, ``.zst``, ``.xz``,
    ``.bz2``) and its last extension (``dumps/web1.jsonl.gz`` → ``web1``, ``v140_client.dump.jsonl`` →
    ``v140_client.dump``)."""
    name = os.path.basename(path)
    for suffix in COMPRESSED_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            name = name[:-len(suffix)]
            break
    base, dot, _ = name.rpartition(".")
    return base if dot and base else name


def plan(args: argparse.Namespace) -> list[tuple[str, argparse.Namespace]]:
    """Each input and the arguments of its own conversion; a :class:`UsageError` (exit 2, before anything is written)
    for stdin, an output named after no input beside several, two inputs that would write the same file, an output
    that is an input, and an input that cannot be read."""
    if "-" in args.inputs:
        raise UsageError(f"{PLACEHOLDER} in an output's name stands for the input's name: stdin ('-') has none; "
                         "give files")
    if len(args.inputs) > 1:
        for dest, flag in OUTPUTS:
            value = getattr(args, dest, None)
            if value and PLACEHOLDER not in value:
                raise UsageError(f"{flag} {value}: each input is converted into outputs named after it ({PLACEHOLDER} "
                                 f"in another output's name), so this one needs {PLACEHOLDER} too")
    guard, named, runs = OutputGuard(args.inputs), {}, []
    for k, path in enumerate(args.inputs):
        problem = input_problem(path) or not_a_dump(path)
        if problem:
            raise UsageError(f"{path}: cannot read: {problem}")
        stem = input_stem(path)
        names = {dest: getattr(args, dest, None) and getattr(args, dest).replace(PLACEHOLDER, stem)
                 for dest, _ in OUTPUTS}
        one = argparse.Namespace(**{**vars(args), **names, "inputs": [path]})
        outputs = {**names, "annotations": annotations_path(one)}  # (its default name too: never another input)
        for dest, flag in OUTPUTS:
            out = outputs[dest]
            if not out:
                continue
            key = os.path.realpath(out)
            if key in named and named[key][0] != k:  # (two of one input's: the guard's "the same file as")
                first = named[key][1]
                if os.path.samefile(first, path):  # (given twice, maybe by two names: not two files to rename)
                    raise UsageError(f"{path}: given twice" + ("" if first == path else f" (as {first})") +
                                     ": give each input once")
                raise UsageError(f"{first} and {path} would both be written to {out}: rename one")
            named[key] = k, path
            try:
                guard.claim(flag, out)
            except OutputConflict as exc:
                raise UsageError(str(exc)) from None
        runs.append((path, one))
    return runs


def convert_each(args: argparse.Namespace, convert: Callable[[argparse.Namespace], int], jobs: int) -> int:
    """Every input's conversion (``convert``: ``convert``'s own for one input), ``jobs`` at once; the exit status is
    the worst of theirs, 130 once interrupted."""
    runs = plan(args)
    if len(runs) == 1:
        return convert(runs[0][1])
    progress = not (args.quiet or args.no_progress) and sys.stderr.isatty()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(runs), unit="input", file=sys.stderr, leave=False, desc="converting")
    batch = _Batch(runs, convert, min(jobs, len(runs)), bar, args.quiet)
    try:
        # (Ctrl-C taken even when it was left ignored, a script's cmd &, as a single conversion takes it)
        with handling((signal.SIGINT,), signal.default_int_handler):
            status = batch.run()
    finally:
        if bar is not None:
            bar.close()
    return status


class _Batch:
    def __init__(self, runs, convert, jobs: int, bar, quiet: bool) -> None:
        self.pending = deque(enumerate(runs))
        self.convert = convert
        self.jobs = jobs
        self.bar = bar
        self.quiet = quiet
        self.running: dict[int, tuple] = {}  # sentinel -> (process, input, file of what it says)
        self.status = EXIT_OK
        self.interrupted = False
        self.done = 0
        self.total = len(runs)

    def run(self) -> int:
        with handling((signal.SIGTSTP,), self._suspend):
            return self._run()

    def _suspend(self, signum, frame) -> None:
        """Ctrl-Z (SIGTSTP, which the terminal sends this process's group alone): the conversions running stop too,
        and go on when this process is continued (``fg``, ``bg``), as a shell's job does. (They went on converting
        while the job was shown stopped.)"""
        pids = [proc.pid for proc, _, _ in self.running.values()]
        try:
            _kill_each(pids, signal.SIGSTOP)
            with handling((signal.SIGTSTP,), signal.SIG_DFL):
                os.kill(os.getpid(), signal.SIGTSTP)  # (this process stops here, until continued)
        finally:  # (also when a stop signal came meanwhile, a shell's kill %1: SIGTERM, then SIGCONT)
            with blocked():
                _kill_each(pids, signal.SIGCONT)

    def _run(self) -> int:
        ctx = get_context("fork")
        while self.pending or self.running:
            try:
                while self.pending and len(self.running) < self.jobs and not self.interrupted:
                    self._start(ctx, *self.pending.popleft())
                if self.running:
                    for sentinel in connection.wait(list(self.running)):
                        self._ended(sentinel)
            except KeyboardInterrupt:
                if not self.interrupted:
                    with _bar_away(self.bar):
                        print(f"ecq2pcap: interrupted: completing the outputs of the {len(self.running)} "
                              f"conversion(s) running; {len(self.pending)} input(s) not converted", file=sys.stderr)
                self.interrupted = True
                self.pending.clear()
                # (each its own process group: the signal came here only)
                _kill_each([proc.pid for proc, _, _ in self.running.values()], signal.SIGINT)
        if self.bar is not None:
            self.bar.close()  # (before the last line: it was said on the bar's)
        if not self.quiet or self.done < self.total:  # (-q: no summary; said when some input was not converted)
            print(f"ecq2pcap: {self.done} of {self.total} inputs converted, each into its own outputs", file=sys.stderr)
        return EXIT_INTERRUPTED if self.interrupted else self.status

    def _start(self, ctx, k: int, run: tuple[str, argparse.Namespace]) -> None:
        path, args = run
        args.no_progress = True
        args.jobs = 1
        said = _said_file()
        # (a stop signal, or Ctrl-Z, while it forks is this process's, once the conversion is known to be running)
        with blocked(signal.SIGTSTP):
            proc = ctx.Process(target=_child, args=(self.convert, args, said and said.fileno()), daemon=False)
            proc.start()
            self.running[proc.sentinel] = (proc, path, said)

    def _ended(self, sentinel: int) -> None:
        with blocked():  # (a stop signal meanwhile comes after: what the conversion said is said, and counted)
            proc, path, said = self.running.pop(sentinel)
            proc.join()
            code = proc.exitcode
            text = ""
            if said is not None:
                try:
                    with said:  # (its size: what was written, whatever the file is)
                        text = os.pread(said.fileno(), os.fstat(said.fileno()).st_size, 0).decode("utf-8", "replace")
                except OSError:
                    pass
            converted = code in (EXIT_OK, EXIT_STRICT)  # (1: written, with lines skipped or a failed write said)
            if code not in (EXIT_OK, EXIT_STRICT, EXIT_USAGE, EXIT_INTERRUPTED):
                text += f"ecq2pcap: error: the conversion of {path} ended {_how(code)}\n"
                code = EXIT_STRICT
            if text:
                with _bar_away(self.bar):
                    sys.stderr.write(f"ecq2pcap: {path}:\n{text}")
                    sys.stderr.flush()
            if code == EXIT_INTERRUPTED:  # (a stop signal sent to the conversion itself: the batch stops as at Ctrl-C)
                self.interrupted = True
                self.pending.clear()
            elif code > self.status:
                self.status = code
            if converted:
                self.done += 1
            if self.bar is not None:
                self.bar.update(1)


def _bar_away(bar):
    """The progress bar cleared while what is said is written, drawn again after it (what was said began on the
    bar's line, which stayed on the terminal)."""
    return contextlib.nullcontext() if bar is None else type(bar).external_write_mode(file=sys.stderr)


def _kill_each(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def _how(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"by {signal.Signals(-code).name}"
        except ValueError:
            return f"by signal {-code}"
    return f"with exit code {code}"


class _Said:
    """A conversion's stderr: its file, said whole when it ends, a line at a time (one that dies, killed, has said
    it). A line the file cannot take (its disk full) goes to the batch's stderr at once, and the lines after it: a
    failed write stopped the conversion as if an output had failed, its outputs left unfinished, and what it said
    was lost."""

    def __init__(self, fd: int | None, batch: int) -> None:
        self.file: TextIO | None = None if fd is None else _text(fd)
        self.batch = unfailing(_text(batch))

    def write(self, text: str) -> int:
        if self.file is not None:
            try:
                return self.file.write(text)
            except (OSError, ValueError):
                self.file = None
        return self.batch.write(text)

    def flush(self) -> None:
        if self.file is not None:
            try:
                self.file.flush()
            except (OSError, ValueError):
                self.file = None
        self.batch.flush()

    def isatty(self) -> bool:
        return False

    def __getattr__(self, name: str):  # (fileno, encoding, ...: as the file's)
        return getattr(self.file or self.batch, name)


def _said_file() -> BinaryIO | None:
    """A file for what a conversion says, without a name (unlinked at once: nothing is left behind, even when the
    batch is killed; a folder of them was); None when none can be made (the conversion then says it at once)."""
    try:
        return tempfile.TemporaryFile(prefix="ecq2pcap-each-")
    except OSError:
        return None


def _text(fd: int) -> TextIO:
    return open(fd, "w", buffering=1, encoding="utf-8", errors="backslashreplace")


def _child(convert, args: argparse.Namespace, said: int | None) -> None:
    """A conversion in a forked process (the stop signals blocked until it is in a process group of its own): what it
    says goes to the file ``said`` (a descriptor); its exit status is the conversion's."""
    code = EXIT_STRICT
    try:
        os.setpgrp()  # (a terminal's Ctrl-C, a closed terminal's hang-up, Ctrl-Z: the batch's, which passes them on)
        if callable(signal.getsignal(signal.SIGTSTP)):  # (the batch's handler, copied: not this process's)
            signal.signal(signal.SIGTSTP, signal.SIG_DFL)
        batch = os.dup(2)
        if said is not None:
            os.dup2(said, 2)
        sys.stderr = _Said(said, batch)  # (not the caller's: it may be a copy)
        signal.pthread_sigmask(signal.SIG_SETMASK, set())
        try:
            code = convert(args)
        except UsageError as exc:
            print(f"ecq2pcap: error: {exc}", file=sys.stderr)
            code = EXIT_USAGE
        except Exception as exc:  # (a bug of ours: said in one line, as the conversion says its own)
            print(f"ecq2pcap: error: internal error converting {args.inputs[0]} ({exc!r}); please report it",
                  file=sys.stderr)
    except KeyboardInterrupt:  # (before the conversion took the signals: nothing written yet)
        code = EXIT_INTERRUPTED
    finally:
        try:
            sys.stderr.flush()
        finally:
            os._exit(code)
