"""How many streams the passive decoder of one HTTP/2 connection keeps: a mixin of
:class:`~.decoder.H2PassiveDecoder` (its ``_open`` and ``_done`` streams).

A connection lives for days and carries millions of streams (a gRPC channel), and a peer, or ends that eCapture's
dumps did not show, can leave streams open without end: 120,000 open streams took ~220 MB. Kept apart because it
is its own job: the decoder reads frames, this bounds the streams it holds, open and ended.
"""

from __future__ import annotations

from itertools import islice

from ...limits import limit_note

OPEN_STREAM_COST = 2048  # what an open stream's state holds (bodies aside): at most buffer / this are open at once
DONE_KEPT = 1 << 16  # ended streams remembered, to say that a frame comes after its stream's end
REOPENED = ("the stream's earlier frames are in another entry, which ended early while too many streams were open "
            "(limit: --max-connection-buffer)")


def keep_latest(ordered: dict, n: int) -> None:
    """Past ``n`` entries, the older half of ``ordered`` (oldest first) is forgotten."""
    if len(ordered) > n:
        for old in list(islice(ordered, n // 2)):
            del ordered[old]


class StreamBounds:
    """H2PassiveDecoder's bounds on the streams it holds."""

    def _make_room(self) -> None:
        """Before a stream opens: when :attr:`max_open` are (each counts OPEN_STREAM_COST bytes of the
        connection's buffer), the one open longest ends early, saying so. It is not remembered as ended: what
        comes for it later opens it again, an entry of its own that says where the rest is (REOPENED)."""
        if len(self._open) >= self.max_open:
            sid = next(iter(self._open))
            self._open[sid].rec.errors.append(limit_note("connection_buffer", (
                f"ended early: {len(self._open)} streams open at once ({OPEN_STREAM_COST} bytes each counted "
                f"against the connection's buffer of {self.max_open * OPEN_STREAM_COST})")))
            self._finish(sid)
            del self._done[sid]
            self._early[sid] = None
            keep_latest(self._early, DONE_KEPT)

    def _ended(self, sid: int) -> None:
        """Remember that ``sid`` ended (to say so of a frame that comes later), the latest DONE_KEPT: on a
        connection of millions of streams the older half is forgotten, and a frame on one opens it again."""
        self._done[sid] = None
        keep_latest(self._done, DONE_KEPT)
