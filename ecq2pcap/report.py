"""Counters, warnings and skipped-input diagnostics shared by all stages.

Stages never print: they tell a :class:`Report`, and the CLI decides what the user
sees (the ``FILE:LINE: reason`` lines and the end-of-run summary).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Callable

from .limits import LIMIT_FLAGS, limits_in, shortened
from .memo import Memo


def _flags(key: tuple[str, str]) -> tuple[str, ...]:
    """The limits a warning (reason, detail) says bit."""
    reason, detail = key
    return tuple(limits_in(f"{reason} {detail}" if detail else reason))


OPEN_LIMIT_FLAG = LIMIT_FLAGS["open_connections"]
_FLAGS = Memo(_flags, max_entries=256, max_size=1024, size=lambda key: len(key[0]) + len(key[1]))


class Count:
    """Every counter of a run (the summary's figures). Counting or reading a name that is not
    one of these raises, so a misspelt counter cannot silently read zero.

    Plain strings, not an Enum: on Python 3.11 reading an Enum member (``Count.EVENTS``) costs
    ~0.15 µs, and the hot path counts several times per event."""

    MESSAGES = "messages"
    EVENTS = "events"
    PROCESS_LOGS = "process_logs"
    HEARTBEATS = "heartbeats"
    ANNOTATIONS = "annotations"
    CONNECT_LINES = "connect_lines"
    DESTROY_LINES = "destroy_lines"
    PAYLOAD_BYTES = "payload_bytes"
    CONNECTIONS = "connections"
    FILTERED_CONNECTIONS = "filtered_connections"
    PACKETS = "packets"
    HAR_ENTRIES = "har_entries"
    SKIPPED = "skipped"
    INTERNAL_ERRORS = "internal_errors"
    BROKEN_INPUTS = "broken_inputs"
    LATE_EVENTS = "late_events"
    OUT_OF_ORDER = "out_of_order"  # captures placed before others already written (the pcapng goes back in time)
    STALE_REEMITS = "stale_reemits"
    BEFORE_TUPLE_PLACED = "before_tuple_placed"
    BEFORE_TUPLE_SPLIT = "before_tuple_split"
    BEFORE_TUPLE_UNPLACED = "before_tuple_unplaced"
    NAMES = "names"
    TUPLE_SHARED = "tuple_shared"  # connections shown from another client port: their 4-tuple was open (client_ports)
    MADE_UP_FILTERED = "made_up_filtered"  # bytes of report.made_up in connections the filters left out
    # connections --max-connections ended (the idlest of too many open; those a later capture went on with are the
    # warnings OPEN_LIMIT_PARTED), and of them those forgotten before it could (too many ended at once: flows.lifecycle)
    ENDED_EARLY = "ended_early"
    ENDED_UNTOLD = "ended_untold"
    ECAPTURE_DROPPED = "ecapture_dropped"  # events eCapture's log says its perf buffer dropped (pipeline._dropped)


# in Report.held: a capture written after later ones (Report.late), not a warning
LATE = (Count.OUT_OF_ORDER, "", "")
OPEN_LIMIT_PARTED = "connection ended early (too many open)"  # the warning: a later capture of one went on
ENDED = (Count.ENDED_EARLY, "", "")  # the same for a connection the open limit ended (Report.ended_early)
MAX_DETAIL = 2000  # the characters of a warning's detail shown on its line
_COUNTS = frozenset(v for k, v in vars(Count).items() if k.isupper())


class Tally(dict):
    """Numbers by key, as a :class:`collections.Counter` is used here (a missing key reads 0; :meth:`add`,
    :meth:`most_common`) but a plain dict to write: Counter defines ``__delitem__``, which routes every
    ``counter[key] = n`` through a Python-level slot (an increment ~1.7k instructions against ~0.7k), and a run
    counts several times an event."""

    def __missing__(self, key):
        return 0

    def add(self, other: Mapping) -> None:
        """Add ``other``'s numbers (``Counter.update``)."""
        for key, n in other.items():
            self[key] += n

    def most_common(self) -> list[tuple]:
        """Largest first; ties in the order counted (``Counter.most_common()``)."""
        return sorted(self.items(), key=itemgetter(1), reverse=True)


class Counts(Tally):
    """A :class:`Tally` of :class:`Count` names only."""

    def __missing__(self, key):
        if key not in _COUNTS:
            raise KeyError(f"not a counter: {key!r}")
        return 0


@dataclass
class Report:
    counts: Counts = field(default_factory=Counts)
    # "things we could not represent or chose to change", grouped by reason
    warnings: Tally = field(default_factory=Tally)
    # events that are not TLS data, by kind (bash, sql, masterkey, ...)
    annotation_kinds: Tally = field(default_factory=Tally)
    # resource limits that bit, by flag (--max-body-size, ...): see ecq2pcap.limits
    limits: Tally = field(default_factory=Tally)
    # bytes made up as zeros for the lost rests of frames (the flow table hands them on a batch at a time)
    made_up: int = 0
    # with filters (--pid, --comm, --host, --port): warnings about one connection, by its id, until the filters decide
    # it (ConnectionView): then said, or counted in :attr:`left_out` (None: said at once, as without filters)
    held: dict[int, list[tuple[str, str, str]]] | None = None
    # warnings about connections the filters left out, by reason: not in the outputs, said apart in the summary
    left_out: Tally = field(default_factory=Tally)
    annotations_path: str | None = None  # where they were written, for the summary
    annotations_failed: bool = False  # that file could not be written (the summary says so, not "written to")
    # called for each diagnostic line (origin: reason); the CLI prints to stderr
    emit: Callable[[str], None] | None = None
    max_lines_per_reason: int = 20
    # a -j worker's lines, (origin, text, detail, key, prefix) under its own cap, for worker 0 to say (say_relayed)
    relayed: list | None = None
    _lines_per_reason: Tally = field(default_factory=Tally)
    _last_line: dict = field(default_factory=dict)  # reason -> the line shown last for it

    def count(self, name: str, n: int = 1) -> None:
        self.counts[name] += n  # (a name not counted yet is looked at by Counts.__missing__)

    def count_limits(self, reason: str, detail: str = "") -> None:
        """Count the limits a note made with :func:`~ecq2pcap.limits.limit_note` says bit in ``reason`` and
        ``detail`` (:meth:`skip` and :meth:`warn` do it for theirs; what a pair says is kept: the same warning
        comes again and again, e.g. the open limit's for every connection it ends)."""
        key = (reason, detail)
        for flag in _FLAGS.known.get(key) or _FLAGS.miss(key):
            self.limits[flag] += 1

    def skip(self, origin: str, reason: str) -> None:
        """A message that could not be used at all: counted and shown."""
        self.counts[Count.SKIPPED] += 1
        self.count_limits(reason)
        self._say(origin, reason, "", reason)

    def warn(self, reason: str, origin: str = "", detail: str = "", conn: int | None = None) -> None:
        """Something kept but changed, incomplete or unrepresentable; ``conn``: the id of the one connection it is
        about, whose warnings wait for the filters' decision (:attr:`held`, :meth:`decided`)."""
        if conn is not None and self.held is not None:
            self.held.setdefault(conn, []).append((reason, origin, detail))
            return
        self.warnings[reason] += 1
        self.count_limits(reason, detail)
        self._say(origin, reason, detail, reason, prefix="warning: ")

    def late(self, conn: int) -> None:
        """A capture of connection ``conn`` written after later ones (:attr:`Count.OUT_OF_ORDER`); with filters,
        counted once they keep ``conn`` (:meth:`decided`): a connection left out is in no pcapng."""
        if self.held is not None:
            self.held.setdefault(conn, []).append(LATE)
        else:
            self.counts[Count.OUT_OF_ORDER] += 1

    def ended_early(self, conn: int) -> None:
        """Connection ``conn`` was ended by the open limit (:attr:`Count.ENDED_EARLY`, and the limit counted); with
        filters, once they keep ``conn`` (:meth:`decided`). Not a warning: a later capture of it is
        (``flows.lifecycle``)."""
        if self.held is not None:
            self.held.setdefault(conn, []).append(ENDED)
        else:
            self.counts[Count.ENDED_EARLY] += 1
            self.limits[OPEN_LIMIT_FLAG] += 1

    def decided(self, conn: int, kept: bool) -> None:
        """The filters kept connection ``conn`` (its held warnings are said) or left it out (they are counted apart:
        a user who filtered is not told, as if it were in the files, of traffic that is not)."""
        for reason, origin, detail in self.held.pop(conn, ()) if self.held else ():
            if reason == Count.OUT_OF_ORDER:  # (LATE, also as convert -j sends it: not a warning)
                if kept:
                    self.counts[Count.OUT_OF_ORDER] += 1
            elif reason == Count.ENDED_EARLY:  # (ENDED, likewise)
                if kept:
                    self.counts[Count.ENDED_EARLY] += 1
                    self.limits[OPEN_LIMIT_FLAG] += 1
            elif kept:
                self.warn(reason, origin, detail)
            else:  # (by reason, and the limit it names: the flag is what a user would raise)
                flags = limits_in(detail)
                self.left_out[f"{reason} (limit: {', '.join(flags)})" if flags else reason] += 1

    def _say(self, origin: str, text: str, detail: str, key: str, prefix: str = "") -> None:
        """Show ``text`` (and ``detail``) unless ``key`` has been shown often enough already, or its last line
        was this very line. (The line is made only while shown: a warning repeated for every connection,
        e.g. the open limit's, then costs a counter.)"""
        if self.emit is None and self.relayed is None:
            return
        self._lines_per_reason[key] += 1
        n = self._lines_per_reason[key]
        if self.relayed is not None:
            if n <= self.max_lines_per_reason + 1:  # (one more: worker 0 then knows that more followed)
                self.relayed.append((origin, text, detail, key, prefix))
            return
        if n <= self.max_lines_per_reason:
            detail = shortened(detail, MAX_DETAIL)  # (a line a terminal shows: what a hostile input put in it is cut)
            line = f"{origin + ': ' if origin else ''}{prefix}{text}{': ' + detail if detail else ''}"
            if self._last_line.get(key) != line:  # (the same line again says nothing new: the summary counts it)
                self._last_line[key] = line
                self.emit(line)
        elif n == self.max_lines_per_reason + 1:
            self.emit(f"{prefix}(further '{key}' messages are counted in the summary only)")

    def say_relayed(self, relayed: list) -> None:
        """Say the lines another process kept in its :attr:`relayed` (its counts are added apart), under this
        report's own cap: a -j run says no more lines of a reason than one process does, each line whole."""
        for origin, text, detail, key, prefix in relayed:
            self._say(origin, text, detail, key, prefix)
