"""``convert -j N``: one conversion split across N workers by connection, merged back exactly.

Sans-IO pieces (:mod:`ecq2pcap.commands.parallel` runs the processes and owns the files).

Every worker reads every input and runs the dialects and the flow table on all of it, so
connection numbers, invented endpoints, ports and the table's counters are those of a
single-process run; only the work per connection is split: worker ``k`` of ``n`` normalizes
payloads, filters, names and writes (pcapng, HAR) the connections whose number is ``k`` mod
``n`` (:func:`owner`). :class:`ShardView` numbers every event the table hands on (the same
numbers in every worker); :class:`Recorder` writes this worker's share and records *runs*:
stretches of consecutively numbered events with where their bytes end in the worker's files.
Merging the runs of all workers by number (:func:`merged_runs`) gives the single-process
order, so ``-j N`` writes the same bytes as ``-j 1``; host-name blocks another worker wrote
first are dropped (:func:`drop_named`).
"""

from __future__ import annotations

import heapq
import struct
from array import array
from collections import deque
from collections.abc import Callable, Iterator

from .model import Connection, FlowEvent
from .sinks.har.writer import encode_entry
from .sinks.pcapng.names import NRB_TYPE

__all__ = ["owner", "ShardView", "Recorder", "EntryLog", "merged_runs", "drop_named", "END", "RUN_FIELDS"]

END = 1 << 62  # the number of events handed on after the input ended (finishing the outputs)
RUN_FIELDS = 5  # seq, pcapng end offset, HAR end offset, HAR entries so far, host-name blocks so far
RUN_BYTES = 4 << 20  # a run is cut at the next event once it holds this much (bounds the merge's memory)
_BLOCK = struct.Struct("=II")
_REC = struct.Struct("=HH")


def owner(n: int) -> Callable[[int], Callable[[Connection], bool]]:
    """``owner(n)(k)``: does worker ``k`` of ``n`` write this connection?"""
    return lambda k: (lambda conn: conn.id % n == k)


class ShardView:
    """Stands in for the pipeline's :class:`~ecq2pcap.filters.ConnectionView`: numbers every
    flow event and hands this worker's connections' events to the real view, one by one (the
    view keeps per-connection state only, so that is what it would do with the whole list).
    :attr:`tags` holds the number of each event returned, in order, for :class:`Recorder`."""

    def __init__(self, view, owns: Callable[[Connection], bool]) -> None:
        self.view = view
        self.filter = view.filter
        self.owns = owns
        self.seq = 0
        self.tags: deque[int] = deque()

    def host(self, conn: Connection) -> str | None:
        return self.view.host(conn)

    def process(self, events: list[FlowEvent]) -> list[FlowEvent]:
        out: list[FlowEvent] = []
        owns, process, tags = self.owns, self.view.process, self.tags
        for event in events:
            self.seq += 1
            if owns(event.conn):
                got = process([event])
                if got:
                    out.extend(got)
                    tags.extend([self.seq] * len(got))
        return out

    def finish(self) -> list[FlowEvent]:
        got = self.view.finish()
        self.tags.extend([END] * len(got))
        return got


class EntryLog:
    """Stands in for :class:`~ecq2pcap.sinks.har.writer.HarWriter` in a worker: every entry
    encoded as the writer would, each preceded by ``,\\n``, appended to ``out``."""

    def __init__(self, out, **_ignored) -> None:
        self._out = out
        self._pending = bytearray()
        self.failed: OSError | None = None
        self.count = 0
        self.size = 0

    def write(self, entry: dict) -> None:
        data = encode_entry(entry)
        self._pending += b",\n"
        self._pending += data
        self.size += len(data) + 2
        self.count += 1
        if len(self._pending) >= 1 << 20:
            self.commit()

    def commit(self, last: bytes = b"") -> None:
        if self._pending:
            self._out.write(self._pending)
            self._pending = bytearray()

    def commit_if_due(self) -> None:
        pass

    def close(self) -> None:
        self.commit()
        self._out.flush()


class Recorder:
    """The one sink of a worker's pipeline: hands each event to the worker's sinks and
    records the runs (:data:`RUN_FIELDS` integers each, in :attr:`runs`)."""

    def __init__(self, sinks: list, tags: deque[int], pcapng=None, entries: EntryLog | None = None,
                 names: Callable[[], int] = lambda: 0) -> None:
        self.sinks = sinks
        self.tags = tags
        self.pcapng = pcapng
        self.entries = entries
        self.names = names
        self.runs = array("q")
        self._start: int | None = None  # seq of the run being written
        self._last = -1
        self._mark = self._where()
        self.header_size = self._mark[0]  # the worker's pcapng header (section, interface)

    def _where(self) -> tuple[int, int, int, int]:
        p = self.pcapng.bytes_written if self.pcapng is not None else 0
        e = self.entries
        return p, (e.size if e else 0), (e.count if e else 0), self.names()

    def _close_run(self) -> None:
        if self._start is not None:
            where = self._where()
            if where != self._mark:
                self.runs.extend((self._start, *where))
                self._mark = where
            self._start = None

    def handle(self, event: FlowEvent) -> None:
        seq = self.tags.popleft()
        if self._start is None or seq > self._last + 1 or self._big():
            self._close_run()
            self._start = seq
        self._last = seq
        error = None
        for sink in self.sinks:
            try:
                sink.handle(event)
            except OSError as exc:
                error = error or exc
        if error is not None:
            raise error

    def _big(self) -> bool:
        p, e, _, _ = self._mark
        return ((self.pcapng.bytes_written - p) if self.pcapng is not None else 0) + \
            ((self.entries.size - e) if self.entries is not None else 0) >= RUN_BYTES

    def finish(self) -> None:
        self._close_run()
        self._start = END
        error = None
        for sink in self.sinks:
            try:
                sink.finish()
            except OSError as exc:
                error = error or exc
        self._close_run()
        if error is not None:
            raise error


def merged_runs(workers: list[tuple[int, array]]) -> Iterator[tuple[int, int, int, int, int, int, int, bool]]:
    """All workers' runs in single-process order: ``(worker, pcapng start, end, HAR start, end,
    entries, has host-name blocks)``. ``workers``: (header size, runs) of each worker."""

    def runs_of(k: int, header: int, runs: array):
        p0, h0, n0, names0 = header, 0, 0, 0
        for i in range(0, len(runs), RUN_FIELDS):
            seq, p, h, n, names = runs[i:i + RUN_FIELDS]
            yield seq, k, p0, p, h0, h, n - n0, names > names0
            p0, h0, n0, names0 = p, h, n, names

    for run in heapq.merge(*(runs_of(k, header, runs) for k, (header, runs) in enumerate(workers))):
        yield run[1:]


def drop_named(data: bytes, named: set[bytes]) -> tuple[bytes, int]:
    """``data`` (whole pcapng blocks) without the host-name blocks of addresses in ``named``
    (an address gets the first name a single-process run would give it); adds the others'
    addresses to ``named``. Returns the blocks kept and how many were dropped."""
    out, dropped, pos = [], 0, 0
    while pos + 8 <= len(data):
        kind, length = _BLOCK.unpack_from(data, pos)
        if kind == NRB_TYPE:
            rtype, rlen = _REC.unpack_from(data, pos + 8)
            address = bytes([rtype]) + data[pos + 12:pos + 12 + (4 if rtype == 1 else 16)]
            if address in named:
                dropped += 1
                pos += length
                continue
            named.add(address)
        out.append(data[pos:pos + length])
        pos += length
    return b"".join(out), dropped
