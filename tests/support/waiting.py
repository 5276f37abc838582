"""Waiting for something another process or thread does, with a deadline."""

from __future__ import annotations

import time


def wait_for(predicate, timeout: float = 30.0) -> bool:
    """True once ``predicate()`` is, polling every 50 ms; False after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False
