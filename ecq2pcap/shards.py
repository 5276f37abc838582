"""``convert -j N``: one conversion split across N workers by connection, merged back exactly.

Sans-IO pieces (:mod:`ecq2pcap.commands.parallel` runs the processes and owns the files and pipes).

Worker 0 alone reads every input and runs the dialects and the flow table, so connection numbers,
invented endpoints, ports and the table's counters are those of a single-process run. Its
:class:`Dispatcher` numbers every event the table hands on and gives each new connection to a
worker: it keeps a connection when the others are behind, else hands it to the next one. Another
worker's events go to it in batches (:mod:`ecq2pcap.batches`, read by :class:`ShardFeed`); there the
per-connection work runs: wire bytes (:class:`~ecq2pcap.flows.normalize.Normalizing`), filters, host
names, TCP synthesis, HTTP parsing, HAR. Each worker's
:class:`Recorder` writes its share and records *runs*: stretches of consecutively numbered events
with where their bytes end in the worker's files. Merging the runs of all workers by number
(:func:`merged_runs`) gives the single-process order, so ``-j N`` writes the same bytes as ``-j 1``
whichever worker wrote a connection; host-name blocks another worker wrote first are dropped
(:func:`drop_named`).
"""

from __future__ import annotations

import heapq
import struct
from array import array
from collections import deque
from collections.abc import Callable, Iterator, Sequence

from .batches import BatchReader, BatchWriter
from .flows import ordering
from .flows.normalize import Normalizing
from .limits import DEFAULT_LIMITS, Limits
from .model import Captured, Chunk, Closed, FlowEvent, Warned
from .report import Report
from .sinks.har.writer import encode_entry
from .sinks.pcapng.names import NRB_TYPE
from .sinks.units import UnitWriter

__all__ = ["Dispatcher", "ShardFeed", "Recorder", "EntryLog", "merged_runs", "drop_named", "whole_blocks",
           "whole_entries", "END", "RUN_FIELDS"]

END = 1 << 62  # the number of events handed on after the input ended (finishing the outputs)
RUN_FIELDS = 5  # seq, pcapng end offset, HAR end offset, HAR entries so far, host-name blocks so far
RUN_BYTES = 4 << 20  # a run is cut at the next event once it holds this much (bounds the merge's memory)
# A batch for another worker is sent once it holds this many events or payload bytes (whole lists: a list the
# table hands on may hold hundreds of events when v1.4's whole-second times release a second at once). Small
# batches tell soon how far behind a worker is: it reports what it read after each batch.
BATCH_EVENTS = 256
BATCH_BYTES = 128 << 10
BACKLOG_BYTES = 640 << 10  # a worker with this much sent and not yet read gets no new connection (< a pipe's 1 MiB)
ENTRY_BUFFER = 1 << 20  # a worker's HAR entries are written in pieces of this size
_BLOCK = struct.Struct("=II")
_REC = struct.Struct("=HH")


def _hand_on(group, take, add, out: list, tags: deque, hand: Callable[[list], None] | None = None,
             report: Report | None = None) -> list:
    """A list's ``(seq, event)`` pairs through normalisation (``take``) and the view (``add``): what
    they hand on now is appended to ``out``, each numbered ``seq`` in ``tags``; returns the list. (One call a list:
    a call an event was ~3 % of a worker's time.) With ``hand``, a list that holds
    :data:`~ecq2pcap.flows.ordering.MADE_UP_BATCH` bytes made up for frames' lost rests (``report.made_up``) goes to
    ``hand`` at once and a new one begins, as the flow table's release does in one process."""
    append = tags.append
    stop = report.made_up + ordering.MADE_UP_BATCH if hand is not None and report is not None else None
    for seq, event in group:
        n = len(out)
        for made in take(event):
            add(made, out)
        n = len(out) - n
        if n == 1:
            append(seq)
        elif n:
            tags.extend([seq] * n)
        if stop is not None and report.made_up > stop:  # (report: not None when stop is not)
            hand(out)
            out, stop = [], report.made_up + ordering.MADE_UP_BATCH
    return out


