"""stderr while live runs: messages, the status line rewritten in place on a terminal, and what it shows."""

from __future__ import annotations

import re
import shutil
import sys
import threading
import time
from typing import TYPE_CHECKING, TextIO

from ..pipeline import V200_NOTICE

if TYPE_CHECKING:
    from ..live import Session
    from ..sources.websocket import WebSocketSource

STATUS_S = 0.5  # status line refresh period
_SHORT_VERSION = re.compile(r"v\d+\.\d+\.\d+[\w.-]*?(?=-\d{8}|:|$)")


def short_version(version: str) -> str:
    """``linux_amd64:v1.5.2-20251227-0c6e2aa:6.1.0`` → ``v1.5.2``."""
    m = _SHORT_VERSION.search(version)
    return m.group(0) if m else version


class StatusLine:
    """Messages on stderr, and a status line rewritten in place when stderr is a terminal."""

    def __init__(self, stream: TextIO | None = None, enabled: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self._shown = False
        self._last = 0.0
        self._lock = threading.Lock()

    def say(self, text: str) -> None:
        with self._lock:
            self._erase()
            print(f"ecq2pcap: {text}", file=self.stream, flush=True)

    def update(self, text: str, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < STATUS_S:
            return
        self._last = now
        width = max(20, shutil.get_terminal_size((100, 20)).columns - 1)
        with self._lock:
            self.stream.write("\r" + text[:width] + "\x1b[K")
            self.stream.flush()
            self._shown = True

    def clear(self) -> None:
        with self._lock:
            self._erase()

    def _erase(self) -> None:
        if self._shown:
            self.stream.write("\r\x1b[K")
            self._shown = False


class Progress:
    """Called by :func:`capture` after every batch: status line and the v2.0.0 notice."""

    def __init__(self, source: WebSocketSource, session: Session, status: StatusLine, what: str) -> None:
        self.source, self.session, self.status, self.what = source, session, status, what
        self._t = time.monotonic()
        self._n = 0
        self._rate = 0.0
        self._noticed = False

    def __call__(self) -> None:
        version = self.session.ecapture_version
        # with a pipeline, the pipeline itself warns about v2.0.0 (convert does too)
        if version and not self._noticed and "v2.0.0" in version and self.session.connections is None:
            self._noticed = True
            self.status.say(V200_NOTICE)
        if not self.status.enabled:
            return
        src, now = self.source, time.monotonic()
        if now - self._t >= STATUS_S:
            self._rate = (src.messages - self._n) / (now - self._t)
            self._t, self._n = now, src.messages
        parts = [self.what, f"{self._rate:,.0f} msg/s", f"{src.bytes / 1e6:,.1f} MB"]
        connections = self.session.connections
        if connections is not None:
            parts.append(f"{connections} connections")
        age = src.watchdog.age_s(time.time_ns())
        parts.append("no heartbeat yet" if age is None else f"heartbeat {age:.0f} s ago")
        if version:
            parts.append(f"eCapture {short_version(version)}")
        if src.reconnects:
            parts.append(f"{src.reconnects} reconnects")
        if not src.connected:
            parts.append("DISCONNECTED")
        if src.backlog > 1000:
            parts.append(f"backlog {src.backlog:,}")
        self.status.update(" · ".join(parts))
