"""Per-connection payload normalization: what eCapture delivered → the wire bytes sinks parse.

* ``http1_rendered``: eCapture's httputil re-rendering; its framing headers are repaired so
  they agree with the (already de-chunked, gunzipped) body (:func:`repair_rendered`).
* ``h2_dump``: eCapture v1's HTTP/2 text dump, re-encoded into real frames (HPACK state per
  connection), and the raw client preface v1's HTTP/1 parser sometimes claims.
* raw bytes that are HTTP/2 without the client preface (capture started mid-connection):
  Wireshark decodes HTTP/2 only after the preface, so a marked synthetic one goes first.

A :class:`Normalizer` lives as long as its connection and sees its captures in order. It
also decides, once, what the connection speaks (:meth:`Normalizer.protocol_of`): the one
place that answers "is this HTTP/2?" for the sinks.
"""

from __future__ import annotations

from msgspec.structs import replace

from ..limits import DEFAULT_LIMITS, LOST_BY_ECAPTURE, NOT_KEPT, Limits
from ..model import Capture, Captured, Chunk, ChunkInfo, Closed, Connection, Direction, FlowEvent, PayloadForm, Protocol
from ..payloads.h2 import PREFACE, SETTINGS_FRAME, H2Reencoder, is_raw_preface, looks_like_h2, starts_h2_connection
from ..payloads.alignment import NOT_CREDIBLE, FrameAlignment
from ..payloads.h2.alignment import H2Framing
from ..payloads.h2dump import parse_h2_dump
from ..payloads.websocket_frames import WsFraming, websocket_start
from ..payloads.http1_render import NOT_HTTP1, repair_rendered, starts_http1_message
from ..report import Report

DUMP_PREFACE_NOTE = "synthetic HTTP/2 connection preface: eCapture's dump does not carry it"
NOT_REBUILT = "capture not rebuilt in full for the outputs"
ECAPTURE_LOSS = "data lost by eCapture"
NOT_FRAMES = "bytes that are not frames on an HTTP/2 or WebSocket connection"
MISSED_PREFACE_NOTE = "synthetic HTTP/2 connection preface: the connection's start was not captured"

_RENDERED, _H2_DUMP = PayloadForm.HTTP1_RENDERED, PayloadForm.H2_DUMP  # (Enum members: ~0.15 µs to read on 3.11)
_C2S = Direction.C2S
_NOT_HTTP1 = (NOT_HTTP1,)