class Dispatcher:
    """Stands in for the pipeline's :class:`~ecq2pcap.filters.ConnectionView` in worker 0.

    Numbers every flow event (the single-process order) and gives each new connection a worker
    (:meth:`_assign`) until its Closed event. Its own connections' events go through the real
    view, list by list as in one process; :attr:`tags` holds the number of each event returned,
    in order, for :class:`Recorder`. The other workers' events are batched, a group per list, and
    given to ``send(k, data)``; ``read[k]`` is how many bytes worker ``k`` has read of them
    (shared memory), which says how far behind it is. A worker whose ``send`` fails gets nothing
    more (:attr:`lost`): it reports its own failure, and the outputs are not merged. ``version()``:
    the eCapture version the outputs name at this point (sent with each list). ``deliver``, when set (the
    pipeline's :meth:`~ecq2pcap.pipeline.Pipeline.deliver`), takes a list of its own events at once when the list
    holds :data:`~ecq2pcap.flows.ordering.MADE_UP_BATCH` bytes made up (:func:`_hand_on`)."""

    def __init__(self, view, workers: int, send: Callable[[int, bytes], None], read: Sequence[int],
                 version: Callable[[], str | None] = lambda: None, *,
                 limits: Limits = DEFAULT_LIMITS, report: Report | None = None) -> None:
        self.view = view
        self.filter = view.filter
        self.workers = workers
        self.send = send
        self.read = read
        self.version = version
        self.deliver: Callable[[list[FlowEvent]], None] | None = None
        self.seq = 0
        self.tags: deque[int] = deque()
        self.lost: dict[int, OSError] = {}
        self._owner: dict[int, int] = {}  # connection id -> worker, until its Closed event
        self._next = 0
        self._boxes: list[list] = [[] for _ in range(workers)]
        self._box_events = [0] * workers
        self._box_bytes = [0] * workers
        self._sent = [0] * workers
        self._writer = BatchWriter()
        # (what a table with normalize=False leaves to the writing process, with the same limits)
        self.normalizing = Normalizing(limits=limits, report=report)

    def host(self, conn) -> str | None:
        return self.view.host(conn)

    def _assign(self) -> int:
        """The next other worker that is not behind, else worker 0 (this one): the work balances
        itself whatever the outputs cost (which worker writes a connection never changes the bytes)."""
        others = self.workers - 1
        for _ in range(others):
            self._next = self._next % others + 1
            k = self._next
            if k not in self.lost and self._sent[k] - self.read[k] < BACKLOG_BYTES:
                return k
        return 0

    def process(self, events: list[FlowEvent]) -> list[FlowEvent]:
        out: list[FlowEvent] = []
        groups: dict[int, list] = {}  # worker -> its events of this list
        owner, sizes = self._owner, self._box_bytes
        self.view.new_list()
        seq, held = self.seq, self.view.report.held
        for event in events:
            seq += 1
            conn_id = event.conn.id
            k = owner.get(conn_id)
            if k is None:
                k = owner[conn_id] = self._assign()
            kind = type(event)
            if kind is Closed:
                del owner[conn_id]  # (a connection's events end with it: the table numbers a new one anew)
            elif kind is Captured:
                sizes[k] += len(event.payload)
            elif kind is Chunk:
                sizes[k] += len(event.raw) + len(event.wire)
            if k and held and conn_id in held:  # (what this table said of it waits for the filters of worker k)
                groups.setdefault(k, []).append((seq, Warned(event.conn, tuple(held.pop(conn_id)))))
            if k in groups:
                groups[k].append((seq, event))
            else:
                groups[k] = [(seq, event)]
        self.seq, sizes[0] = seq, 0  # (worker 0's own events are not batched)
        own = groups.pop(0, None)
        if own is not None:
            out = _hand_on(own, self.normalizing.take, self.view.add, out, self.tags, self.deliver,
                           self.normalizing.report)
        for k, group in groups.items():
            self._boxes[k].append((self.version(), group))
            self._box_events[k] += len(group)
            if self._box_events[k] >= BATCH_EVENTS or sizes[k] >= BATCH_BYTES:
                self._ship(k)
        return out

    def _ship(self, k: int) -> None:
        box = self._boxes[k]
        self._boxes[k], self._box_events[k], self._box_bytes[k] = [], 0, 0
        if k in self.lost:
            return
        data = self._writer.pack(box)
        try:
            self.send(k, data)
        except OSError as exc:  # the worker is gone
            self.lost[k] = exc
            return
        self._writer.delivered()
        self._sent[k] += len(data)

    def finish(self) -> list[FlowEvent]:
        """Sends what is batched, then the end (``send(k, b"")``) to every other worker."""
        for k in range(1, self.workers):
            if self._boxes[k]:
                self._ship(k)
            if k not in self.lost:
                try:
                    self.send(k, b"")
                except OSError as exc:
                    self.lost[k] = exc
        got = self.view.finish()
        self.tags.extend([END] * len(got))
        return got


