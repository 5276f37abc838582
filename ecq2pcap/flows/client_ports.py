"""Which client address and port a connection is shown from, decided when it opens, among the connections open then.

Wireshark tells TCP streams apart by their 4-tuple only. Two connections open at once on one 4-tuple are one socket
seen twice: one process holding it under two fds (``dup()``), two processes sharing it (a worker forked with it),
both ends of a loopback connection captured, or v2 connect lines giving one tuple to two fds. eCapture reports them
under different uuids and ecq2pcap keeps them apart (one connection per (pid, fd, tuple)); written on one 4-tuple,
Wireshark would read a second SYN in the middle of an open stream and mix the two. So the one that opens while the
other is open is shown from another client port (:data:`MOVED_FIRST` up): its SYN's comment says the real one and
why (``Connection.shown_client_port``, ``Connection.same_tuple_as``). A tuple used again after its connection closed
is no clash (the first's FIN comes before the second's SYN, as in a real capture).

Two open connections from one client address and port to one server address on two server ports keep their real
server ports when the port map would show both on one (``Connection.keep_port``).

A mixin of :class:`~.table.ConnectionTable` (its ``_from`` and ``_moved_next``); the decision is the table's, made
once (``convert -j`` workers, live and convert alike: it depends on which connections are open, which the data
decides, not on when events arrived).
"""

from __future__ import annotations

from ..report import Count
from .state import ConnState

# the ports a connection whose 4-tuple was open is shown from: above Linux's default ephemeral range (32768-60999),
# so that real client ports are seldom among them, and above any server port Wireshark would try first
MOVED_FIRST, MOVED_LAST = 61000, 65535
_MOVED = MOVED_LAST - MOVED_FIRST + 1


class ClientPorts:
    def _client_port(self, c: ConnState) -> tuple[bool, int, int]:
        """``c`` opens while another is open from its client address and port (the table looked: the common case,
        none, takes no call): (keep_port, the client port shown instead of its real one or 0, the id of the
        connection open on its 4-tuple or 0); ``c`` joins the open connections by the client address and port it is
        shown from."""
        other = self._from[c.client]
        others = other if type(other) is list else [other]
        server = c.server
        same = next((o for o in others if o.server == server), None)
        if same is None:
            keep = any(o.server[0] == server[0] for o in others)  # (another port of its server: keep_port)
            self._join(c, c.client)
            return keep, 0, 0
        # the next port of the cycle from which no open connection goes to its server's address (none at all: then
        # neither a 4-tuple nor a port the map would show alike is shared, and keep_port is not needed)
        ip, at = c.client[0], self._moved_next
        for _ in range(_MOVED):
            port = MOVED_FIRST + at
            at = (at + 1) % _MOVED
            there = self._from.get((ip, port))
            if there is None:
                break
            if not any(o.server[0] == server[0] for o in (there if type(there) is list else [there])):
                break
        else:  # (4,536 connections from one address to one server open at once: shown on their real tuple)
            self._join(c, c.client)
            return False, 0, 0
        self._moved_next = at
        self.report.count(Count.TUPLE_SHARED)
        self._join(c, (ip, port))
        return False, port, same.conn.id if same.conn is not None else 0

    def _join(self, c: ConnState, key: tuple[str, int]) -> None:
        """``c`` shown from ``key`` (client address and port), among the connections open from it."""
        c.shown_from = key
        there = self._from.get(key)
        if there is None:
            self._from[key] = c
        elif type(there) is list:
            there.append(c)
        else:
            self._from[key] = [there, c]

    def _client_port_closed(self, c: ConnState) -> None:
        """``c`` closes: it leaves the open connections by the client address and port it was shown from."""
        key = c.shown_from
        other = self._from.get(key)
        if other is c:
            del self._from[key]
        elif type(other) is list and c in other:
            other.remove(c)
            if not other:  # (else each client port that once had two open would stay, for ever)
                del self._from[key]
