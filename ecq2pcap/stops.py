"""The signals that end a run cleanly, its outputs completed (``live``, ``record``, ``convert``)."""

from __future__ import annotations

import signal
from contextlib import contextmanager

# Ctrl-C, SIGTERM (kill, timeout, a service or container stopped), and SIGHUP, the hang-up a closed terminal or ssh
# session sends the whole process group (each left the outputs unfinished: the writing process died of it)
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


_ALWAYS_TAKEN = (signal.SIGINT, signal.SIGTERM)  # (as tshark takes them, even left ignored: a script's cmd &)


def taken(signals) -> list[int]:
    """Those of ``signals`` a run takes: Ctrl-C and SIGTERM always, the others unless whoever started it left them
    ignored (``nohup``'s SIGHUP, so that the run goes on after the terminal closes, as tcpdump and tshark keep it; it
    stopped the run. A SIGTSTP left ignored likewise stays so)."""
    return [sig for sig in signals if sig in _ALWAYS_TAKEN or signal.getsignal(sig) != signal.SIG_IGN]


@contextmanager
def handling(signals, handler):
    """``handler`` for each of ``signals`` (:func:`taken`) within the block, the previous handlers back after it."""
    previous = {}
    try:
        for sig in taken(signals):
            previous[sig] = signal.signal(sig, handler)
    except ValueError:  # not the main thread: the signals are not ours to take
        pass
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def stops_as_ctrl_c():
    """SIGTERM and SIGHUP (``kill``, ``timeout``, a service or container stopped, a closed terminal or ssh session)
    stop a run as Ctrl-C does, a KeyboardInterrupt: the outputs are completed (``convert``: a ``-j`` run's parts
    merged and its folder removed; ``live`` and ``record``: until the capture loop's own handlers are in place).
    They killed it: a ``-j`` run left its outputs empty and its folder of plaintext behind, and ``live`` or
    ``record`` stopped so while starting (its outputs opened, not yet connected) exited by the signal, no summary."""
    return handling(STOP_SIGNALS[1:], signal.default_int_handler)


@contextmanager
def blocked(*more: int):
    """The stop signals (and ``more``) blocked within the block (delivered at its end): a process started in it
    starts with them blocked, and takes them its own way before it unblocks them."""
    masked = signal.pthread_sigmask(signal.SIG_BLOCK, {*STOP_SIGNALS, *more})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, masked)


def left_to_the_parent() -> None:
    """In a forked helper process, started within :func:`blocked`: the stop signals are ignored, then unblocked (one
    that came meanwhile is dropped here, the parent takes it). Stopping is the parent's: it has its helpers complete
    their part of the outputs (``live``'s converting process, ``convert -j``'s workers), and a hang-up or a service's
    stop reaches the whole process group."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, set(STOP_SIGNALS))


@contextmanager
def deferred():
    """A stop signal that comes within the block noted, and given to the handler it had at the block's end: for a
    step that one would leave half done (an event loop being made: a KeyboardInterrupt there left one whose end
    printed a traceback). (Not :func:`blocked`: a process-wide signal blocked in this thread goes to another one
    that does not block it, whose Python handler then runs here all the same.)"""
    came: list[int] = []
    with handling(STOP_SIGNALS, lambda signum, frame: came.append(signum)):
        yield
    if came:
        signal.raise_signal(came[0])


_came: set[int] = set()  # the stop signals that came while the program started (held_while_starting)


def _note(signum, frame) -> None:
    _came.add(signum)


def held_while_starting() -> None:
    """The program's first step (``python -m ecq2pcap``, the console script's :func:`~ecq2pcap.cli.entry`): a stop
    signal (Ctrl-C, SIGTERM, SIGHUP) that comes while it imports the command's modules (a few tenths of a second) is
    noted, and ends the run once they are imported, before anything is opened (:func:`started`). SIGTERM and SIGHUP
    killed it then (exit -15), nothing having taken them yet. Not a KeyboardInterrupt at once: one raised within
    an ``exec()`` of the imports (``namedtuple``, ``dataclass``) makes CPython end the process by SIGINT at exit
    (exit -2) even when it is caught. A signal left ignored by whoever started it (``nohup``'s SIGHUP, a background
    job's SIGINT) stays ignored. (One in the first milliseconds, before Python runs this, still ends the process,
    as any program's.)"""
    for sig in STOP_SIGNALS:
        try:
            now = signal.getsignal(sig)
            if now == signal.SIG_DFL or now is signal.default_int_handler:  # (Python's own, SIGINT's)
                signal.signal(sig, _note)
        except ValueError:  # not the main thread (an embedding program's): not ours to take
            pass


def started() -> bool:
    """The program's start is over (its modules imported, nothing opened yet): the stop signals
    :func:`held_while_starting` took are Ctrl-C from now on, a KeyboardInterrupt (the commands' own handling:
    :func:`stops_as_ctrl_c`); whether one came while it started (the run then ends as interrupted)."""
    for sig in STOP_SIGNALS:
        try:
            if signal.getsignal(sig) is _note:
                signal.signal(sig, signal.default_int_handler)
        except ValueError:
            pass
    came = bool(_came)  # (read after the handlers changed: one that came in between is noted)
    _came.clear()
    return came
