"""The vocabulary shared by every stage of the pipeline.

    sources ──Message──► dialects ──Record──► flows ──FlowEvent──► sinks

* A **message** is one eCaptureQ WebSocket message (or one line of a dump).
* A **record** is what a dialect decodes from a message: :class:`Heartbeat`,
  :class:`ProcessLog`, :class:`Capture` (TLS plaintext of one eCapture event),
  :class:`ConnectInfo` (v2 connect/destroy lines) or :class:`Annotation`
  (events that are not TLS data: bash, mysql, master keys, ...).
* A **connection** is one synthesized TCP connection; a **chunk** is the data of
  one capture placed on a connection in one **direction** (client→server or
  server→client, always from the client's point of view).

Everything here is plain data: no I/O. Records and flow events are immutable: a stage
never changes what it was handed or what it handed on (frozen structs enforce it: :class:`Frozen`).
"""

from __future__ import annotations

import builtins
import enum
from typing import NamedTuple, Union

import msgspec


class Frozen(msgspec.Struct, frozen=True):
    """The base of records and flow events: immutable plain data.

    A :class:`msgspec.Struct` (C-level slots, ``==``, ``hash``, ``repr``; ``msgspec.structs.replace`` and
    ``fields``): a 9-field one is built in ~1.5k instructions where a frozen slots dataclass took ~8.2k even
    with an ``__init__`` that set each slot through its descriptor (the generated one has to get past the
    class's own ``__setattr__`` for every field), and several are made for every event.
    """


class Opcode(enum.Enum):
    """WebSocket opcode of a message (a plain dump line counts as text); ``EVENT_TEXT``: no frame, one event's text
    rendering read from an eCapture v2.1+ event log (:mod:`ecq2pcap.sources.eventlog`); ``CONSOLE``: no frame, one
    line of eCapture v2's console output, with the lines its message goes on over (:mod:`ecq2pcap.sources.console`)."""

    TEXT = "text"
    BINARY = "binary"
    EVENT_TEXT = "event text"
    CONSOLE = "console line"


class Message(Frozen):
    """One eCaptureQ message exactly as received."""

    data: bytes
    opcode: Opcode
    origin: str  # "file:line" or "ws://host/#n": used in every diagnostic
    recv_time_ns: int | None = None  # receive time, when the source knows it


class Tick(Frozen):
    """The data's clock moved by ``live``'s wall clock (its reorder buffer released, connections idle): a
    recording keeps each move, and ``convert`` of it replays them between the same messages, so that it gives
    what the live run gave, whenever the messages came."""

    now_ns: int
    origin: str


class DataType(enum.IntEnum):
    """Which way the captured process moved the bytes (eCapture's dataType)."""

    READ = 0  # the process received them (SSL_read)
    WRITE = 1  # the process sent them (SSL_write)


class Direction(enum.IntEnum):
    """Direction of bytes on a connection, from the client's point of view."""

    C2S = 0
    S2C = 1

    @property
    def other(self) -> "Direction":
        return _OTHER[self]

    @property
    def label(self) -> str:
        return _LABEL[self]


_OTHER = (Direction.S2C, Direction.C2S)  # (looked up per chunk: an enum call costs ~10× more)
_LABEL = ("c2s", "s2c")


class PayloadForm(enum.Enum):
    """What a capture's bytes are (see the protocol doc §4.3)."""

    RAW = "raw"  # wire plaintext (hex dumps are reversed by the dialect)
    HTTP1_RENDERED = "http1_rendered"  # eCapture's httputil re-serialization (type 1/3)
    H2_DUMP = "h2_dump"  # eCapture's HTTP/2 text dump (type 2/4)


class Tuple(NamedTuple):
    """A connection's 4-tuple, oriented client → server."""

    src_ip: str
    src_port: int
    dst_ip: str
    dst_port: int

    def __str__(self) -> str:
        def ep(ip: str, port: int) -> str:
            return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"

        return f"{ep(self.src_ip, self.src_port)}-{ep(self.dst_ip, self.dst_port)}"

    def swapped(self) -> Tuple:
        """The other way round (a :class:`NotedTuple` stays one, with its note)."""
        return Tuple(self.dst_ip, self.dst_port, self.src_ip, self.src_port)


