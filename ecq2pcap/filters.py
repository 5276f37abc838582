"""Which connections are converted: ``--pid``, ``--comm``, ``--host``, ``--port`` (sans-IO).

A connection is kept or dropped whole. Repeating an option widens it (any of the
values), different options narrow it (all of them):
``--comm curl --comm wget --port 443`` keeps curl's and wget's connections on port 443.

* ``--pid N``: the captured process id.
* ``--comm NAME``: the process name as eCapture reports it (15 characters at most);
  shell wildcards (``--comm 'python*'``).
* ``--host H``: an IP address of either end, or the host name the client asked for
  (HTTP/1 ``Host``, HTTP/2 ``:authority``), case-insensitive, with wildcards
  (``--host '*.example.com'``).
* ``--port N``: the real port of either end (before ``--port-map``).

:class:`ConnectionView` sits between the connection table and the sinks: it learns
each connection's host name from its first request and applies the filter. A
connection whose host name is needed waits (its events held back) until the first
request head is complete, or its end. Without a filter the names only serve the
pcapng's Name Resolution Blocks, which name a server address once: a connection to
an address named in an earlier list of events is not read for its own name. With a
filter, the warnings about one connection (eCapture's losses in it, the open limit
ending it) wait for its decision: those of a connection left out are counted apart.
"""

from __future__ import annotations

import argparse
import ipaddress
from dataclasses import dataclass
from fnmatch import fnmatchcase

from .model import Chunk, Closed, Connection, Direction, FlowEvent, Warned
from .payloads.authority import AuthorityFinder
from .flows.normalize import made_up_bytes
from .report import Count, Report

__all__ = ["ConnectionFilter", "ConnectionView", "add_filter_args", "filter_from_args"]

MAX_HELD_EVENTS = 256  # a connection still undecided after this many events is decided without a name
MAX_NAMED_ADDRESSES = 16_384  # server addresses whose name is kept (then forgotten together, and learned again)


def _ip(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text.strip("[]")))
    except ValueError:
        return None


_C2S = Direction.C2S  # (Enum members cost ~0.15 µs to read on Python 3.11; aliases ~0.02)
_NEW = object()  # (a connection not read yet)


@dataclass(frozen=True)
class ConnectionFilter:
    pids: frozenset[int] = frozenset()
    comms: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()  # lower case; IP literals normalized
    ports: frozenset[int] = frozenset()

    @classmethod
    def build(cls, pids=(), comms=(), hosts=(), ports=()) -> "ConnectionFilter":
        return cls(frozenset(pids), tuple(comms), tuple(_ip(h) or h.lower() for h in hosts), frozenset(ports))

    @property
    def active(self) -> bool:
        return bool(self.pids or self.comms or self.hosts or self.ports)

    def matches(self, conn: Connection, name: str | None, name_final: bool = True) -> bool | None:
        """True/False, or None when only the host name (not known yet) can tell."""
        if self.pids and conn.pid not in self.pids:
            return False
        if self.comms and not any(fnmatchcase(conn.comm, c) for c in self.comms):
            return False
        if self.ports and conn.client[1] not in self.ports and conn.server[1] not in self.ports:
            return False
        if not self.hosts:
            return True
        addresses = {_ip(conn.client[0]) or conn.client[0], _ip(conn.server[0]) or conn.server[0]}
        for pattern in self.hosts:
            if any(fnmatchcase(a, pattern) for a in addresses):
                return True
            if name is not None and fnmatchcase(name, pattern):
                return True
        return False if (name is not None or name_final) else None

    def leaves_out(self, conn: Connection) -> bool:
        """Whether ``conn`` is left out whatever host name its requests give (its pid, comm or port)."""
        return self.matches(conn, None, False) is False

    def describe(self) -> str:
        parts = [f"--pid {p}" for p in sorted(self.pids)] + [f"--comm {c}" for c in self.comms]
        parts += [f"--host {h}" for h in self.hosts] + [f"--port {p}" for p in sorted(self.ports)]
        return " ".join(parts)


class _State:
    __slots__ = ("conn", "finder", "keep", "held")

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.finder = AuthorityFinder()
        self.keep: bool | None = None
        self.held: list[FlowEvent] = []


