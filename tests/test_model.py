"""The shared vocabulary: records and flow events are immutable plain data (model.py's promise)."""

from __future__ import annotations

import pickle

import pytest
from msgspec.structs import fields, replace

from ecq2pcap import model
from ecq2pcap.model import (Capture, Chunk, ChunkInfo, Closed, Connection, DataType, Direction, Frozen, NotedTuple,
                            Opened, PayloadForm, Protocol, Tuple)

CONN = Connection(1, 4242, "curl", 5, ("10.0.0.1", 40000), ("10.0.0.2", 443), uuids=("u",))
CAPTURE = Capture(4242, 4243, "curl", 5, DataType.WRITE, Tuple("10.0.0.1", 40000, "10.0.0.2", 443), 7, b"GET /",
                  PayloadForm.RAW, 1, "u", origin="f:1", notes=("n",))
CHUNK = Chunk(CONN, Direction.C2S, 7, b"GET /", b"GET /", ChunkInfo.of(CAPTURE, ("n",)), Protocol.HTTP1)


def test_every_record_and_flow_event_is_frozen():
    kinds = [k for k in vars(model).values() if isinstance(k, type) and issubclass(k, Frozen) and k is not Frozen]
    assert {"Capture", "Chunk", "ChunkInfo", "Connection", "Opened", "Closed", "Message"} <= {k.__name__ for k in kinds}
    for obj in (CONN, CAPTURE, CHUNK, CHUNK.info, Opened(CONN, 1), Closed(CONN, 2, "end of input")):
        name = type(obj).__struct_fields__[0]
        with pytest.raises(AttributeError):
            setattr(obj, name, None)
    assert replace(CAPTURE, notes=("m",)).notes == ("m",) and CAPTURE.notes == ("n",)  # a copy, the original kept
    for kind in kinds:  # their annotations resolve (msgspec reads them to encode or list the fields)
        assert [f.name for f in fields(kind)] == list(kind.__struct_fields__)


def test_equality_hash_and_pickling():
    # records compare by value; a connection is itself only (two connections may carry the same fields)
    assert replace(CAPTURE) == CAPTURE and hash(replace(CAPTURE)) == hash(CAPTURE)
    twin = Connection(*(getattr(CONN, name) for name in Connection.__struct_fields__))
    assert twin != CONN and CONN == CONN and len({CONN, twin}) == 2
    assert Opened(CONN, 1) == Opened(CONN, 1) and Opened(CONN, 1) != Opened(twin, 1)
    again = pickle.loads(pickle.dumps(CHUNK))
    assert (again.wire, again.info, again.protocol, again.conn.server) == (CHUNK.wire, CHUNK.info, CHUNK.protocol,
                                                                         CONN.server)


def test_a_noted_tuple_keeps_its_note_turned_round_pickled_and_is_immutable():
    """(The connection table tells a NotedTuple by its type: v2 gotls turns tuples round, -j pickles records.)"""
    t = NotedTuple.of("999.0.0.1", 5000, "10.0.0.2", 443, "why", True)
    assert t == Tuple("999.0.0.1", 5000, "10.0.0.2", 443) and hash(t) == hash(Tuple(*t))  # the same key
    back = t.swapped()
    assert type(back) is NotedTuple and back == Tuple("10.0.0.2", 443, "999.0.0.1", 5000)
    assert (back.note, back.unusable) == ("why", True)
    assert type(Tuple(*t).swapped()) is Tuple
    again = pickle.loads(pickle.dumps(t, pickle.HIGHEST_PROTOCOL))
    assert type(again) is NotedTuple and (again, again.note, again.unusable) == (t, "why", True)
    with pytest.raises(AttributeError):
        t.note = "other"
    assert t.note == "why"
