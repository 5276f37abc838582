"""The ``Sec-WebSocket-Extensions`` a 101 response agreed on: permessage-deflate's parameters (RFC 7692 §7)."""

from __future__ import annotations

from dataclasses import dataclass

from ..model import Direction
from .numbers import ascii_number

__all__ = ["DeflateParams", "parse_extensions"]


@dataclass(slots=True, frozen=True)
class DeflateParams:
    """Negotiated permessage-deflate parameters (as the server's 101 response states them)."""

    client_no_context_takeover: bool = False
    server_no_context_takeover: bool = False
    client_max_window_bits: int | None = None
    server_max_window_bits: int | None = None

    def no_context_takeover(self, direction: Direction) -> bool:
        """Whether the sender of ``direction`` resets its compressor per message."""
        return self.client_no_context_takeover if direction is Direction.C2S else self.server_no_context_takeover


def parse_extensions(header: str | None) -> tuple[DeflateParams | None, list[str]]:
    """Parse a ``Sec-WebSocket-Extensions`` value → (permessage-deflate params or None,
    names of the other extensions)."""
    deflate, others = None, []
    for ext in (header or "").split(","):
        parts = [p.strip() for p in ext.split(";")]
        name = parts[0].lower()
        if not name:
            continue
        if name != "permessage-deflate" or deflate is not None:
            others.append(name)
            continue
        params: dict[str, str | None] = {}
        for p in parts[1:]:
            if not p:
                continue
            key, eq, value = p.partition("=")
            params[key.strip().lower()] = value.strip().strip('"') if eq else None

        def bits(key: str) -> int | None:
            n = ascii_number(params.get(key) or "")
            return n if n is not None and 8 <= n <= 15 else None  # RFC 7692

        deflate = DeflateParams(
            client_no_context_takeover="client_no_context_takeover" in params,
            server_no_context_takeover="server_no_context_takeover" in params,
            client_max_window_bits=bits("client_max_window_bits"),
            server_max_window_bits=bits("server_max_window_bits"),
        )
    return deflate, others
