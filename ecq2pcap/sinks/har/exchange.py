"""Protocol-independent model of an HTTP exchange, as the HAR writer consumes it.

A protocol parser (HTTP/1 here; HTTP/2 and WebSocket later) turns a connection's bytes
into :class:`Exchange` objects; :mod:`.entries` turns each into one HAR entry. A parser
plugs into the sink by implementing :class:`ExchangeParser`.

The request and response models are the codecs' own (:mod:`ecq2pcap.payloads.http`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from ...model import ChunkInfo, Connection, Direction
from ...payloads.h2.encoder import GUNZIPPED
from ...payloads.http import HttpMessage, HttpRequest, HttpResponse
from ...payloads.http1_render import HEAD_REPAIRS

__all__ = [
    "ChunkMeta",
    "HttpMessage",
    "HttpRequest",
    "HttpResponse",
    "WebSocketMessage",
    "Exchange",
    "ExchangeParser",
]


ChunkMeta = ChunkInfo  # what the parsers call the model's ChunkInfo (goes to ``_ecapture``)


@dataclass(slots=True, eq=False)
class WebSocketMessage:
    """One WebSocket message (written as Chrome's ``_webSocketMessages``)."""

    direction: Direction  # C2S = "send", S2C = "receive"
    time_ns: int
    opcode: int  # 1 text, 2 binary (control frames may be listed too)
    data: bytes


@dataclass(slots=True, eq=False, init=False)
class Exchange:
    """One request/response pair (or one HTTP/2 stream), either side possibly missing."""

    conn: Connection
    request: HttpRequest | None = None
    response: HttpResponse | None = None
    errors: list[str] = field(default_factory=list)  # what went wrong: HAR `_error`
    notes: list[str] = field(default_factory=list)  # what was changed or noticed: HAR `comment`
    # pid, comm, fd, tids, uuids, module: HAR `_ecapture`; made from conn when not given (None: no empty dict first)
    ecapture: dict | None = None
    websocket_messages: list[WebSocketMessage] = field(default_factory=list)  # (emptied by the entry made of it)
    http_version: str = "HTTP/1.1"
    stream_id: int | None = None  # HTTP/2 stream
    origin: str = ""  # where the first byte came from, for diagnostics
    # the notes the flows gave with the chunks and the Closed event: the summary has them from where they were
    # made (a limit they name was counted there), the HAR sink does not say them again
    upstream: set[str] | frozenset[str] = field(default=frozenset(), repr=False)  # (a set from the first note: most
    # exchanges get none, ~1k instructions an exchange)
    _last_meta: ChunkMeta | None = field(default=None, repr=False)
    # an error -> the capture it is about, where the exchange's first capture is not (a WebSocket message's)
    said_at: dict[str, str] | None = field(default=None, repr=False)

    # (written out, not the dataclass's: its default factories are calls and its __post_init__ one more, ~1.5k
    # instructions an exchange; the same fields, defaults and keywords)
    def __init__(self, conn: Connection, request: HttpRequest | None = None, response: HttpResponse | None = None,
                 errors: list[str] | None = None, notes: list[str] | None = None, ecapture: dict | None = None,
                 websocket_messages: list[WebSocketMessage] | None = None, http_version: str = "HTTP/1.1",
                 stream_id: int | None = None, origin: str = "", upstream: set[str] | frozenset[str] = frozenset(),
                 _last_meta: ChunkMeta | None = None) -> None:
        self.conn = conn
        self.request = request
        self.response = response
        self.errors = [] if errors is None else errors
        self.notes = [] if notes is None else notes
        self.ecapture = ecapture or {"pid": conn.pid, "comm": conn.comm, "fd": conn.fd, "tids": [], "uuids": [],
                                     "module": conn.module}
        self.websocket_messages = [] if websocket_messages is None else websocket_messages
        self.http_version = http_version
        self.stream_id = stream_id
        self.origin = origin
        self.upstream = upstream
        self._last_meta = _last_meta
        self.said_at = None

    @property
    def start_ns(self) -> int:
        if self.request is not None:
            return self.request.start_ns
        return self.response.start_ns if self.response is not None else 0

    def add_meta(self, meta: ChunkMeta | None) -> None:
        """Record the capture that carried bytes of this exchange (cheap when repeated)."""
        if meta is None or meta is self._last_meta:
            return
        first, self._last_meta = self._last_meta is None, meta
        e = self.ecapture
        if meta.tid is not None and meta.tid not in e["tids"]:
            e["tids"].append(meta.tid)
        if meta.uuid and meta.uuid not in e["uuids"]:
            e["uuids"].append(meta.uuid)
        if meta.pid is not None and e.get("pid") is None:
            e["pid"] = meta.pid
        if meta.comm and (first or not e.get("comm")):  # (the thread that carried the exchange's first bytes:
            e["comm"] = meta.comm                           # eCapture's comm is a thread's name, protocol doc §10.19)
        if not self.origin:
            self.origin = meta.origin
        for n in meta.notes:
            self.flows_said(n)

    def flows_said(self, note: str) -> None:
        """A note the flows gave (with a chunk, or its connection's Closed event): in the entry's comment (and
        ``_error`` when it names a limit or a loss), and :attr:`upstream`: the summary has it from the flows."""
        if self.upstream:
            self.upstream.add(note)
        else:
            self.upstream = {note}
        if note not in self.notes:
            self.notes.append(note)


def stream_named(note: str) -> int | None:
    """The HTTP/2 stream a note is about when it starts "stream N: ..." (how the re-encoder and the frame
    alignment name one), else None."""
    if not note.startswith("stream "):
        return None
    number = note[7 : note.find(":")]
    return int(number) if number.isdigit() else None


class ExchangeParser(Protocol):
    """A per-connection protocol parser the HAR sink can drive (HTTP/1, HTTP/2, ...).

    ``feed`` gets the bytes of one chunk in stream order per direction and returns the
    exchanges that completed; ``close`` ends the connection and returns the rest.
    Neither raises on bad input: problems go to ``Exchange.errors`` or ``diagnostics``.
    """

    def feed(self, direction: Direction, data: bytes, time_ns: int, meta: ChunkMeta | None = None) -> list[Exchange]: ...

    def close(self, time_ns: int) -> list[Exchange]: ...

    def take_diagnostics(self) -> list[str]:
        """Connection-level problems not attached to any exchange (reported by the sink)."""
        ...


REPAIRED = "framing repaired to read the body (the headers shown are as eCapture rendered them): "


def repairs_said(notes: list[str]) -> list[str]:
    """``notes`` for an entry's comment: the repairs of eCapture's stale framing headers (a rendered HTTP/1 head's,
    a gunzipped HTTP/2 body's) as one note, saying they are the reading's, at the first one's place. They describe
    the bytes read (and the pcapng's head, unless --raw-payload), not the entry, whose headers are eCapture's."""
    repairs = [n for n in notes if n.startswith(HEAD_REPAIRS) or GUNZIPPED in n]
    if not repairs:
        return notes
    at = notes.index(repairs[0])
    rest = [n for n in notes if n not in repairs]
    return [*rest[:at], REPAIRED + " and ".join(repairs), *rest[at:]]