class ConnectionView:
    """Learns each connection's requested host name and keeps or drops connections whole.

    ``process(events)`` takes the flow table's events and returns those to hand to
    the sinks, in order (events of a connection waiting for its host name come out
    later, together). :meth:`host` gives a connection's name while its events are
    being handed on. ``names``: a sink asks for them (the pcapng's Name Resolution
    Blocks); without it, only ``--host`` makes the view read requests.
    """

    def __init__(self, flt: ConnectionFilter | None = None, report: Report | None = None, *,
                 names: bool = True) -> None:
        self.filter = flt if flt is not None and flt.active else None
        self.report = report if report is not None else Report()
        if self.filter is not None and self.report.held is None:
            self.report.held = {}  # (warnings about a connection wait for its decision: Report.decided)
        self._read = names or self.filter is not None and bool(self.filter.hosts)  # requests are read for names
        # by connection id: a convert -j worker gets a copy of a Connection with each batch of events
        self._states: dict[int, _State] = {}  # (with a filter)
        self._finders: dict[int, AuthorityFinder | None] = {}  # (without: None once done)
        self._names: dict[int, str] = {}
        self._ended: list[int] = []
        # without a filter (every connection's events reach the sinks), a connection to a server address named in
        # an earlier list is not read (see _needed): those addresses and their names; those named in the current list
        self._skip = self.filter is None and names
        self._named: dict[str, str] = {}
        self._learned: list[tuple[str, str]] = []

    def host(self, conn: Connection) -> str | None:
        """The host name ``conn``'s client asked for; for a connection to an address named in an earlier list
        (not read for its own: see :meth:`_needed`), the address's name."""
        name = self._names.get(conn.id)
        if name is None and self._skip:
            return self._named.get(conn.server[0])
        return name

    def process(self, events: list[FlowEvent]) -> list[FlowEvent]:
        self.new_list()
        if self.filter is None:  # every event handed on as it comes
            if self._read:
                self._see(events)
            return events
        out: list[FlowEvent] = []
        for event in events:
            self.add(event, out)
        return out

    def new_list(self) -> None:
        """A new list of events begins: the names of connections that ended in the last one go
        (the sinks have handled that list by now), the addresses named in it are named."""
        for conn_id in self._ended:
            self._names.pop(conn_id, None)
        self._ended.clear()
        if self._learned:
            named = self._named
            if len(named) + len(self._learned) > MAX_NAMED_ADDRESSES:
                named.clear()  # (forgotten together: their connections are read again)
            for address, name in self._learned:
                named.setdefault(address, name)
            self._learned.clear()

    def _needed(self, conn: Connection) -> bool:
        """Whether ``conn``'s client→server bytes are read for its name: not when none is asked for, nor
        (without a filter) when its server address was named in an earlier list. Every event of such a list
        has reached the pcapng sink, which asked for the names of their connections: the connection whose
        name was learned has named the address there, and a Name Resolution Block names an address once,
        so this connection's own name would name nothing (~23k instructions a connection not spent)."""
        return self._read and not (self._skip and conn.server[0] in self._named)

    def _learn(self, conn: Connection, finder: AuthorityFinder, wire: bytes) -> None:
        """Client→server bytes of ``conn`` to its finder; the name, once found, kept."""
        name = finder.feed(wire)
        if name is not None:
            self._names[conn.id] = name
            if self._skip and name != conn.server[0]:  # (an address as its own name names nothing)
                self._learned.append((conn.server[0], name))

    def _see(self, events: list[FlowEvent] | tuple[FlowEvent, ...]) -> None:
        """:meth:`add`'s work without a filter (every event is handed on), for each of ``events`` (a call for a
        whole list): the names read while needed."""
        finders, skip, named = self._finders, self._skip, self._named
        for event in events:
            if type(event) is Chunk:
                if event.direction is not _C2S:
                    continue
                conn = event.conn
                finder = finders.get(conn.id, _NEW)
                # (None: its name was read, a keep-alive's next requests; then not _needed, without its call: the
                # names are read here)
                if finder is None or skip and conn.server[0] in named:
                    continue
                if finder is _NEW:
                    finder = finders[conn.id] = AuthorityFinder()
                self._learn(conn, finder, event.wire)
                if finder.done:
                    finders[conn.id] = None
            elif type(event) is Closed:
                finders.pop(event.conn.id, None)
                self._ended.append(event.conn.id)

    def add(self, event: FlowEvent, out: list[FlowEvent]) -> None:
        """One event of the current list: appends what to hand on now to ``out``."""
        if self.filter is None:
            if self._read:
                self._see((event,))
            out.append(event)
            return
        conn = event.conn
        st = self._states.get(conn.id)
        if st is None:
            st = self._states[conn.id] = _State(conn)
        if type(event) is Warned:  # (convert -j: what the first process's table said of it, decided here)
            self.report.held.setdefault(conn.id, []).extend(event.warnings)
            if st.keep is not None:
                self.report.decided(conn.id, st.keep)
            return
        if type(event) is Chunk and event.direction is _C2S and not st.finder.done and self._needed(conn):
            self._learn(conn, st.finder, event.wire)
        closed = type(event) is Closed
        if st.keep is None:
            st.keep = self._decide(conn, st, closed)
            if st.keep is None:
                st.held.append(event)
                return
            if st.keep:
                out.extend(st.held)
            else:
                self.report.count(Count.FILTERED_CONNECTIONS)
                self._left_out(st.held)
            st.held = []
        held = self.report.held
        if held and conn.id in held:
            self.report.decided(conn.id, st.keep)
        if st.keep:
            out.append(event)
        elif type(event) is Chunk and not event.raw:
            self._left_out((event,))
        if closed:
            del self._states[conn.id]
            self._ended.append(conn.id)

    def finish(self) -> list[FlowEvent]:
        """End of input: decide every connection still waiting (their events, if kept)."""
        out: list[FlowEvent] = []
        for st in list(self._states.values()):
            if st.keep is None:
                st.keep = self._decide(st.conn, st, True)
                if st.keep:
                    out.extend(st.held)
                else:
                    self.report.count(Count.FILTERED_CONNECTIONS)
                    self._left_out(st.held)
                st.held = []
            self.report.decided(st.conn.id, st.keep)
        for conn_id in list(self.report.held or ()):  # (none: each was decided with its connection; said if one is)
            self.report.decided(conn_id, True)
        return out

    def _left_out(self, events) -> None:
        """The zeros made up for frames' rests eCapture lost in events of a connection the filters left out: counted
        apart (the summary's "made up" line pointed to packet comments that were not written)."""
        for event in events:
            if type(event) is Chunk:
                self.report.counts[Count.MADE_UP_FILTERED] += made_up_bytes(event)

    def _decide(self, conn: Connection, st: _State, final: bool) -> bool | None:
        assert self.filter is not None  # (without one every event is handed on: see add)
        final = final or st.finder.done or len(st.held) >= MAX_HELD_EVENTS
        return self.filter.matches(conn, st.finder.name, final)


