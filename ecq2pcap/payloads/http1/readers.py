"""The two HTTP/1 message readers: :class:`H11Reader` (any message, through h11's public
API) and :class:`WholeMessage` (the fast path's result, see :mod:`.fast`).

Both read ONE message and stand for the same interface: ``receive_data(bytes)`` (``b""``
= end of the stream), ``next_event()`` (an :mod:`.events` event, ``NEED_DATA`` or
``PAUSED``; raises :class:`~.events.ParseError`), ``unconsumed`` (bytes given but not
part of the message so far), ``tunnel`` (a 2xx to CONNECT: what follows is not HTTP/1)
and ``switch_pending`` (an upgrade request waits for its answer).
"""

from __future__ import annotations

from typing import ClassVar

import h11
import msgspec

from ...limits import shortened
from .events import END, NEED_DATA, PAUSED, Body, End, ParseError, RequestHead, ResponseHead

__all__ = ["H11Reader", "WholeMessage"]


class H11Reader:
    """One message read by an ``h11.Connection``.

    Requests are read in h11's SERVER role. Responses in the CLIENT role, after telling the
    machine the request they answer (only its method frames a response: HEAD, CONNECT); it
    always proposes an upgrade so that a ``101`` is accepted, which changes nothing else.
    """

    __slots__ = ("_machine",)

    def __init__(self, *, request: bool, max_head: int, method: str | None = None) -> None:
        if request:
            self._machine = h11.Connection(h11.SERVER, max_incomplete_event_size=max_head)
        else:
            self._machine = h11.Connection(h11.CLIENT, max_incomplete_event_size=max_head)
            self._machine.send(_synthetic_request(method))
            self._machine.send(h11.EndOfMessage())

    def receive_data(self, data: bytes) -> None:
        self._machine.receive_data(data)

    def next_event(self):
        try:
            ev = self._machine.next_event()
        except h11.RemoteProtocolError as exc:
            raise ParseError(shortened(str(exc) or type(exc).__name__, 200)) from None  # (h11 quotes the bytes whole)
        t = type(ev)
        if t is h11.Data:
            return Body(ev.data)
        if t is h11.EndOfMessage:
            return End(ev.headers.raw_items())
        if t is h11.Request:
            return RequestHead(ev.method, ev.target, ev.http_version, ev.headers.raw_items())
        if t is h11.Response or t is h11.InformationalResponse:
            return ResponseHead(ev.status_code, ev.reason, ev.http_version, ev.headers.raw_items())
        if ev is h11.NEED_DATA:
            return NEED_DATA
        return PAUSED  # h11.PAUSED, h11.ConnectionClosed

    @property
    def unconsumed(self) -> int:
        return len(self._machine.trailing_data[0])

    @property
    def tunnel(self) -> bool:
        return self._machine.their_state is h11.SWITCHED_PROTOCOL

    @property
    def switch_pending(self) -> bool:
        return self._machine.their_state is h11.MIGHT_SWITCH_PROTOCOL


class WholeMessage(msgspec.Struct, gc=False):
    """A whole message already parsed (by the fast path), read back as events (the decoder mostly takes it at
    once: ``Http1Decoder._whole``).

    ``unconsumed`` is what remains of it after each event, as h11 would count it (its head's and body's length
    before the first); ``texts`` its header fields as text (the message's ``headers``), None when not known.
    (A Struct made by position: built in C, ~1k instructions less a message than a class's ``__init__``.)
    """

    head: object
    body: bytes
    index: int  # the next event's
    unconsumed: int
    texts: list | None = None
    tunnel: ClassVar[bool] = False  # never a protocol switch: those go through h11
    switch_pending: ClassVar[bool] = False

    def receive_data(self, data: bytes) -> None:  # pragma: no cover - given whole
        pass

    def next_event(self):
        i = self.index
        last = 2 if self.body else 1  # (head, body, end) or (head, end)
        if i > last:  # pragma: no cover - the decoder ends the reader at the end
            return PAUSED
        self.index = i + 1
        if i == 0:
            self.unconsumed = len(self.body)
            return self.head
        self.unconsumed = 0
        return Body(self.body) if i < last else END

_SYNTHETIC: dict[str, h11.Request] = {}


def _synthetic_request(method: str | None) -> h11.Request:
    method = method or "GET"
    cached = _SYNTHETIC.get(method)
    if cached is None:
        headers = [("Host", "unknown"), ("Connection", "upgrade"), ("Upgrade", "unknown")]
        try:
            cached = h11.Request(method=method, target="/", headers=headers)
        except (h11.LocalProtocolError, UnicodeError):
            cached = _synthetic_request(None)
        if len(_SYNTHETIC) < 64:
            _SYNTHETIC[method] = cached
    return cached

