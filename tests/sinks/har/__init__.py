"""Helpers shared by the HAR tests.

* :func:`validate_har`, :func:`validate_entry`, :func:`load_with_haralyzer`: see
  :mod:`tests.support.har`.
* :func:`make_conn` / :func:`make_chunk` build flow events without the rest of the pipeline.
"""

from __future__ import annotations

from ecq2pcap.model import Capture, Chunk, Connection, DataType, Direction, PayloadForm, Tuple
from tests.support.har import load_with_haralyzer, validate_entry, validate_har

__all__ = ["load_with_haralyzer", "make_chunk", "make_conn", "validate_entry", "validate_har"]


def make_conn(conn_id: int = 1, *, server: tuple[str, int] = ("10.0.0.2", 443), pid: int = 4242,
              comm: str = "curl", fd: int | None = 5) -> Connection:  # fmt: skip
    client = ("10.0.0.1", 40000 + conn_id) if ":" not in server[0] else ("fd00::1", 40000 + conn_id)
    return Connection(conn_id, pid, comm, fd, client, server)


def make_chunk(conn: Connection, direction: Direction, time_ns: int, data: bytes, *,
               form: PayloadForm = PayloadForm.RAW, tid: int | None = None, uuid: str | None = None,
               notes: tuple[str, ...] = (), origin: str = "test:1") -> Chunk:  # fmt: skip
    dt = DataType.WRITE if direction is Direction.C2S else DataType.READ
    cap = Capture(
        pid=conn.pid, tid=tid if tid is not None else conn.pid, comm=conn.comm, fd=conn.fd, data_type=dt,
        tuple=Tuple(conn.client[0], conn.client[1], conn.server[0], conn.server[1]), timestamp_ns=time_ns,
        payload=data, form=form, ectype=None, uuid=uuid, origin=origin,
    )  # fmt: skip
    return Chunk(conn, direction, time_ns, data, data, cap, notes)