# ---------------------------------------------------------------------------- command line


def _split(kind):
    def parse(text: str):
        values = [v.strip() for v in text.split(",") if v.strip()]
        if not values:
            raise argparse.ArgumentTypeError("empty value")
        try:
            return [kind(v) for v in values]
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a valid value: {text!r}") from None

    return parse


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise ValueError(text)
    return value


def add_filter_args(cmd: argparse.ArgumentParser) -> None:
    """``--pid/--comm/--host/--port``: repeatable, comma lists allowed."""
    g = cmd.add_argument_group(
        "selecting connections (repeat an option, or give a comma list, for any of several values; different "
        "options must all match)")
    g.add_argument("--pid", action="extend", type=_split(int), metavar="PID", default=[],
                   help="only connections of this process id")
    g.add_argument("--comm", action="extend", type=_split(str), metavar="NAME", default=[],
                   help="only connections whose opening thread has this name (eCapture's comm; wildcards "
                   "allowed: 'python*')")
    g.add_argument("--host", action="extend", type=_split(str), metavar="HOST", default=[],
                   help="only connections with this IP address at either end, or whose requests name this "
                   "host (HTTP Host / :authority; wildcards allowed: '*.example.com')")
    g.add_argument("--port", action="extend", type=_split(_port), metavar="PORT", default=[],
                   help="only connections with this real port at either end")


def filter_from_args(args: argparse.Namespace) -> ConnectionFilter:
    return ConnectionFilter.build(getattr(args, "pid", ()), getattr(args, "comm", ()),
                                  getattr(args, "host", ()), getattr(args, "port", ()))
