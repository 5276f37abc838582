"""What the HTTP/1 decoder produces: one request/response pair, either side possibly missing."""

from __future__ import annotations

from dataclasses import dataclass, field

from ...model import Direction
from ..http import HttpRequest, HttpResponse

__all__ = ["REQUEST_NOT_CAPTURED", "RESPONSE_NOT_CAPTURED", "Http1Exchange", "Switch"]

REQUEST_NOT_CAPTURED = "request not captured by eCapture"
RESPONSE_NOT_CAPTURED = "response not captured"


@dataclass(slots=True, eq=False)
class Http1Exchange:
    """A request and its response as decoded, with what went wrong (``errors``) and what was
    noticed (``notes``).

    ``metas`` are the caller's descriptions of the chunks that carried the exchange's
    bytes, each with the number of notes written before it (so a consumer can interleave
    both in the order they happened).
    """

    request: HttpRequest | None = None
    response: HttpResponse | None = None
    http_version: str = "HTTP/1.1"
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    metas: list[tuple[int, object]] = field(default_factory=list)

    @property
    def start_ns(self) -> int:
        if self.request is not None:
            return self.request.start_ns
        return self.response.start_ns if self.response is not None else 0

    def add_meta(self, meta: object | None) -> None:
        if meta is not None and (not self.metas or self.metas[-1][1] is not meta):
            self.metas.append((len(self.notes), meta))


@dataclass(slots=True, eq=False)
class Switch:
    """The connection switched protocols (``101``, or a 2xx to ``CONNECT``) at ``exchange``.

    ``pending`` holds the bytes that followed, in both directions, as
    ``(direction, data, time_ns, meta)``, until the consumer takes them
    (:meth:`~.decoder.Http1Decoder.take_switched_bytes`).
    """

    exchange: Http1Exchange
    pending: list[tuple[Direction, bytes, int, object]] = field(default_factory=list)

    @classmethod
    def at(cls, ex: Http1Exchange, *rests: tuple[Direction, bytes, int, object]) -> Switch:
        """``ex`` switched protocols; ``rests`` are each direction's bytes that followed (empty ones skipped)."""
        if ex.response.status != 101:
            ex.notes.append("connection became a tunnel (CONNECT)")
        else:
            what = ex.response.header("upgrade")
            ex.notes.append(f"connection switched to {what}" if what else "connection switched protocols")
        return cls(ex, [rest for rest in rests if rest[1]])