class NotedTuple(Tuple):
    """A tuple eCapture gave that is not written as it was (:func:`ecq2pcap.uuids.tuple_of` makes it). ``unusable``:
    an address in it is no IP address, or it has IPv4 with IPv6; it still tells its connection from others, whose
    endpoints are invented (:mod:`ecq2pcap.flows.endpoints`), ``note`` saying why. Else its addresses are written as
    they are here (an IPv6 zone id, which no packet holds, left out), ``note`` saying so in its SYN's comment. (A
    subclass, not a field: the connection table tells it by its type once a connection; a capture costs nothing.)"""

    note: str
    unusable: bool

    @staticmethod
    def of(src_ip: str, src_port: int, dst_ip: str, dst_port: int, note: str, unusable: bool) -> NotedTuple:
        t = tuple.__new__(NotedTuple, (src_ip, src_port, dst_ip, dst_port))
        t.__dict__.update(note=note, unusable=unusable)  # (immutable as a record is: see __setattr__)
        return t

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"a NotedTuple is immutable: cannot set {name}")

    def swapped(self) -> NotedTuple:
        return NotedTuple.of(self.dst_ip, self.dst_port, self.src_ip, self.src_port, self.note, self.unusable)


# eCapture's parser types (protocol doc §2, `type`)
ECTYPE_NAMES = {
    0: "data",
    1: "HTTP/1 request",
    2: "HTTP/2 request",
    3: "HTTP/1 response",
    4: "HTTP/2 response",
    5: "WebSocket",
}


class Heartbeat(Frozen):
    timestamp_ns: int | None
    count: int
    text: str
    origin: str = ""


class ProcessLog(Frozen):
    """One eCapture log line; ``fields`` is the zerolog object when it parsed."""

    text: str
    fields: dict | None
    origin: str = ""


class Capture(Frozen):
    """TLS plaintext of one eCapture event (one or several merged SSL calls)."""

    pid: int
    tid: int | None
    comm: str
    fd: int | None  # None when the module does not report it (gnutls, nspr, gotls)
    data_type: DataType | None  # None when unknown
    tuple: Tuple | None  # client→server; None when unknown
    timestamp_ns: int | None
    payload: bytes
    form: PayloadForm
    ectype: int | None  # eCapture's `type` field, as sent
    uuid: str | None
    module: str = "openssl"  # openssl, gnutls, nspr, gotls
    origin: str = ""
    notes: builtins.tuple[str, ...] = ()  # things a dialect changed or noticed (hex dump reversed, ...)
    # (builtins.: the field named tuple above would be what `tuple` means when the annotations are read)


class ConnectInfo(Frozen):
    """A v2 connect line (``kind='connect'``) or destroy line (``'destroy'``)."""

    kind: str
    pid: int
    fd: int
    tuple: Tuple | None
    comm: str = ""
    tid: int | None = None
    timestamp_ns: int | None = None
    origin: str = ""


class Annotation(Frozen):
    """An event that is not TLS data (bash, mysql, master key, ...): kept, never TCP."""

    kind: str
    text: str
    pid: int | None = None
    comm: str = ""
    timestamp_ns: int | None = None
    origin: str = ""


Record = Union[Heartbeat, ProcessLog, Capture, ConnectInfo, Annotation]


class DecodeError(ValueError):
    """A message that cannot be decoded; the text is the user-facing reason."""


# ---------------------------------------------------------------------------
# flows → sinks


class Protocol(enum.Enum):
    """What a chunk's wire bytes speak, decided once in flows (:mod:`ecq2pcap.flows.protocol`)."""

    HTTP1 = "HTTP/1"
    HTTP2 = "HTTP/2"
    UNKNOWN = "unknown"  # neither recognised at the connection's start (the HAR sink still tries HTTP/1)