class ShardFeed:
    """Worker ``k`` (> 0): the batches :class:`Dispatcher` sends, through the worker's own view
    to its :class:`Recorder` (:attr:`tags`: the numbers, as :class:`Dispatcher` keeps them)."""

    def __init__(self, view, *, limits: Limits = DEFAULT_LIMITS, report: Report | None = None) -> None:
        self.view = view
        self.tags: deque[int] = deque()
        self.version: str | None = None  # the eCapture version as of the event being handled
        self._reader = BatchReader()
        self.normalizing = Normalizing(limits=limits, report=report)

    def batch(self, data: bytes, handle_events: Callable[[list[FlowEvent]], None]) -> None:
        """Each list of the batch to ``handle_events`` (:meth:`Recorder.handle_events`), whole."""
        view, tags, take = self.view, self.tags, self.normalizing.take
        add = view.add
        for version, group in self._reader.unpack(data):
            self.version = version
            view.new_list()
            out = _hand_on(group, take, add, [], tags, handle_events, self.normalizing.report)
            if out:
                handle_events(out)

    def finish(self, handle_events: Callable[[list[FlowEvent]], None]) -> None:
        got = self.view.finish()
        if got:
            self.tags.extend([END] * len(got))
            handle_events(got)


class EntryLog:
    """Stands in for :class:`~ecq2pcap.sinks.har.writer.HarWriter` in a worker: every entry
    encoded as the writer would, each preceded by ``,\\n``, appended to ``out`` through a
    :class:`~ecq2pcap.sinks.units.UnitWriter`, so that a failed write leaves whole entries only."""

    def __init__(self, out, **_ignored) -> None:
        self._units = UnitWriter(out, buffer_size=ENTRY_BUFFER)
        self.count = 0
        self.size = 0

    @property
    def failed(self) -> OSError | None:
        return self._units.failed

    @property
    def committed(self) -> int:
        """Entries the part holds whole (:attr:`HarWriter.committed`)."""
        return self._units.written

    def write(self, entry: dict) -> None:
        data = encode_entry(entry)
        if len(data) < ENTRY_BUFFER:
            self._units.write(b",\n" + data, 1)
        else:  # (a big one, e.g. a WebSocket connection's 100 MB, not copied to join them)
            self._units.write_parts([b",\n", data], len(data) + 2, 1)
        self.size += len(data) + 2
        self.count += 1

    def commit(self, last: bytes = b"") -> None:
        self._units.flush()

    def commit_if_due(self) -> None:
        pass

    def close(self) -> None:
        self._units.flush()


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
        self.handle_events((event,))

    def handle_events(self, events: Sequence[FlowEvent]) -> None:
        """A list of events (numbered by :attr:`tags`, in order), each stretch of consecutive numbers
        handed to the sinks at once: a sink writes a list as one unit (per event, the pcapng sink's
        and the HAR sink's own steps were ~10 % of a worker's time), and runs are cut between stretches."""
        tags, n, i = self.tags, len(events), 0
        while i < n:
            seq = tags.popleft()
            if self._start is None or seq > self._last + 1 or self._big():
                self._close_run()
                self._start = seq
            j = i + 1
            while j < n and tags[0] == seq + 1:
                seq = tags.popleft()
                j += 1
            self._last = seq
            self._deliver(events[i:j] if i or j < n else events)
            i = j

    def _deliver(self, events: Sequence[FlowEvent]) -> None:
        error = None
        for sink in self.sinks:
            try:
                sink.handle_events(events)
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
    out, dropped = [], 0
    for pos, kind, length in _blocks(data):
        if kind == NRB_TYPE:
            rtype, rlen = _REC.unpack_from(data, pos + 8)
            address = bytes([rtype]) + data[pos + 12:pos + 12 + (4 if rtype == 1 else 16)]
            if address in named:
                dropped += 1
                continue
            named.add(address)
        out.append(data[pos:pos + length])
    return b"".join(out), dropped


def whole_blocks(data: bytes) -> bytes:
    """The whole pcapng blocks at the start of ``data`` (a worker's part that ended early)."""
    end = 0
    for pos, _, length in _blocks(data):
        end = pos + length
    return data[:end]


def _blocks(data: bytes):
    """``(offset, type, length)`` of each whole block at the start of ``data``."""
    pos = 0
    while pos + 8 <= len(data):
        kind, length = _BLOCK.unpack_from(data, pos)
        if length < 12 or pos + length > len(data):
            return
        yield pos, kind, length
        pos += length


def whole_entries(data: bytes) -> tuple[bytes, int]:
    """``data`` (a worker's HAR part that ended early: whole entries, see :class:`EntryLog`) and
    how many entries it holds: each is preceded by ``,\\n``, and an encoded entry holds no
    newline byte."""
    return data, data.count(b"\n")
