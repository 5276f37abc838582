"""Startup logs eCapture replays on every (re)connection (protocol doc §1.6), recognised so that they
are recorded but not converted again (sans-IO)."""

from __future__ import annotations

import hashlib

from ..dialects.cheap import is_log_message

# eCapture replays up to 129 cached logs on connect; live messages may slip in between them, so the
# window where replays are expected (messages at the start of a connection) is a little wider.
REPLAY_WINDOW = 512


class ReplayFilter:
    """Recognises startup logs that eCapture replays on every (re)connection.

    Rule: every log message (JSON ``log_type`` 1 or protobuf ``run_log``) is
    remembered by hash. Within the first ``window`` messages of a connection, a log
    message identical to one received on an *earlier* connection is a replay.
    Nothing else is ever filtered: not events or heartbeats, not logs after the
    window, and not a log repeated within one connection (eCapture logged it twice).
    """

    def __init__(self, window: int = REPLAY_WINDOW, max_remembered: int = 100_000) -> None:
        self.window = window
        self.max_remembered = max_remembered
        self.replays = 0  # messages recognised as replays
        self._seen: set[bytes] = set()  # logs of earlier connections
        self._current: set[bytes] = set()  # logs of this connection
        self._position = 0  # messages of the current connection so far

    def connected(self) -> None:
        """A new connection starts: its replay window opens."""
        room = self.max_remembered - len(self._seen)
        if room > 0:
            self._seen.update(self._current if len(self._current) <= room else list(self._current)[:room])
        self._current = set()
        self._position = 0

    def is_replay(self, data: bytes) -> bool:
        self._position += 1
        if not is_log_message(data):
            return False
        key = hashlib.blake2b(data, digest_size=16).digest()
        if self._position <= self.window and key in self._seen:
            self.replays += 1
            return True
        if len(self._current) < self.max_remembered:
            self._current.add(key)
        return False