class Connection(Frozen, eq=False):
    """One synthesized TCP connection, as it is when its :class:`Opened` is emitted."""

    id: int  # 1, 2, ... in order of first data; HAR `connection`
    pid: int
    comm: str
    fd: int | None
    client: tuple[str, int]  # (ip, port)
    server: tuple[str, int]
    tuple_known: bool = True
    synthetic_reason: str | None = None  # why endpoints were invented
    process_role: str = "client"  # "client" or "server": which end eCapture hooked
    uuids: tuple[str, ...] = ()  # eCapture uuids of the captures released with its first data
    tid: int | None = None  # thread of its first capture (later captures may come from other threads)
    module: str = "openssl"
    # another connection open when it opened goes from its client address and port to its server's address, to
    # another port: the pcapng shows its real server port (a port both are shown as would make them one to Wireshark)
    keep_port: bool = False
    # another connection (id same_tuple_as) was open on its whole 4-tuple when it opened (one socket under two fds or
    # processes): the pcapng shows it from this client port, not its real one (flows.client_ports); 0: the real one
    shown_client_port: int = 0
    same_tuple_as: int = 0
    tuple_note: str | None = None  # what of the tuple eCapture gave is not written (NotedTuple), for its SYN's comment

    @property
    def ip_version(self) -> int:
        return 6 if ":" in self.client[0] else 4

    def outbound(self, direction: Direction) -> bool:
        """True when the captured process sent bytes going this way."""
        return (direction is Direction.C2S) == (self.process_role == "client")


NS_LIMIT = 1 << 64  # (a pcapng's timestamps: 64 bits of nanoseconds, to 2554-07-21; a time past it is unknown)
NOT_PLACED = "not placed: "  # starts a chunk note saying its connection could not be found (a HAR _error)


class ChunkInfo(Frozen):
    """What eCapture said about the capture behind a chunk: sinks read this, never the
    dialect's :class:`Capture` (pcapng comments, HAR ``_ecapture``, diagnostics)."""

    pid: int | None = None
    tid: int | None = None
    comm: str = ""
    fd: int | None = None
    uuid: str | None = None
    ectype: int | None = None  # eCapture's `type`, as sent
    form: PayloadForm = PayloadForm.RAW  # what eCapture delivered (the wire may be repaired/re-encoded)
    origin: str = ""  # "file:line" of the message
    notes: tuple[str, ...] = ()  # the capture's notes + what the flow table changed

    @classmethod
    def of(cls, cap: Capture, notes: tuple[str, ...]) -> "ChunkInfo":
        return cls(cap.pid, cap.tid, cap.comm, cap.fd, cap.uuid, cap.ectype, cap.form, cap.origin, notes)


class Chunk(Frozen):
    """The bytes of one capture placed on a connection."""

    conn: Connection
    direction: Direction
    time_ns: int
    wire: bytes  # what the sinks parse: framing repaired for rendered HTTP/1, HTTP/2 dumps re-encoded
    raw: bytes  # as eCapture gave it (hex dumps reversed); `wire` may be the same object
    info: ChunkInfo
    protocol: Protocol = Protocol.UNKNOWN  # what `wire` speaks (decided once per connection in flows)

    @property
    def notes(self) -> tuple[str, ...]:
        return self.info.notes


class Captured(Frozen):
    """A capture placed on its connection, its wire bytes not made yet: the flow table hands these
    on instead of :class:`Chunk` when asked to (``convert -j``, where the process that writes a
    connection also makes its wire bytes: :class:`~ecq2pcap.flows.normalize.Normalizing`).
    Never reaches a sink."""

    conn: Connection
    direction: Direction
    time_ns: int
    payload: bytes  # as eCapture gave it (hex dumps reversed): the chunk's `raw`
    info: ChunkInfo


class Warned(Frozen):
    """Warnings about ``conn`` that wait for the filters' decision on it (:attr:`~ecq2pcap.report.Report.held`), sent
    by ``convert -j``'s first process, whose flow table said them, to the worker whose filters decide that connection.
    Never reaches a sink."""

    conn: Connection
    warnings: tuple[tuple[str, str, str], ...]  # (reason, origin, detail)


class Opened(Frozen):
    conn: Connection
    time_ns: int
    origin: str = ""  # of the capture that opened it: where a warning about the connection as a whole is said


class Closed(Frozen):
    conn: Connection
    time_ns: int  # the connection's last activity (the HAR ends a body read until the close there)
    reason: str  # "end of input", "idle", "new connect on same fd", ...
    notes: tuple[str, ...] = ()  # e.g. stale re-emits omitted
    decided_ns: int = 0  # the latest capture released when the close was decided: the pcapng's FIN is not timed
    # before it, so that the file stays in time order (the close of a connection is known only later: at the end
    # of input, at its fd's reuse, past its idle timeout)


FlowEvent = Union[Opened, Chunk, Closed]
