"""Heartbeats that stop (protocol doc §1.5): a warning once per silence (sans-IO)."""

from __future__ import annotations

SECOND = 1_000_000_000


class HeartbeatWatchdog:
    """Warns once per silence when no heartbeat came for twice the cadence.

    The cadence is ``slow_s`` (60 s, eCapture ≤ v1.4.3) until a heartbeat arrives
    within ``immediate_s`` of connecting, or two arrive closer than halfway between
    the cadences: then it is ``fast_s`` (15 s, v1.5.0+ sends one at once on connect).
    """

    def __init__(self, slow_s: float = 60.0, fast_s: float = 15.0, immediate_s: float = 2.0) -> None:
        self.slow_s, self.fast_s, self.immediate_s = slow_s, fast_s, immediate_s
        self.cadence_s = slow_s
        self.last_ns: int | None = None  # last heartbeat (any connection)
        self.warnings = 0
        self._connected_ns: int | None = None  # None while disconnected
        self._conn_last_ns: int | None = None  # last heartbeat of this connection
        self._warned = False

    def connected(self, now_ns: int) -> None:
        self._connected_ns, self._conn_last_ns = now_ns, None
        self.cadence_s, self._warned = self.slow_s, False

    def disconnected(self) -> None:
        self._connected_ns = None

    def heartbeat(self, now_ns: int) -> None:
        if self._connected_ns is not None:
            since = (now_ns - (self._conn_last_ns or self._connected_ns)) / SECOND
            if self._conn_last_ns is None and since <= self.immediate_s:
                self.cadence_s = self.fast_s
            elif self._conn_last_ns is not None and since < (self.slow_s + self.fast_s) / 2:
                self.cadence_s = self.fast_s
        self.last_ns = self._conn_last_ns = now_ns
        self._warned = False

    def age_s(self, now_ns: int) -> float | None:
        return None if self.last_ns is None else (now_ns - self.last_ns) / SECOND

    def check(self, now_ns: int) -> str | None:
        """The warning to show now, if any (once per silence)."""
        if self._connected_ns is None or self._warned:
            return None
        since = self._conn_last_ns or self._connected_ns
        silent = (now_ns - since) / SECOND
        if silent <= 2 * self.cadence_s:
            return None
        self._warned = True
        self.warnings += 1
        what = "no heartbeat since connecting" if self._conn_last_ns is None else "no heartbeat"
        return (f"{what} for {silent:.0f} s (eCapture sends one every {self.cadence_s:g} s): "
                "eCapture may be stuck, or the connection half-open")