class Normalizer:
    def __init__(self, *, repair_http1: bool = True, limits: Limits = DEFAULT_LIMITS) -> None:
        self.repair_http1 = repair_http1
        self.max_head = limits.header_section_size  # a bigger rendered head is not repaired (--max-header-size)
        self.made_up_ratio = limits.made_up_ratio  # zeros made up for frames' lost rests, per byte captured
        self._h2: H2Reencoder | None = None  # set once the connection carried an HTTP/2 dump
        self._sniffed = False  # raw bytes were checked for HTTP/2 without its preface
        self._first_s2c: bytes | None = None  # server's first bytes, kept for that check
        self._protocol: Protocol | None = None  # decided by the connection's first wire bytes
        self._preface_on_wire = False  # a client preface went out with raw bytes (captured or synthetic)
        self._alignment: FrameAlignment | None = None  # where raw HTTP/2 or WebSocket bytes are in their frames
        # the last rendered request was a HEAD not answered yet: the next final response answers it (were a request
        # pipelined behind the HEAD, rare, the HEAD's response would be taken as any other's, as before)
        self._head_asked = False

    def protocol_of(self, form: PayloadForm, direction: Direction, wire: bytes) -> Protocol:
        """What a chunk's ``wire`` speaks. Decided once, by the connection's first non-empty
        wire bytes (HTTP/2 when they come from an HTTP/2 dump or open an HTTP/2 connection,
        HTTP/1 when they start an HTTP/1 message, unknown otherwise); re-encoded HTTP/2 dumps
        are HTTP/2 even on a connection that started as HTTP/1. (:meth:`wire_of` records the answer
        for a first message eCapture rendered as HTTP/1 when the repair read its start line: the same
        answer, without matching the start line again.)"""
        if self._protocol is None:
            if not wire:
                return Protocol.UNKNOWN
            if form is PayloadForm.H2_DUMP or starts_h2_connection(direction, wire):
                self._protocol = Protocol.HTTP2
            elif starts_http1_message(wire):
                self._protocol = Protocol.HTTP1
            else:
                self._protocol = Protocol.UNKNOWN
        if form is _H2_DUMP:
            return Protocol.HTTP2
        return self._protocol

    def wire(self, cap: Capture, direction: Direction) -> tuple[bytes, bytes, tuple[str, ...]]:
        """``(preface, wire, notes)``: the bytes to put on the connection for ``cap``, preceded
        by ``preface`` on client→server when a synthetic HTTP/2 preface must come first."""
        return self.wire_of(cap.payload, cap.form, cap.ectype, direction)

    def wire_of(self, payload: bytes, form: PayloadForm, ectype: int | None,
                direction: Direction) -> tuple[bytes, bytes, tuple[str, ...]]:
        """:meth:`wire` of a capture's payload, form and eCapture type. The first part, when there is one, is
        either a synthetic HTTP/2 preface (client→server) or the bytes that complete a raw HTTP/2 or WebSocket
        frame whose rest eCapture lost (``direction``: :mod:`~ecq2pcap.payloads.alignment`); the first note is
        its own."""
        if form is _RENDERED:
            if not self.repair_http1:
                return b"", payload, ()
            method = None  # (of the request a response answers: a HEAD's Content-Length without a body is no loss)
            if direction is _C2S:
                self._head_asked = payload[:5] == b"HEAD "  # (slices compared: startswith parses its arguments, ~0.3k)
            elif payload[9:10] == b"1":  # (a 1xx: not the final response; a 101 may switch to WebSocket)
                if self._alignment is None:
                    self._switching(direction, payload)
            elif self._head_asked:
                self._head_asked = False
                method = "HEAD"
            wire, changes = repair_rendered(payload, request_method=method, max_head=self.max_head)
            if self._protocol is None and wire and changes[:1] != _NOT_HTTP1:
                self._protocol = Protocol.HTTP1  # (repair read its start line: what protocol_of would find again)
            return b"", wire, changes
        if form is PayloadForm.H2_DUMP or (ectype in (1, 2) and is_raw_preface(payload)):
            if self._alignment is not None:  # (frames re-encoded from a dump cannot continue a raw frame)
                fill, note = self._alignment.complete(direction)
                if note is not None:
                    preface, wire, notes = self._h2_frames(payload, form, direction)  # (no preface: raw bytes came
                    return (fill, wire, (note, *notes)) if fill else (preface, wire, (*notes, note))  # first)
            return self._h2_frames(payload, form, direction)
        preface, notes = b"", ()
        if not self._sniffed and self._h2 is None and self._missed_preface(payload, direction):
            self._preface_on_wire = True
            preface, notes = PREFACE + SETTINGS_FRAME, (MISSED_PREFACE_NOTE,)
        alignment = self._alignment
        if alignment is None:  # raw bytes: followed frame by frame once the connection is HTTP/2 or WebSocket
            if not (preface or self._protocol is Protocol.HTTP2
                    or self._protocol is None and starts_h2_connection(direction, payload)):
                if direction is not _C2S and payload.startswith(b" 101 ", 8):  # (HTTP/1.x 101)
                    self._switching(direction, payload)
                return preface, payload, notes
            alignment = self._alignment = FrameAlignment(H2Framing(), self.made_up_ratio)
        fill, note = alignment.feed(direction, payload)
        if note is None:
            return preface, payload, notes
        return (fill, payload, (note,)) if fill else (preface, payload, (*notes, note))  # (fill: no preface then)

    def _switching(self, direction: Direction, payload: bytes) -> None:
        """A server's bytes that switch the connection to WebSocket: its frames are followed from there on."""
        switch = websocket_start(payload)
        if switch is not None:
            start, deflate = switch
            self._alignment = FrameAlignment(WsFraming(deflate), self.made_up_ratio)
            self._alignment.feed(direction, payload, start)

    def _h2_frames(self, payload: bytes, form: PayloadForm,
                   direction: Direction) -> tuple[bytes, bytes, tuple[str, ...]]:
        if self._h2 is None:
            self._h2 = H2Reencoder()
            if self._preface_on_wire:  # (raw HTTP/2 came first, a type 1 event holding frames: no second preface)
                self._h2.take_preface()
        if form is PayloadForm.H2_DUMP:
            res = self._h2.encode(direction, parse_h2_dump(payload, lazy=True))
        else:
            res = self._h2.encode_raw(Direction.C2S, payload)
        notes = tuple(n for n in res.notes if not n.startswith("synthetic HTTP/2 connection preface"))
        return res.preface, res.wire, ((DUMP_PREFACE_NOTE,) if res.preface else ()) + notes

    def _missed_preface(self, data: bytes, direction: Direction) -> bool:
        """Raw HTTP/2 whose start was not captured. Decided on the first client→server bytes
        (which carry the preface when the start was captured), or on the first server→client
        bytes when they are HTTP/2 frames but not the server's opening SETTINGS."""
        if direction is Direction.C2S:
            self._sniffed = True
            if data.startswith(PREFACE):
                self._preface_on_wire = True
                return False
            return not PREFACE.startswith(data[: len(PREFACE)]) and looks_like_h2(data, self._first_s2c or b"")
        if self._first_s2c is not None:
            return False
        self._first_s2c = data[:4096]
        server_preface = len(data) >= 9 and data[3] == 0x4 and data[5:9] == b"\0\0\0\0"
        # (looks_like_h2 with the bytes as first argument: "plausible HTTP/2 frames")
        if server_preface or not looks_like_h2(data, b""):
            return False
        self._sniffed = True
        return True


