"""HTTP/1 connections → exchanges: an :class:`~.exchange.ExchangeParser` over
:class:`~ecq2pcap.payloads.http1.Http1Decoder`.

After a protocol switch (``101``, or a 2xx to ``CONNECT``) the bytes that follow go to an
:class:`UpgradeHandler` made by ``on_upgrade(exchange)`` (by default
:class:`UpgradedBytes`, which keeps them aside); the upgrade exchange is returned by
:meth:`Http1Parser.close`, after the handler had a chance to attach its messages.
"""

from __future__ import annotations

from functools import partial
from typing import Callable, Protocol

from ...limits import DEFAULT_LIMITS, Limits
from ...model import Connection, Direction
from ...payloads.http1 import (
    REQUEST_NOT_CAPTURED,
    RESPONSE_NOT_CAPTURED,
    Http1Decoder,
)
from .exchange import ChunkMeta, Exchange

__all__ = [
    "REQUEST_NOT_CAPTURED",
    "RESPONSE_NOT_CAPTURED",
    "Http1Parser",
    "UpgradeHandler",
    "UpgradedBytes",
]


class UpgradeHandler(Protocol):
    """Takes over a connection after a protocol switch (WebSocket, CONNECT tunnel, h2c).

    Created by the parser's ``on_upgrade(exchange)`` factory with the upgrade exchange;
    it may attach what it decodes to that exchange (``websocket_messages``, ``notes``,
    ``errors``): the exchange is returned by :meth:`Http1Parser.close` after
    :meth:`close` ran.
    """

    def feed(self, direction: Direction, data: bytes, time_ns: int, meta: ChunkMeta | None) -> None: ...

    def close(self, time_ns: int) -> None: ...


class UpgradedBytes:
    """Default :class:`UpgradeHandler`: keeps the bytes after the switch aside, undecoded.

    ``chunks`` holds ``(direction, time_ns, bytes)`` up to ``limits.body_size`` bytes in
    total; ``seen`` counts every byte per direction.
    """

    def __init__(self, exchange: Exchange, limits: Limits = DEFAULT_LIMITS) -> None:
        self.exchange = exchange
        self.cap = limits.body_size
        self.chunks: list[tuple[Direction, int, bytes]] = []
        self.kept = 0
        self.seen = {Direction.C2S: 0, Direction.S2C: 0}

    def feed(self, direction: Direction, data: bytes, time_ns: int, meta: ChunkMeta | None) -> None:
        self.seen[direction] += len(data)
        if self.kept < self.cap:
            piece = data[: self.cap - self.kept]
            self.chunks.append((direction, time_ns, piece))
            self.kept += len(piece)
        self.exchange.add_meta(meta)

    def close(self, time_ns: int) -> None:
        c2s, s2c = self.seen[Direction.C2S], self.seen[Direction.S2C]
        if c2s or s2c:
            self.exchange.notes.append(
                f"after the protocol switch: {c2s} bytes client→server and {s2c} bytes server→client "
                "not decoded into HAR"
            )


class Http1Parser:
    """HTTP/1.x exchanges of one connection, as HAR :class:`~.exchange.Exchange` objects.

    ``feed()`` and ``close()`` return the exchanges that completed, in completion order;
    the handler in use after a protocol switch is :attr:`upgraded`.
    """

    def __init__(
        self,
        conn: Connection,
        limits: Limits = DEFAULT_LIMITS,
        on_upgrade: Callable[[Exchange], UpgradeHandler] | None = None,
        reorder_window_ns: int = 0,
        fast: bool | None = None,
    ) -> None:
        self.conn = conn
        self.limits = limits
        # (the decoder makes the HAR exchanges itself: their notes and chunk metas in the order they came; its
        # arguments by position, body_cap to new_exchange: keywords to a class cost two conversions through a dict,
        # ~2.5k instructions a connection)
        self._decoder = Http1Decoder(limits.body_size, reorder_window_ns, fast, limits.header_line_size,
                                     limits.header_section_size, limits.connection_buffer, partial(Exchange, conn))
        self._on_upgrade = on_upgrade or (lambda ex: UpgradedBytes(ex, limits))
        self.upgraded: UpgradeHandler | None = None
        # (the decoder's own method: the sink asks after every chunk, one call less, ~0.6k instructions)
        self.take_diagnostics = self._decoder.take_diagnostics

    @property
    def fast(self) -> bool:
        return self._decoder.fast

    def feed(self, direction: Direction, data: bytes, time_ns: int, meta: ChunkMeta | None = None,
             rendered: bytes | None = None) -> list[Exchange]:
        """Parse the bytes of one chunk; return the exchanges that completed. ``rendered``: the head eCapture
        rendered, when the framing repair changed it (what the entry shows)."""
        done = self._decoder.feed(direction, data, time_ns, meta, rendered)
        if self._decoder.switch is not None:
            self._after_switch()
        return done

    def close(self, time_ns: int) -> list[Exchange]:
        """End of the connection: EOF-delimited bodies end, incomplete messages become errors."""
        done = self._decoder.close(time_ns)
        if self._decoder.switch is not None:
            self._after_switch()
        if self.upgraded is not None:
            self.upgraded.close(time_ns)
        return done

    def buffered(self) -> int:
        """Bytes the decoder holds (a WebSocket handler after a switch bounds its own)."""
        return self._decoder.buffered()

    def take_diagnostics(self) -> list[str]:
        """Connection-level problems that no exchange carries (e.g. garbage at the end). (An instance answers with
        its decoder's method itself, bound in ``__init__``: this one says what it does.)"""
        return self._decoder.take_diagnostics()

    def _after_switch(self) -> None:
        switch = self._decoder.switch
        if switch is None:
            return
        if self.upgraded is None:
            self.upgraded = self._on_upgrade(switch.exchange)
        for direction, data, time_ns, meta in self._decoder.take_switched_bytes():
            self.upgraded.feed(direction, data, time_ns, meta)
