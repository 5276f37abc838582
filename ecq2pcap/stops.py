"""The signals that end a run cleanly, its outputs completed (``live``, ``record``, ``convert``)."""

from __future__ import annotations

import signal
from contextlib import contextmanager

# Ctrl-C, SIGTERM (kill, timeout, a service or container stopped), and SIGHUP, the hang-up a closed terminal or ssh
# session sends the whole process group (each left the outputs unfinished: the writing process died of it)
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextmanager
def handling(signals, handler):
    """``handler`` for each of ``signals`` within the block, the previous handlers back after it."""
    previous = {}
    try:
        for sig in signals:
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
