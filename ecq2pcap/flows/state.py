"""The connection table's state of one connection (:class:`ConnState`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..model import Connection, Direction, Tuple
from .normalize import Normalizer
from .placement import Shape


@dataclass(eq=False, slots=True)
class ConnState:
    """What the table knows of one connection; its :class:`Connection` is built when it opens."""

    group: tuple
    tuple: Tuple
    pid: int
    comm: str
    fd: int | None
    module: str
    client: tuple[str, int] = ("", 0)
    server: tuple[str, int] = ("", 0)
    shown_from: tuple[str, int] = ("", 0)  # the client address and port the pcapng shows, once open (.client_ports)
    tuple_known: bool = True
    synthetic_reason: str | None = None  # why endpoints were invented
    tuple_note: str | None = None  # what of the tuple eCapture gave is not written (model.NotedTuple)
    role: str = "client"  # which end eCapture hooked (Connection.process_role)
    conn: Connection | None = None  # set when opened (a new one after a reopen)
    uuids: list = field(default_factory=list)  # eCapture uuids seen before it opened (a few), for its SYN comment
    role_known: bool = False
    opened: bool = False
    closed: bool = False
    left_out: bool = False  # the filters leave it out whatever its requests say (ConnectionTable's leaves_out)
    superseded: bool = False
    upgraded: bool = False
    websocket: bool = False  # a 101 switched it to WebSocket: quiet for long at times, no idle timeout ends it
    first_real_ts: int | None = None  # earliest time of a capture that carried its tuple
    first_types: int = 0  # the data types of its captures at that time, as bits (placement.pick_successor)
    # on a (pid, fd) that had unknown-tuple captures: the head of its first HTTP/1 request at that time (placement.
    # NO_REQUEST: none yet; None: not kept, on other (pid, fd)s)
    first_request: bytes | None = None
    adopted: set | None = None  # the data types of unknown-tuple captures it was given (placement.pick_successor)
    last_ts: int = 0
    last_released_ts: int = 0
    unroled: list = field(default_factory=list)  # (time, capture, rank) waiting for the role (which end was hooked)
    unroled_bytes: int = 0
    seen_types: set = field(default_factory=set)  # data types (read/write) seen so far
    shape: Shape | None = None  # what its bytes showed (placement of tuple-less captures; made at the first)
    last_headers: dict = field(default_factory=dict)  # Direction -> (header block, timestamp, answered since, uuid)
    reemits: int = 0
    late: int = 0
    # the arrival numbers of its last captures when they are client→server, start with a request and follow bytes the
    # other way (None otherwise, or past 64): what an accept line on its reused fd may take back (ConnectionTable)
    tail: list | None = None
    tail_dir: Direction | None = None  # the way its last pushed capture went
    early: tuple | None = None  # (time, rank, direction hint) of the last capture released early, the latest
    normalizer: Normalizer | None = field(default_factory=Normalizer)  # wire bytes for each capture (None: see
    # ConnectionTable._normalizer)
    due: int | None = None  # deadline of this connection's entry in ConnectionTable._deadlines
    # with filters: warnings about it said before its Connection was built, (reason, origin, detail), held for the
    # filters' decision on that Connection once it is (Ordering._warn_about)
    warnings: list | None = None
