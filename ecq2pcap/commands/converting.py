"""``live``'s conversion in a process of its own, so that reading eCapture never waits for it.

In one process the socket reader and the converter share the GIL: while the converter works
(~80 µs per event), the reader gets the interpreter in turns, and a busy eCapture sends on.
:class:`ConvertingProcess` is a :class:`~ecq2pcap.live.Session` run in a forked child: the
capture loop calls it exactly as it calls a session (``process`` a batch, ``tick``),
one call at a time, and reads the same state (``stop_reason``, ``output_error``, ...), which
comes back with every answer. The parent then only reads the socket, queues (the backlog) and
hands batches on, on its own CPU.

The child opens the outputs (``open_pipeline``, the recording) and is the only process that
writes them; what it would print (warnings, the summary) comes back with its answers and the
parent prints it, under its status line. It ignores SIGINT, SIGTERM and SIGHUP: stopping is the parent's
(Ctrl-C reaches the whole process group). If the parent goes away without saying ``finish``
(killed), the child reads the end of its pipe, completes the outputs and exits.

The child also lowers its own scheduling priority (``nice`` +10, :data:`NICENESS`): when the
CPUs are busy, reading must win, because eCapture drops a reader that falls behind while the
converter only lets the backlog grow (on 2 CPUs shared with a busy eCapture, a steady 75k
messages/s was dropped at the same priority and kept up with at +10: bench/README.md).

``record`` runs its recording the same way (``start(args, say, open_record_outputs, "recording")``):
its writer (a JSON line and gzip per message) would take the reader's interpreter as much.

Where ``fork`` is missing, :func:`start` returns None and the command works in its own process.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import stat
import traceback
from contextlib import ExitStack

from ..live import Session
from ..stops import blocked, left_to_the_parent
from ..sources.websocket import Delivery
from .exits import UsageError
from .live_outputs import Opener, Served, open_live_outputs

NICENESS = 10  # the converting process's priority below the reader's (os.nice)

# what the parent reads of the session (the capture loop, the status line, the exit code and summary)
_STATE = ("broken", "output_error", "stop_reason", "replays_skipped", "ecapture_version", "connections")


class ConverterGone(Exception):
    """The converting process ended before it was asked to (killed, e.g. by the OOM killer, or a bug):
    the outputs end with what it wrote. The message says which, for the user."""


class ConvertingProcess:
    """The parent's handle on the converting child: a Session's calls and state. ``role`` names the child
    in messages ("converting", "recording")."""

    def __init__(self, proc, conn, state: dict, say, role: str = "converting") -> None:
        self._proc, self._conn, self._say, self.role = proc, conn, say, role
        self._state = state
        self.summary = ""  # the pipeline's summary, once finished
        self.finished = False
        self._gone = False  # the child failed or ended: it completed the outputs itself

    def __getattr__(self, name: str):
        if name in _STATE:
            return self._state[name]
        raise AttributeError(name)

    # -- a Session's calls

    def process(self, batch: list[Delivery]) -> bool:
        return self._call("process", batch)  # (plain tuples: pickled at ~0.2 µs each)

    def tick(self, now_ns: int) -> None:
        self._call("tick", now_ns)

    def finish(self) -> None:
        """Complete the outputs (the child then exits)."""
        if self.finished:
            return
        self.finished = True
        try:
            if not self._gone:
                self.summary = self._call("finish", None)
        finally:
            self._conn.close()
            self._proc.join()

    def wait(self) -> None:
        """When :meth:`finish` was cut short: our end of the pipe closed (the child then completes the outputs, as
        when this process dies), and until the child has ended."""
        self._conn.close()
        self._proc.join()

    def _call(self, what: str, arg):
        try:
            self._conn.send((what, arg))
            kind, result, state, said = self._conn.recv()
        except (EOFError, OSError):
            self._gone = True
            self._proc.join(5)
            code = self._proc.exitcode
            how = f"was killed by signal {-code}" if code is not None and code < 0 else f"exited ({code})"
            raise ConverterGone(f"the {self.role} process {how}: the outputs end with what it wrote") from None
        self._state = state
        for text in said:
            self._say(text)
        if kind == "crash":
            self._gone = True  # (it completes the outputs, then exits)
            raise ConverterGone(f"the {self.role} process failed (a bug: please report it with what follows); "
                                f"the outputs were completed with what it had converted\n{result.rstrip()}")
        return result


def start(args: argparse.Namespace, say, opener: Opener = open_live_outputs,
          role: str = "converting") -> ConvertingProcess | None:
    """Fork the child that serves ``opener(args, ...)``'s session (``live``'s by default); ``say(text)``
    prints its messages. Raises :class:`UsageError` when its outputs cannot be opened; None without ``fork``.
    Interrupted (Ctrl-C) while the child opens the outputs, it lets the child complete them and end, then
    raises the KeyboardInterrupt."""
    try:
        ctx = multiprocessing.get_context("fork")
    except ValueError:
        return None
    parent, child = ctx.Pipe()
    # Ctrl-C is the parent's: the child ignores it from its first instruction
    with blocked():
        proc = ctx.Process(target=_child, args=(args, opener, child, parent), name=f"ecq2pcap {role}")
        proc.start()
    child.close()
    try:
        kind, result, state, said = parent.recv()
    except EOFError:
        proc.join()
        raise RuntimeError(f"the {role} process ended unexpectedly (exit code {proc.exitcode})") from None
    except BaseException:  # (Ctrl-C): the child reads the end of its pipe, completes the outputs and ends;
        parent.close()     # left open, the child would wait for a call and this process for the child, forever
        proc.join()
        raise
    for text in said:
        say(text)
    if kind != "ready":
        parent.close()
        proc.join()
        if kind == "usage":
            raise UsageError(result)
        if kind == "gone":
            raise BrokenPipeError("the reader of stdout went away")
        raise RuntimeError(f"the {role} process failed:\n{result}")
    return ConvertingProcess(proc, parent, state, say, role)


# ---------------------------------------------------------------------------- the child


def _child(args: argparse.Namespace, opener: Opener, conn, parent_end) -> None:
    left_to_the_parent()  # (stopping is the parent's: it has this process complete the outputs)
    _lower_priority()
    parent_end.close()  # (so that the parent's death reads as the end of the pipe)
    _let_go_of_sockets(keep=conn.fileno())
    said: list[str] = []
    with ExitStack() as stack:
        try:
            served = opener(args, stack, said.append)
        except UsageError as exc:
            _tell(conn, ("usage", str(exc), {}, said))
            return
        except BrokenPipeError:  # (stdout's reader gone before the outputs' first bytes: `| head -c0`, a viewer
            _tell(conn, ("gone", None, {}, said))  # that failed at once)
            return
        except BaseException:
            _tell(conn, ("crash", traceback.format_exc(), {}, said))
            return
        finished = False
        try:
            if _tell(conn, ("ready", None, _state(served.session), _take(said))):
                finished = _serve(conn, served, said)
        finally:
            if not finished:  # the parent went away (or a crash): complete the outputs anyway
                served.finish()


def _tell(conn, message: tuple) -> bool:
    """Send ``message`` to the parent; False when it is gone (interrupted while this process started)."""
    try:
        conn.send(message)
    except OSError:
        return False
    return True


def _serve(conn, served: Served, said: list[str]) -> bool:
    """Answer the parent's calls; True once the outputs were finished (or a finish was tried)."""
    session = served.session
    while True:
        try:
            what, arg = conn.recv()
        except (EOFError, OSError):
            return False
        try:
            if what == "process":
                result = session.process(arg)
            elif what == "tick":
                result = session.tick(arg)
            else:  # finish
                served.finish()
                result = served.summary()
        except BaseException:
            _tell(conn, ("crash", traceback.format_exc(), _state(session), _take(said)))
            return what == "finish"  # (a finish that failed is not tried again)
        # (the parent killed while this call ran: its end of the pipe is gone, and a send's BrokenPipeError
        # printed a traceback; the outputs are completed all the same, by the caller, unless this was the finish)
        if not _tell(conn, ("ok", result, _state(session), _take(said))) or what == "finish":
            return what == "finish"


def _lower_priority() -> None:
    try:
        os.nice(NICENESS)
    except OSError:  # (not allowed here: convert at the reader's priority)
        pass


def _let_go_of_sockets(keep: int) -> None:
    """The fork copied the parent's sockets (in ``live`` itself none, it forks before connecting; a
    program that calls ``main`` may hold some, e.g. a test's server). A copy held here would keep a
    connection open after its owner closed it, so each is pointed at /dev/null: the descriptor number
    stays taken, so a finalizer that closes it later cannot close one of our outputs instead."""
    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        return
    null = os.open(os.devnull, os.O_RDWR)
    try:
        for fd in fds:
            if fd > 2 and fd not in (keep, null):
                try:
                    if stat.S_ISSOCK(os.fstat(fd).st_mode):
                        os.dup2(null, fd)
                except OSError:
                    pass
    finally:
        os.close(null)


def _state(session: Session) -> dict:
    return {name: getattr(session, name) for name in _STATE}


def _take(said: list[str]) -> list[str]:
    out = said[:]
    said.clear()
    return out


__all__ = ["ConverterGone", "ConvertingProcess", "start"]
