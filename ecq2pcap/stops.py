"""The signals that end a run cleanly, its outputs completed (``live``, ``record``, ``convert``)."""

from __future__ import annotations

import signal

# Ctrl-C, SIGTERM (kill, timeout, a service or container stopped), and SIGHUP, the hang-up a closed terminal or ssh
# session sends the whole process group (each left the outputs unfinished: the writing process died of it)
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
