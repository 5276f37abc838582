"""WebSocket messages after an HTTP/1 upgrade → the upgrade entry's ``_webSocketMessages``.

An :class:`~.http1.UpgradeHandler` over :class:`~ecq2pcap.payloads.websocket.WebSocketParser`;
other protocol switches (CONNECT tunnels, h2c) keep their bytes aside, undecoded, with a note.
"""

from __future__ import annotations

import msgspec

from ...limits import DEFAULT_LIMITS, LOST_BY_ECAPTURE, Limits, limit_note
from ...model import Direction
from ...payloads.websocket import WebSocketParser, WsMessage
from ...payloads.websocket_frames import WsFraming
from .costs import LARGE_BODY, costly_as_text, escapes_added
from .exchange import ChunkMeta, Exchange, WebSocketMessage
from .http1 import UpgradedBytes
from .options import HarOptions


MAX_KEPT_MESSAGES = 100_000  # per connection: the entry is written only when the connection ends
MAX_LOSSES_SAID = 64  # errors of the entry (each one of eCapture's losses is in its packet's comment too)


class WebSocketHandler:
    def __init__(self, exchange: Exchange, *, limits: Limits = DEFAULT_LIMITS,
                 max_messages: int = MAX_KEPT_MESSAGES) -> None:
        self.exchange = exchange
        self.limits = limits
        self.body_cap = limits.connection_buffer  # bytes of message data kept in total
        self.max_messages = max_messages
        self._kept_bytes = 0
        self._omitted = 0
        self._origin = ""  # the capture being read (where an error of a message it completes is said)
        self._times: dict[str, int] = {}  # each message error of the entry: how many messages had it (said once)
        resp = exchange.response
        self._parser = WebSocketParser(resp.header("Sec-WebSocket-Extensions") if resp else None,
                                       max_message_size=limits.websocket_message_size)
        self._framing = WsFraming(self._parser.deflate is not None)  # (what tells a capture starts with frames)

    def feed(self, direction: Direction, data: bytes, time_ns: int, meta: ChunkMeta | None) -> None:
        if meta is not None and meta.notes:  # (bytes of a frame eCapture lost, made up: said on the entry)
            errors = self.exchange.errors
            for note in meta.notes:
                if LOST_BY_ECAPTURE in note and note not in errors and len(errors) < MAX_LOSSES_SAID:
                    errors.append(note)
        if meta is not None:
            self._origin = meta.origin
        parser = self._parser
        if parser.stopped(direction) and self._framing.plausible(direction, data):  # (bytes that were not frames
            parser.resume(direction, time_ns)  # before: a dropped event; these start with frames, read on from here)
        self._add(parser.feed(direction, data, time_ns))

    def close(self, time_ns: int) -> None:
        self._add(self._parser.close(time_ns) or [])
        if self._omitted:
            self.exchange.errors.append(limit_note("connection_buffer",
                f"{self._omitted} later WebSocket message(s) not kept: over {self.max_messages} messages "
                f"or {self.body_cap} bytes on one connection"
            ))
        ex, times = self.exchange, self._parser.times
        for err in self._parser.errors:
            ex.errors.append(counted(f"WebSocket: {err}", times[err]))
        # (a stream of broken messages said one for each: 4,200 times in one _error)
        repeated = {text: counted(text, n) for text, n in self._times.items() if n > 1}
        if repeated:
            ex.errors[:] = [repeated.get(e, e) for e in ex.errors]
            for text, said in repeated.items():
                if ex.said_at is not None and text in ex.said_at:
                    ex.said_at[said] = ex.said_at.pop(text)

    def _add(self, messages: list[WsMessage]) -> None:
        ex = self.exchange
        for m in messages:
            if len(ex.websocket_messages) >= self.max_messages or self._kept_bytes + len(m.data) > self.body_cap:
                self._omitted += 1  # memory stays bounded on a long-lived connection
                continue
            self._kept_bytes += len(m.data)
            ex.websocket_messages.append(WebSocketMessage(m.direction, m.time_ns, m.opcode, m.data))
            for err in m.errors:
                text = f"WebSocket message: {err}"
                n = self._times.get(text, 0)
                self._times[text] = n + 1
                if n:  # (said once, with the number of messages at close)
                    continue
                ex.errors.append(text)
                if self._origin:
                    if ex.said_at is None:
                        ex.said_at = {}
                    ex.said_at.setdefault(text, self._origin)


def counted(text: str, n: int) -> str:
    """``text`` said once for ``n`` times (as the HTTP/2 re-encoder's "DATA×3")."""
    return f"{text} (×{n})" if n > 1 else text


def upgrade_handler(exchange: Exchange, options: HarOptions = HarOptions()):
    """The handler for an upgrade exchange: WebSocket when the 101 says so."""
    resp, req = exchange.response, exchange.request
    upgrade = (resp.header("Upgrade") if resp else None) or (req.header("Upgrade") if req else None) or ""
    if resp is not None and resp.status == 101 and upgrade.strip().lower() == "websocket":
        return WebSocketHandler(exchange, limits=options.limits)
    exchange.notes.append(f"bytes after the protocol switch ({upgrade or 'tunnel'}) are not decoded")
    return UpgradedBytes(exchange, options.limits)


# -- the entry's _webSocketMessages ---------------------------------------------------

# what JSON's \u00XX escapes may add to an entry's text messages (each control byte written as 6): a message cut by
# eCapture, whose lost end is made up as zeros, stays text; a stream of control bytes goes as base64 once over it
# (4,200 messages of 16 KB of NUL bytes made a 403 MB HAR, and 555 MB of memory to write it)
ESCAPES_KEPT = 16 << 20
_encode = msgspec.json.Encoder().encode


def har_messages(messages: list[WebSocketMessage]) -> list[dict]:
    """``_webSocketMessages`` (Chrome's layout). A text message is text, unless JSON would make it larger than base64
    does and the entry's escapes are over :data:`ESCAPES_KEPT` (:mod:`.costs`; over 1 MiB: not ASCII, or escapes);
    then, as a binary one, base64 with ``"_encoding": "base64"``, whose data are its bytes themselves: the JSON
    encoder writes bytes as base64, so no copy a third larger is held beside them.

    ``messages`` is emptied as it goes: the entry holds a text message's text, not its bytes beside it, and a
    non-ASCII text as its JSON (UTF-8), not as a str (4 bytes a character with one emoji among ASCII)."""
    out = []
    kept = ESCAPES_KEPT
    messages.reverse()  # (taken from the end: a message is let go of once written)
    while messages:
        m = messages.pop()
        data = m.data
        text = None
        if m.opcode == 1:
            costly = False
            if len(data) > LARGE_BODY:
                costly = costly_as_text(data)
            elif (extra := escapes_added(data)) > len(data) // 3:  # (escapes outgrowing base64's third: text all
                costly = extra > kept  # the same while the entry's have room)
                kept -= 0 if costly else extra
            if not costly:
                try:
                    text = data.decode("utf-8")
                except UnicodeDecodeError:
                    pass
                else:
                    if not data.isascii():  # (written as it would be: the same bytes)
                        text = msgspec.Raw(_encode(text))
        item = {"type": "send" if m.direction is Direction.C2S else "receive", "time": m.time_ns / 1e9,
                "opcode": m.opcode, "data": data if text is None else text}
        if text is None:
            item["_encoding"] = "base64"
        out.append(item)
    return out
