"""Stderr that never stops a run: its reader going away (``2>&1 | head``, a closed log pipe or ssh session) must not
end a capture or a conversion. A write that fails is dropped, and so is every later one; the work goes on.

Before, the first message after stderr's reader left raised ``BrokenPipeError`` wherever it was said (the
WebSocket reader's "reconnecting", a warning in a conversion). It stopped the run, and ``main`` took it for the
reader of ``-w -`` gone: exit 0, with everything eCapture sent afterwards lost.
"""

from __future__ import annotations

from typing import TextIO


class UnfailingStream:
    """A text stream whose ``write``/``flush`` never raise: after one fails, ``broken`` is set and they do nothing."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.broken = False

    def write(self, text: str) -> int:
        if not self.broken:
            try:
                self.stream.write(text)
            except (OSError, ValueError):  # (ValueError: the stream was closed)
                self.broken = True
        return len(text)

    def flush(self) -> None:
        if not self.broken:
            try:
                self.stream.flush()
            except (OSError, ValueError):
                self.broken = True

    def isatty(self) -> bool:
        try:
            return not self.broken and self.stream.isatty()
        except (OSError, ValueError):
            return False

    def __getattr__(self, name: str):  # (fileno, encoding, ...: as the stream's)
        return getattr(self.stream, name)


def unfailing(stream: TextIO) -> TextIO:
    """``stream`` wrapped (once) so that its failures are dropped."""
    return stream if isinstance(stream, UnfailingStream) else UnfailingStream(stream)  # type: ignore[return-value]
