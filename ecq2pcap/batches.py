"""``convert -j``: flow events to bytes for another worker and back (sans-IO).

A batch is a list of groups ``(version, [(seq, event), ...])`` (see :class:`~ecq2pcap.shards.Dispatcher`).
Events travel as tuples of their fields, pickled; a connection's fields only with the first of its events that
a worker gets (then its id), and the reader gives all events of a connection one
:class:`~ecq2pcap.model.Connection` object, as a single process does. (An event's cost, with the CLI's GC
thresholds: pickling the records themselves ~3 µs to pack, ~2 to unpack; a connection's fields once a batch, the
way before, pickle's memo keeping one copy of them, ~2.8 and ~2.3, mostly its dozen objects again and again;
once a connection ~1.8 and ~1.8.)
"""

from __future__ import annotations

import pickle
from operator import attrgetter

from msgspec.structs import astuple

from .model import Captured, Chunk, ChunkInfo, Closed, Connection, Opened, Warned

__all__ = ["BatchWriter", "BatchReader"]

_OPENED, _CHUNK, _CLOSED, _CAPTURED, _WARNED = range(5)
_CONNECTION = attrgetter(*Connection.__struct_fields__)
# the fields each kind is sent with, in this order (a field added to a kind must be added here: see pack)
_SENT = {Opened: ("conn", "time_ns", "origin"), Closed: ("conn", "time_ns", "reason", "notes", "decided_ns"),
         Captured: ("conn", "direction", "time_ns", "payload", "info"),
         Chunk: ("conn", "direction", "time_ns", "wire", "raw", "info", "protocol"),
         Warned: ("conn", "warnings")}
assert all(kind.__struct_fields__ == fields for kind, fields in _SENT.items()), "a flow event's fields changed"


class BatchWriter:
    """Packs batches; remembers which connections' fields a worker has (until their Closed event).

    What a batch sends counts as known only once :meth:`delivered` says the batch reached the worker:
    a batch that never went (Ctrl-C between packing and sending, a worker gone) must not leave the
    next one referring to fields the worker never got. (One that went but was not marked sends some
    fields again: the reader keeps the connection it has.)"""

    def __init__(self) -> None:
        self._conns: set[int] = set()
        self._packed: tuple[set[int], set[int]] = (set(), set())  # the last batch's new and closed connections

    def pack(self, groups: list) -> bytes:
        out = []
        sent = self._conns
        fresh: set[int] = set()
        gone: set[int] = set()
        for version, group in groups:
            items = []
            append = items.append
            for seq, event in group:
                kind = type(event)
                conn = event.conn
                head = conn.id
                if head in sent or head in fresh:
                    if kind is Closed:
                        gone.add(head)
                else:
                    if kind is not Closed:
                        fresh.add(head)
                    head = _CONNECTION(conn)
                if kind is Captured:
                    append((seq, _CAPTURED, head, event.direction, event.time_ns, event.payload, astuple(event.info)))
                elif kind is Opened:
                    append((seq, _OPENED, head, event.time_ns, event.origin))
                elif kind is Closed:
                    append((seq, _CLOSED, head, event.time_ns, event.reason, event.notes, event.decided_ns))
                elif kind is Warned:
                    append((seq, _WARNED, head, event.warnings))
                else:
                    raw = None if event.raw is event.wire else event.raw  # (the same bytes: sent once)
                    append((seq, _CHUNK, head, event.direction, event.time_ns, event.wire, raw, astuple(event.info),
                            event.protocol))
            out.append((version, items))
        data = pickle.dumps(out, pickle.HIGHEST_PROTOCOL)
        self._packed = (fresh, gone)
        return data

    def delivered(self) -> None:
        """The batch :meth:`pack` returned last reached the worker."""
        fresh, gone = self._packed
        self._conns |= fresh
        self._conns -= gone
        self._packed = (set(), set())


class BatchReader:
    """Unpacks batches into groups of ``(seq, event)``."""

    def __init__(self) -> None:
        self._conns: dict[int, Connection] = {}

    def unpack(self, data: bytes) -> list:
        conns = self._conns
        out = []
        for version, items in pickle.loads(data):
            group = []
            append = group.append
            for item in items:
                kind, head = item[1], item[2]
                if type(head) is int:
                    conn = conns[head]
                    if kind == _CLOSED:
                        del conns[head]
                else:  # (a connection's fields: new here, or sent again after a batch that was not marked)
                    conn = conns.get(head[0]) or Connection(*head)
                    if kind != _CLOSED:
                        conns[head[0]] = conn
                    else:
                        conns.pop(head[0], None)
                if kind == _CAPTURED:
                    _, _, _, direction, time_ns, payload, info = item
                    append((item[0], Captured(conn, direction, time_ns, payload, ChunkInfo(*info))))
                elif kind == _OPENED:
                    append((item[0], Opened(conn, item[3], item[4])))
                elif kind == _CLOSED:
                    _, _, _, time_ns, reason, notes, decided_ns = item
                    append((item[0], Closed(conn, time_ns, reason, notes, decided_ns)))
                elif kind == _WARNED:
                    append((item[0], Warned(conn, item[3])))
                else:
                    _, _, _, direction, time_ns, wire, raw, info, protocol = item
                    append((item[0], Chunk(conn, direction, time_ns, wire, wire if raw is None else raw,
                                           ChunkInfo(*info), protocol)))
            out.append((version, group))
        return out
