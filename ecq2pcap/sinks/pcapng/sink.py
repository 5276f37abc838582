"""The pcapng sink: flow events → synthesized TCP packets with process comments.

Each connection becomes a complete TCP conversation (handshake, data, an ACK after
every chunk, FIN exchange) so Wireshark's stream reassembly and tcp analysis work as
on a real capture. What eCapture told us about the bytes (pid, tid, comm, fd, uuid,
event type, where in the input it came from, what was repaired) rides in packet
comments (``frame.comment``); the captured process's sends are marked outbound
(``frame.packet_flags_direction``).
"""

from __future__ import annotations

import zlib
from functools import partial
from typing import BinaryIO, Callable

from ...limits import DEFAULT_LIMITS, limit_note
from ...memo import Memo
from ...model import Chunk, Closed, Connection, Direction, Opened, Protocol
from ...payloads.h2 import PREFACE
from ...payloads.h2.alignment import H2Framing
from ...payloads.websocket_frames import WsFraming, websocket_start
from ...report import Count, Report
from .blocks import FLAG_INBOUND, FLAG_OUTBOUND, LINKTYPE_ETHERNET, LINKTYPE_RAW, interface_description, section_header
from .comments import NOT_WRITTEN as _NOT_WRITTEN, UNREPAIRED as _UNREPAIRED, WHAT as _WHAT, WHO as _WHO, open_facts
from .names import NameBook
from .ports import PortMap, opening_ports
from .packets import PacketBlocks, packet_blocks
from .resume import H2_RESUME, WS_NOTE, WS_REQUEST, FrameFollower, continuation
from .tcp import MAX_MSS
from ..units import UnitWriter

LINK_TYPES = {"ether": LINKTYPE_ETHERNET, "raw": LINKTYPE_RAW}
IF_DESCRIPTION = "eCapture TLS plaintext on synthesized TCP/IP (ecq2pcap)"

_HTTP2, _C2S, _S2C = Protocol.HTTP2, Direction.C2S, Direction.S2C  # (Enum members: ~0.15 µs to read on 3.11)
_LABELS, _NUL = tuple(d.label for d in Direction), "\0"
_CLIENT_FLAGS, _SERVER_FLAGS = (FLAG_OUTBOUND, FLAG_INBOUND), (FLAG_INBOUND, FLAG_OUTBOUND)  # (see _open)
_H2_RESUME, _WS_REQUEST, _WS_NOTE = H2_RESUME, WS_REQUEST, WS_NOTE  # (read on the per-chunk line)
_LARGE = 4096  # a payload written without a copy (PacketBlocks.data_block_parts, UnitWriter.write_parts)


class _Conn:
    __slots__ = ("conn", "flow", "flags", "last_ns", "resume", "owed", "frames", "carried")

    def __init__(self, conn: Connection, flow: PacketBlocks | None, flags: tuple[int, int], last_ns: int):
        self.conn = conn
        self.flow = flow  # PacketBlocks, or the C one (packets.packet_blocks); None: not synthesized (said once)
        self.flags = flags  # epb_flags for packets sent C2S, S2C
        self.last_ns = last_ns  # time of the connection's latest packet: times never go back
        # (client→server bytes, server→client bytes, their comment) a continuation in a new file starts with, so that
        # Wireshark reads what follows as it did: HTTP/2's preface, a WebSocket upgrade (None: nothing needed)
        self.resume: tuple[bytes, bytes, str] | None = None
        self.owed: int | None = None  # the side whose ACK of its peer's latest data is not written yet
        self.frames: FrameFollower | None = None  # where its HTTP/2 or WebSocket frames are (ring buffers only)
        self.carried: str | None = None  # open at a file change (its note): continued in the new file at its next data


