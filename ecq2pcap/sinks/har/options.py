"""What the HAR sink hands every protocol parser it creates (HTTP/1, HTTP/2, WebSocket)."""

from __future__ import annotations

from dataclasses import dataclass

from ...limits import DEFAULT_LIMITS, Limits

__all__ = ["HarOptions"]


@dataclass(frozen=True, slots=True)
class HarOptions:
    """``limits`` bound every parser (bodies, messages, buffers, headers); ``reorder_window_ns``
    is how long an HTTP/1 response fed before its request waits for it (see :mod:`.http1`)."""

    limits: Limits = DEFAULT_LIMITS
    reorder_window_ns: int = 0