def normalized(norm: Normalizer, conn: Connection, direction: Direction, ts: int, payload: bytes,
               info: ChunkInfo, report: Report | None = None) -> list[Chunk]:
    """The chunks of one capture's ``payload`` on ``conn`` (``info``: its notes so far), the wire
    bytes from the connection's normalizer: a synthetic HTTP/2 preface first when one is needed (or
    the zero bytes completing a frame eCapture cut, :meth:`Normalizer.wire_of`).
    A note saying a limit bit or a part of the capture is not in the outputs is also a warning to
    ``report`` (the summary counts it, and the limit), as is one saying eCapture lost a part of it."""
    if info.notes and report is not None:  # (eCapture's loss a dialect told: v2's console output)
        for note in info.notes:
            if LOST_BY_ECAPTURE in note:
                report.warn(ECAPTURE_LOSS, info.origin, note, conn.id)
    preface, wire, changes = norm.wire_of(payload, info.form, info.ectype, direction)
    if changes and report is not None:
        for note in changes:
            if "(limit: " in note or note.endswith(NOT_KEPT):
                report.warn(NOT_REBUILT, info.origin, note, conn.id)
            elif LOST_BY_ECAPTURE in note:  # (eCapture's loss, not ours: said in the packet and the HAR entry too)
                report.warn(ECAPTURE_LOSS, info.origin, note, conn.id)
            elif NOT_CREDIBLE in note:  # (a frame header read from bytes of another kind: nothing was made up)
                report.warn(NOT_FRAMES, info.origin, note, conn.id)
    out = []
    if preface:  # (a synthetic preface, client→server; or zero bytes completing a frame, this direction's way)
        if preface.startswith(PREFACE):
            way = Direction.C2S
        else:
            way = direction
            if report is not None:  # (counted: ConnectionTable.cut; made_up_bytes knows such a chunk again)
                report.made_up += len(preface)
        protocol = norm.protocol_of(info.form, way, preface)
        out.append(Chunk(conn, way, ts, preface, b"", replace(info, notes=changes[:1]), protocol))
        changes = changes[1:]
    protocol = norm._protocol  # (protocol_of's answer once the connection's is decided, without its call)
    if protocol is None or info.form is _H2_DUMP:
        protocol = norm.protocol_of(info.form, direction, wire)
    if changes:
        info = replace(info, notes=info.notes + changes)
    out.append(Chunk(conn, direction, ts, wire, payload, info, protocol))
    return out


def made_up_bytes(chunk: Chunk) -> int:
    """The zeros :func:`normalized` made up for a frame's rest eCapture lost that ``chunk`` carries (0: none): a
    chunk of no captured bytes that is not HTTP/2's synthetic preface."""
    return len(chunk.wire) if not chunk.raw and chunk.wire and not chunk.wire.startswith(PREFACE) else 0


class Normalizing:
    """After a table that hands on :class:`~ecq2pcap.model.Captured` (``convert -j``): each
    becomes its chunks, as the table would have made them, with one :class:`Normalizer` per
    connection (until its Closed event); other events pass as they are."""

    def __init__(self, *, repair_http1: bool = True, limits: Limits = DEFAULT_LIMITS,
                 report: Report | None = None) -> None:
        self.repair_http1 = repair_http1
        self.limits = limits
        self.report = report
        self._norms: dict[int, Normalizer] = {}

    def take(self, event) -> list[FlowEvent]:
        if type(event) is Captured:
            norm = self._norms.get(event.conn.id)
            if norm is None:
                norm = self._norms[event.conn.id] = Normalizer(repair_http1=self.repair_http1, limits=self.limits)
            return normalized(norm, event.conn, event.direction, event.time_ns, event.payload, event.info,
                              self.report)
        if type(event) is Closed:
            self._norms.pop(event.conn.id, None)
        return [event]
