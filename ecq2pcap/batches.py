"""``convert -j``: flow events to bytes for another worker and back (sans-IO).

A batch is a list of groups ``(version, [(seq, event), ...])`` (see :class:`~ecq2pcap.shards.Dispatcher`).
Events travel as lists of their fields, pickled. A connection's fields are sent once per batch (pickle's
memo keeps one copy of the tuple), and the reader gives all events of a connection one
:class:`~ecq2pcap.model.Connection` object across batches, as a single process does. (When the records were
dataclasses this was also much cheaper than pickling them, ~2.4 µs an event against ~6.5; as msgspec
Structs both take ~2.1 µs.)
"""

from __future__ import annotations

import pickle
from operator import attrgetter

from msgspec.structs import astuple

from .model import Captured, Chunk, ChunkInfo, Closed, Connection, Opened

__all__ = ["BatchWriter", "BatchReader"]

_KINDS = (Opened, Chunk, Closed, Captured)
_INDEX = {kind: i for i, kind in enumerate(_KINDS)}
_FIELDS = tuple(attrgetter(*kind.__struct_fields__) for kind in _KINDS)  # (field names, in order)
_CONNECTION = attrgetter(*Connection.__struct_fields__)
_CHUNK, _CLOSED = _INDEX[Chunk], _INDEX[Closed]
_WIRE, _RAW = (Chunk.__struct_fields__.index(name) for name in ("wire", "raw"))
# where a kind holds its ChunkInfo (sent as a plain tuple, as the events themselves are), or None
_INFO_AT = tuple(kind.__struct_fields__.index("info") if "info" in kind.__struct_fields__ else None for kind in _KINDS)
assert all(kind.__struct_fields__[0] == "conn" for kind in _KINDS)


class BatchWriter:
    """Packs batches; remembers each open connection's fields (until its Closed event)."""

    def __init__(self) -> None:
        self._conns: dict[int, tuple] = {}

    def pack(self, groups: list) -> bytes:
        out = []
        conns = self._conns
        for version, group in groups:
            items = []
            for seq, event in group:
                i = _INDEX[type(event)]
                f = list(_FIELDS[i](event))
                conn_id = f[0].id
                t = conns.get(conn_id)
                if t is None:
                    t = conns[conn_id] = _CONNECTION(f[0])
                f[0] = t
                at = _INFO_AT[i]
                if at is not None:
                    f[at] = astuple(f[at])
                if i == _CHUNK and f[_RAW] is f[_WIRE]:
                    f[_RAW] = None  # (the same bytes: sent once)
                elif i == _CLOSED:
                    del conns[conn_id]
                items.append((seq, i, f))
            out.append((version, items))
        return pickle.dumps(out, pickle.HIGHEST_PROTOCOL)


class BatchReader:
    """Unpacks batches into groups of ``(seq, event)``."""

    def __init__(self) -> None:
        self._conns: dict[int, Connection] = {}

    def unpack(self, data: bytes) -> list:
        conns = self._conns
        out = []
        for version, items in pickle.loads(data):
            group = []
            for seq, i, f in items:
                t = f[0]
                conn = conns.get(t[0])
                if conn is None:
                    conn = conns[t[0]] = Connection(*t)
                f[0] = conn
                at = _INFO_AT[i]
                if at is not None:
                    f[at] = ChunkInfo(*f[at])
                if i == _CHUNK and f[_RAW] is None:
                    f[_RAW] = f[_WIRE]
                elif i == _CLOSED:
                    del conns[t[0]]
                group.append((seq, _KINDS[i](*f)))
            out.append((version, group))
        return out
