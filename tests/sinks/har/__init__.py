"""Helpers shared by the HAR tests.

* :func:`validate_har`, :func:`validate_entry`, :func:`load_with_haralyzer`: see
  :mod:`tests.support.har`.
* :func:`make_conn` / :func:`make_chunk` build flow events without the rest of the pipeline.
"""

from __future__ import annotations

from ecq2pcap.model import Chunk, ChunkInfo, Connection, Direction, PayloadForm, Protocol
from tests.support.har import load_with_haralyzer, validate_entry, validate_har

__all__ = ["load_with_haralyzer", "make_chunk", "make_conn", "validate_entry", "validate_har"]


def make_conn(conn_id: int = 1, *, server: tuple[str, int] = ("10.0.0.2", 443), pid: int = 4242,
              comm: str = "curl", fd: int | None = 5) -> Connection:  # fmt: skip
    client = ("10.0.0.1", 40000 + conn_id) if ":" not in server[0] else ("fd00::1", 40000 + conn_id)
    return Connection(conn_id, pid, comm, fd, client, server)


def make_chunk(conn: Connection, direction: Direction, time_ns: int, data: bytes, *,
               form: PayloadForm = PayloadForm.RAW, tid: int | None = None, uuid: str | None = None,
               notes: tuple[str, ...] = (), origin: str = "test:1",
               protocol: Protocol | None = None) -> Chunk:  # fmt: skip
    """A chunk as the flows hand it on; ``protocol`` defaults to HTTP/2 for an HTTP/2 dump,
    HTTP/1 otherwise (the flows decide it per connection: pass it for raw HTTP/2)."""
    info = ChunkInfo(pid=conn.pid, tid=tid if tid is not None else conn.pid, comm=conn.comm, fd=conn.fd,
                     uuid=uuid, form=form, origin=origin, notes=notes)  # fmt: skip
    if protocol is None:
        protocol = Protocol.HTTP2 if form is PayloadForm.H2_DUMP else Protocol.HTTP1
    return Chunk(conn, direction, time_ns, data, data, info, protocol)