class PcapngSink:
    """Writes flow events as pcapng to ``out`` (a binary file object it never closes).

    ``link_type`` "ether" (Ethernet frames) or "raw" (bare IP); ``mss`` caps the
    payload per segment; ``port_map`` picks the shown server port (default
    :class:`PortMap`\\ ()); ``raw_payload`` writes eCapture's bytes (``Chunk.raw``)
    instead of the framing-repaired ``Chunk.wire``; ``flush_each_event`` flushes after
    every event, for a live ``| wireshark -k -i -`` (and so that a killed run leaves every
    event on disk). Otherwise events are buffered; :meth:`finish` flushes. ``follow_frames`` (ring buffers): where
    each HTTP/2 and WebSocket connection is in its frames is followed, so that :meth:`rotate` can make the rest of a
    frame it cuts a frame of its own (:mod:`.resume`).

    A write error (disk full) is raised once; the file then ends after the last whole
    event's blocks and the sink writes nothing more (see :class:`~ecq2pcap.sinks.units.UnitWriter`).
    """

    def __init__(
        self,
        out: BinaryIO,
        *,
        link_type: str = "ether",
        mss: int = MAX_MSS,
        port_map: PortMap | None = None,
        raw_payload: bool = False,
        flush_each_event: bool = False,
        report: Report | None = None,
        hosts: Callable[[Connection], str | None] | None = None,
        max_names: int = DEFAULT_LIMITS.named_addresses,
        follow_frames: bool = False,
    ):
        if link_type not in LINK_TYPES:
            raise ValueError(f"link type must be one of {', '.join(LINK_TYPES)}, not {link_type!r}")
        if not 1 <= mss <= MAX_MSS:
            raise ValueError(f"mss must be 1..{MAX_MSS}, not {mss}")
        self.out = out
        self._units = UnitWriter(out)
        self.link_type = LINK_TYPES[link_type]
        self.mss = mss
        self.port_map = port_map if port_map is not None else PortMap()
        self.raw_payload = raw_payload
        self._as_captured = " written as captured" if raw_payload else ""
        self._unsaid: dict[int, str] = {}  # --raw-payload: a connection's notes on bytes made up and not written
        self.flush_each_event = flush_each_event
        self.follow_frames = follow_frames  # (ring buffers: where HTTP/2 and WebSocket frames are, for rotate)
        self.report = report
        self.packets = 0
        self._packets_before = 0  # packets of the files before this one (ring buffers: rotate)
        self.bytes_written = 0
        self._conns: dict[int, _Conn] = {}
        self._large = False  # the blocks being made hold a block as its parts (a payload of _LARGE bytes or more)
        self._joined = min(mss, _LARGE - 1)  # (the most a one-segment payload whose block is made whole holds)
        # the host name a connection's client asked for → Name Resolution Blocks for server addresses
        self.hosts = hosts
        self.max_names = max_names
        self._facts = Memo(partial(open_facts, self.port_map), max_entries=64,
                           size=lambda key: len(key[0] or "") + len(key[1]))
        self._names = NameBook(max_names)
        self._named: set[int] = set()  # open connections whose name was looked at
        # eCapture's version for the SYN comments, once the stream told it (the pipeline sets this)
        self.ecapture_version: Callable[[], str | None] | None = None
        self._write([section_header(), interface_description(self.link_type, description=IF_DESCRIPTION)], 0)
        if not flush_each_event:
            self._units.flush()  # a valid (empty) capture from the start

    # -- sink protocol -----------------------------------------------------------------------

    def handle(self, event) -> None:
        self.handle_events((event,))

    def handle_events(self, events) -> None:
        """Several events, their blocks written as one unit (the flow table hands events on in lists:
        one write for a list instead of one an event)."""
        if self._units.failed is not None:
            return
        blocks: list[bytes] = []
        packets = 0
        named = self._named if self.hosts is not None else None
        book = self._names.names  # (a connection to an address named in the file needs no block: no _name call)
        try:
            for event in events:
                if named is not None:  # (a connection named already needs nothing until it closes)
                    if type(event) is Closed:
                        named.discard(event.conn.id)
                    elif event.conn.id not in named:
                        if event.conn.server[0] in book:
                            named.add(event.conn.id)
                        else:
                            name = self._name(event)
                            if name is not None:
                                blocks.append(name)
                if type(event) is Chunk:
                    made = self._chunk(event)
                elif type(event) is Opened:
                    made = self._open(event.conn, event.time_ns, None, origin=event.origin)
                elif type(event) is Closed:
                    made = self._close(event)
                else:
                    raise TypeError(f"PcapngSink cannot handle {type(event).__name__}")
                if made:
                    blocks += made
                    packets += len(made)
        finally:  # (what was made before an error is written all the same)
            if blocks:
                self._write(blocks, packets)
            elif self.flush_each_event:
                self._units.flush()

    def finish(self) -> None:
        """Flush. Connections without a Closed event stay open (no FIN is invented)."""
        try:
            self._units.flush()
        finally:
            self._uncount_lost()

    def _uncount_lost(self) -> None:
        """The packets counted that the file does not hold, uncounted: it could not be written (disk full) and was
        cut back to its last whole unit (the summary said packets the file did not have)."""
        lost = self.packets - self._packets_before - self._units.written  # (this file's: see rotate)
        if self._units.failed is not None and lost > 0:
            if self.report is not None:
                self.report.counts[Count.PACKETS] -= lost
            self.packets -= lost

    def write_blocks(self, data: bytes) -> None:
        """Append whole blocks made elsewhere (a ``convert -j`` worker's) as one unit; their
        packets were counted where they were made."""
        self._write([data], 0)

    def _name(self, event: Opened | Chunk) -> bytes | None:
        """Before the packets of ``event``'s connection (not named yet): an NRB naming its server, when its host
        name is known and new to the file. (--max-names is said at the capture that opened the connection, or at
        the event's own in a later ring file.)"""
        conn = event.conn
        name = self.hosts(conn)
        if name is None:
            return None
        self._named.add(conn.id)
        book = self._names
        block = book.block(conn.server[0], name)
        if self.report is not None:
            if block is not None:
                self.report.count(Count.NAMES)
            elif book.full and not book.said:
                book.said = True  # (once a file)
                note = f"more than {book.max_names:,} in one pcapng: later ones are shown as addresses"
                origin = event.origin if type(event) is Opened else event.info.origin
                self.report.warn("server addresses not named", origin, limit_note("named_addresses", note))
        return block

    def rotate(self, out: BinaryIO, note: str) -> None:
        """Go on in a new file ``out`` (ring buffers): a file tshark reads on its own.

        It starts with the section and interface headers; an open connection starts again at its
        first data in the new file, with a synthesized handshake whose sequence numbers continue the
        connection's, its SYN comment saying so (``note``: where it came from), so dissection and tcp
        analysis in the new file see a normal connection. One with no data there is not in the file
        (its FIN neither: what that FIN's comment would say is in the summary): each open connection
        was continued at once, and a keep-alive connection idle across the change, or one closed only
        at the end of the input, got a made-up handshake, preface and FIN in a file where it had
        nothing. Host names are given again.
        """
        try:
            self._units.flush()
        finally:
            self._uncount_lost()
        self._packets_before = self.packets
        self.out, self._units = out, UnitWriter(out)
        self._names, self._named = NameBook(self.max_names), set()
        self._write([section_header(), interface_description(self.link_type, description=IF_DESCRIPTION)], 0)
        for state in self._conns.values():
            if state.flow is not None and state.carried is None:  # (one idle over several changes: its packets are in
                state.carried = note  # the file named when it was first carried)
        self._units.flush()

    def _carry_on(self, state: _Conn, time_ns: int) -> list[bytes]:
        """The start of a connection open at the last file change, in the new file (see :meth:`rotate`)."""
        pieces, isns = continuation(state.resume, state.frames, state.flow)
        blocks = self._open(state.conn, max(time_ns, state.last_ns), state.carried, isns)
        new = self._conns[state.conn.id]
        new.frames = state.frames
        if state.resume and new.flow is not None:  # (each side's made-up bytes end right where it goes on)
            new.resume, t = state.resume, new.last_ns
            for sender, data, text in pieces:
                if data:
                    blocks += new.flow.data_blocks(sender, data, t, text)
        return blocks

    # -- events --------------------------------------------------------------------------------

    def _open(self, conn: Connection, time_ns: int, note: str | None,
              isns: tuple[int, int] | None = None, origin: str = "") -> list[bytes]:
        real_port = conn.server[1]
        client_port, shown_port, note = opening_ports(self.port_map, conn, note)
        # (client→server, server→client): the captured process's sends are outbound (Connection.outbound)
        flags = _CLIENT_FLAGS if conn.process_role == "client" else _SERVER_FLAGS
        if isns is None:  # each side's from the endpoints: crc32 of them and "|c" or "|s", the first part's done once
            endpoints = zlib.crc32(f"{conn.id}|{conn.client[0]}|{conn.client[1]}|{conn.server[0]}|{real_port}".encode())
            isns = (zlib.crc32(b"|c", endpoints), zlib.crc32(b"|s", endpoints))
        try:
            flow = packet_blocks(conn.client[0], client_port, conn.server[0], shown_port, isns[0], isns[1],
                                 self.link_type, self.mss, flags)  # (by position: ~1.6k instructions less)
        except ValueError as e:  # unparsable or mixed-family addresses (the dialects make them NotedTuples: none known)
            self._conns[conn.id] = _Conn(conn, None, flags, 0)
            if self.report is not None:  # (said at the capture that opened it, where there is one)
                self.report.warn("connection not written to pcapng", origin, f"connection {conn.id}: {e}")
            return []
        self._conns[conn.id] = _Conn(conn, flow, flags, time_ns)  # (the handshake at its first event's time)
        return flow.handshake_blocks(time_ns, self._open_comment(conn, real_port, shown_port, note))

    def _chunk(self, chunk: Chunk) -> list[bytes]:
        conn = chunk.conn
        state = self._conns.get(conn.id)
        blocks = []
        if state is None:
            blocks = self._open(conn, chunk.time_ns, "no open event seen: handshake synthesized at the first data",
                                origin=chunk.info.origin)
            state = self._conns[conn.id]
        elif state.carried is not None:  # (open at the last file change: it goes on in this one)
            blocks = self._carry_on(state, chunk.time_ns)
            state = self._conns[conn.id]
        data = chunk.raw if self.raw_payload else chunk.wire
        if chunk.protocol is _HTTP2:
            state.resume = _H2_RESUME
            if self.follow_frames:
                if state.frames is None:
                    state.frames = FrameFollower(H2Framing())
                state.frames.feed(chunk.direction, data)
        # (HTTP/1.x 101; a slice compared: startswith parses its arguments, ~0.3k instructions)
        elif chunk.direction is _S2C and data[8:13] == b" 101 " and state.resume is None:
            switch = websocket_start(data)
            if switch is not None:  # (its head, up to where the frames start)
                state.resume = (_WS_REQUEST, data[: switch[0]], _WS_NOTE)
                if self.follow_frames:
                    state.frames = FrameFollower(WsFraming(switch[1]))
                    state.frames.feed(chunk.direction, data, switch[0])
        elif state.frames is not None:
            state.frames.feed(chunk.direction, data)
        if state.flow is None or not data:
            if not data and chunk.wire and self.raw_payload and chunk.info.notes:  # (zeros made up for a frame's rest
                self._unsaid[conn.id] = "; ".join(chunk.info.notes)  # eCapture lost, not written: said on the next)
            return blocks
        t = chunk.time_ns if chunk.time_ns > state.last_ns else state.last_ns  # (not max(): see _open)
        # ACKs as a TCP stack delays them: the side that receives data acks it with its own next data (or
        # its FIN); only when the sender sends again first does a pure ACK come, just before (the peer
        # cannot have waited longer). Request/response traffic needs no pure ACK between its messages.
        sender, owed = chunk.direction, state.owed
        if owed is not None and owed != sender:
            blocks.append(state.flow.ack_block(owed, t))
        if len(data) <= self._joined:  # (one segment: its block alone)
            packets = [state.flow.data_block(sender, data, t, self._chunk_comment(chunk))]
        elif len(data) <= self.mss:  # (one segment of _LARGE bytes or more: its block as its parts, see _write)
            self._large = True
            packets = [state.flow.data_block_parts(sender, data, t, self._chunk_comment(chunk))]
        elif not data.startswith(PREFACE):
            packets = state.flow.data_blocks(sender, data, t, self._chunk_comment(chunk), ack=False)
        else:  # (an HTTP/2 client preface split by a small --mss)
            packets = state.flow.preface_first_blocks(sender, data, t, self._chunk_comment(chunk))
        state.owed = 1 - sender
        state.last_ns = t
        return blocks + packets if blocks else packets

    def _close(self, event: Closed) -> list[bytes]:
        state = self._conns.pop(event.conn.id, None)
        if state is None or state.flow is None:
            return []
        if state.carried is not None:  # (nothing of it in this file: nor its end; its notes are in the summary, and
            return []  # a handshake and a FIN of its own made a conversation of no byte, timed before the file's)
        t = max(event.time_ns, event.decided_ns, state.last_ns)  # (once a connection: the call does not count)
        text = f"connection {event.conn.id} closed: {event.reason}"  # (most have no notes: no list, no join)
        if self._unsaid and event.conn.id in self._unsaid:
            text = f"{text}; before this: {self._unsaid.pop(event.conn.id)}{_NOT_WRITTEN}"
        return state.flow.close_blocks(_C2S, t, "; ".join((text, *event.notes)) if event.notes else text)

    # -- comments ------------------------------------------------------------------------------

    def _open_comment(self, conn: Connection, real_port: int, shown_port: int, note: str | None) -> str:
        key = (conn.pid, conn.tid, conn.comm, conn.fd)
        who = _WHO.known.get(key) or _WHO.miss(key)
        version = self.ecapture_version() if self.ecapture_version is not None else None
        # (what connections share kept as text: ~14k instructions a connection's comment took, ~7k now)
        key = (version, conn.module, conn.process_role, real_port, shown_port, not conn.synthetic_reason)
        facts = self._facts.known.get(key) or self._facts.miss(key)
        # (its parts joined by f-strings: most have two, no list and join)
        text = f"ecq2pcap connection {conn.id}: {who}; {facts}"
        if conn.synthetic_reason:
            text = f"{text}; endpoints invented: {conn.synthetic_reason}"
        elif conn.tuple_note:
            text = f"{text}; {conn.tuple_note}"
        if conn.uuids:  # the first to arrive (how many came before it opened depends on pacing)
            text = f"{text}; uuid {conn.uuids[0].replace(_NUL, '')}"  # (see _chunk_comment)
        if note:
            text = f"{text}; {note}"
        return text

    def _chunk_comment(self, chunk: Chunk) -> str:
        cap = chunk.info
        # (who sent it and what eCapture called it kept by value, as a thread and its fd send again and
        # again: two lookups, ~1.5k instructions, instead of formatting four numbers, ~6k)
        key = (cap.pid, cap.tid, cap.comm, cap.fd)
        who = _WHO.known.get(key) or _WHO.miss(key)
        key = (cap.ectype, cap.form._value_, chunk.conn.module)  # (an Enum member's hash is Python code, ~1.2k)
        what = _WHAT.known.get(key) or _WHAT.miss(key)
        # (gotls/gnutls/nspr uuids hold the 16-byte comm with its NUL padding, protocol doc §10.9: shown without)
        as_captured = self._as_captured
        if as_captured and chunk.raw is not chunk.wire:  # (--raw-payload: the repairs the notes say are not here)
            as_captured = _UNREPAIRED
        if cap.uuid and cap.origin:  # (most: one f-string, no parts made first)
            text = (f"{who} uuid {cap.uuid.replace(_NUL, '')}; connection {chunk.conn.id} {_LABELS[chunk.direction]}; "
                    f"{what}{as_captured}; origin {cap.origin}")
        else:
            uuid = " uuid " + cap.uuid.replace(_NUL, "") if cap.uuid else ""
            text = (f"{who}{uuid}; connection {chunk.conn.id} {_LABELS[chunk.direction]}; "
                    f"{what}{as_captured}{'; origin ' + cap.origin if cap.origin else ''}")
        if self._unsaid and chunk.conn.id in self._unsaid:
            text = f"{text}; before this: {self._unsaid.pop(chunk.conn.id)}{_NOT_WRITTEN}"
        return "; ".join((text, *cap.notes)) if cap.notes else text

    # -- output --------------------------------------------------------------------------------

    def _write(self, blocks: list[bytes], packets: int) -> None:
        # Blocks of big payloads, some of them as their parts (see _chunk), are written without being joined: two
        # copies less of each byte, ~12k instructions of a 16 KB event. (Small ones are joined: measuring their
        # parts costs more than copying them.)
        if self._large:
            self._large = False
            parts = [part for block in blocks for part in (block if type(block) is tuple else (block,))]
            size = sum(map(len, parts))
            self._units.write_parts(parts, size, packets)
        else:
            data = b"".join(blocks)
            size = len(data)
            self._units.write(data, packets)
        self.bytes_written += size
        if packets:
            self.packets += packets
            if self.report is not None:
                self.report.counts[Count.PACKETS] += packets
        if self.flush_each_event:
            self._units.flush()
