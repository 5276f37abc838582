"""Sans-IO WebSocket (RFC 6455) parser for ONE upgraded connection, with permessage-deflate (RFC 7692).

Feed the bytes that follow the ``101 Switching Protocols`` exchange, per direction,
in any chunking; whole messages come out::

    ws = WebSocketParser(response_headers.get("sec-websocket-extensions"))
    for chunk in chunks:
        for msg in ws.feed(chunk.direction, chunk.wire, chunk.time_ns):
            messages.append(msg)
    leftovers = ws.close(end_ns)

Design:

* Payload bytes are streamed straight from the fed data (no whole-frame buffering);
  unmasking XORs whole chunks as big integers, never byte by byte.
* Control frames (close, ping, pong) are messages of their own, also when they
  arrive between the fragments of a data message.
* permessage-deflate: one raw inflater per direction, kept across messages (context
  takeover) or fresh per message (``*_no_context_takeover``). ``wbits=-15`` inflates
  any negotiated window size. Each message gets the ``00 00 ff ff`` tail appended.
  A BFINAL block ends a message's DEFLATE stream: the next message gets a new
  inflater primed with the last 32 KiB of output (the window a persistent one holds).
  After an inflate error the next message starts from an empty window, so a back
  reference into the unknown gap fails loudly instead of yielding wrong bytes.
* A message's output is capped (``max_message_size``); beyond it the data is
  truncated with a note, but inflation goes on so the shared window stays right.
* Bytes that cannot be WebSocket (reserved bits, unknown opcode, oversized or
  fragmented control frame, absurd length) stop that direction with an error in
  ``errors``; nothing ever raises.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

from ..limits import limit_note
from ..model import Direction
from .ws_extensions import DeflateParams, parse_extensions

__all__ = ["DeflateParams", "WsMessage", "WebSocketParser", "parse_extensions", "unmask"]

TEXT, BINARY, CLOSE, PING, PONG = 1, 2, 8, 9, 10
_DATA_OPCODES = (0, TEXT, BINARY)
_CONTROL_OPCODES = (CLOSE, PING, PONG)
_TAIL = b"\x00\x00\xff\xff"
_WINDOW = 32768  # DEFLATE's largest window: what a fresh inflater needs as zdict
_DEFAULT_MAX_MESSAGE = 64 << 20
_ABSURD_LENGTH = 1 << 40  # 1 TiB in one frame: not a WebSocket stream
_INFLATE_STEP = 1 << 20
_CONTINUATION_RSV1 = "RSV1 set on a continuation frame"


@dataclass(slots=True, eq=False)
class WsMessage:
    """One WebSocket message (a whole data message, or one control frame).

    ``time_ns`` is the time of the chunk that completed the message. ``data`` is
    the unmasked and, when ``compressed``, inflated payload. ``text`` is set for
    opcode 1 (invalid UTF-8 replaced, with an error noted). Close frames carry
    ``close_code``/``close_reason`` when their payload has them.
    """

    direction: Direction
    time_ns: int
    opcode: int
    data: bytes
    text: str | None = None
    compressed: bool = False
    close_code: int | None = None
    close_reason: str | None = None
    errors: list[str] = field(default_factory=list)


def unmask(data: bytes, mask: bytes, offset: int = 0) -> bytes:
    """XOR ``data`` with the 4-byte ``mask`` whose cycle starts at ``offset`` bytes."""
    n = len(data)
    if not n:
        return b""
    if offset % 4:
        o = offset % 4
        mask = mask[o:] + mask[:o]
    key = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")


class _Message:
    """A data message being assembled."""

    __slots__ = ("opcode", "compressed", "data", "errors", "truncated", "broken", "stream_ended")

    def __init__(self, opcode: int, compressed: bool) -> None:
        self.opcode = opcode
        self.compressed = compressed
        self.data = bytearray()  # (one buffer, not a list of the frames' pieces: a message of 1-byte continuation
        # frames held ~85 bytes a byte, 3.4 GB for 40 MB within the default limits)
        self.errors: list[str] = []
        self.truncated = False
        self.broken = False  # inflate failed: stop adding output
        self.stream_ended = False  # its DEFLATE stream ended (BFINAL): no tail to append


class _Side:
    """Parser state of one direction."""

    __slots__ = (
        "direction", "hbuf", "fin", "rsv1", "opcode", "mask", "remaining", "offset",
        "control", "msg", "inflater", "history", "dead", "masking_noted", "resumable",
    )

    def __init__(self, direction: Direction) -> None:
        self.direction = direction
        self.hbuf = bytearray()  # bytes of a frame header not yet complete
        self.fin = self.rsv1 = False
        self.opcode = -1  # -1: between frames (expecting a header)
        self.mask: bytes | None = None
        self.remaining = 0  # payload bytes of the current frame still to come
        self.offset = 0  # payload bytes of the current frame seen (mask phase)
        self.control = bytearray()  # payload of the current control frame
        self.msg: _Message | None = None
        self.inflater = None  # zlib decompressobj, created on first use
        self.history = b""  # last 32 KiB of inflated output (context takeover only)
        self.dead = False
        self.resumable = False  # (dead for bytes that are not frames: WebSocketParser.resume)
        self.masking_noted = False


class WebSocketParser:
    """Parse both directions of one WebSocket connection (client = the side that sent the upgrade).

    Attributes: ``deflate`` (negotiated :class:`DeflateParams` or None),
    ``other_extensions`` (names of extensions not understood), ``errors``
    (connection-level problems, each prefixed with the direction, each once) and ``times`` (how many times
    each was met: a stream of bad frames meets one for every frame).
    """

    def __init__(self, extensions_header: str | None = None, *, max_message_size: int = _DEFAULT_MAX_MESSAGE) -> None:
        self.deflate, self.other_extensions = parse_extensions(extensions_header)
        self.max_message_size = max_message_size
        self.errors: list[str] = []
        self.times: dict[str, int] = {}
        self._sides = (_Side(Direction.C2S), _Side(Direction.S2C))
        self._out: list[WsMessage] = []
        self._closed = False
        if self.other_extensions:
            self._error("unsupported extensions ignored: " + ", ".join(self.other_extensions))

    # -- public -------------------------------------------------------------------

    def feed(self, direction: Direction | int, data: bytes, time_ns: int) -> list[WsMessage]:
        """Add bytes that travelled ``direction``; return the messages they completed."""
        side = self._sides[Direction(direction)]
        if data and not side.dead and not self._closed:
            try:
                self._parse(side, data, time_ns)
            except Exception as exc:  # never raise into the pipeline
                self._kill(side, f"internal error while parsing: {exc!r}")
        out, self._out = self._out, []
        return out

    def close(self, time_ns: int) -> list[WsMessage]:
        """End of the connection: return fragmented messages left unfinished (with an error)."""
        if not self._closed:
            self._closed = True
            for side in self._sides:
                label = side.direction.label
                if side.opcode != -1 or side.hbuf:
                    self._error(f"{label}: frame incomplete at end of capture")
                if side.msg is not None:
                    side.msg.errors.append("message incomplete at end of capture")
                    self._emit_message(side, time_ns, final=False)
        out, self._out = self._out, []
        return out

    def stopped(self, direction: Direction | int) -> bool:
        """Whether ``direction`` stopped at bytes that were not frames (a dropped event left a capture starting
        inside one): :meth:`resume` may go on at a capture that starts with frames."""
        return self._sides[direction].resumable

    def resume(self, direction: Direction | int, time_ns: int) -> None:
        """Go on reading ``direction`` at the next bytes (they start with frames). A message whose frames were
        lost ends incomplete; a compression context is started anew (a message that refers to the lost window may
        not inflate: said on it)."""
        side = self._sides[direction]
        if side.msg is not None:
            side.msg.errors.append("message incomplete: its later frames were among the bytes skipped")
            self._emit_message(side, time_ns, final=False)
        side.dead = side.resumable = False
        side.opcode, side.remaining, side.offset, side.mask = -1, 0, 0, None
        side.inflater, side.history = None, b""
        side.control.clear()
        self._error(f"{side.direction.label}: parsing resumed at a capture that starts with WebSocket frames "
                    "(the bytes before it were skipped)")

    def _error(self, text: str) -> None:
        """Say ``text`` in :attr:`errors` once; count it each time (4 million 2-byte pings with RSV1 set said theirs
        4 million times: ~500 MB)."""
        n = self.times.get(text, 0)
        self.times[text] = n + 1
        if not n:
            self.errors.append(text)

    # -- framing ----------------------------------------------------------------

    def _kill(self, side: _Side, why: str, *, resumable: bool = False) -> None:
        side.dead = True
        side.resumable = resumable
        side.hbuf.clear()
        self._error(f"{side.direction.label}: {why}; stopped parsing this direction" + (
            " until a capture starts with frames" if resumable else ""))

    def _parse(self, side: _Side, data: bytes, now: int) -> None:
        pos, n = 0, len(data)
        while not side.dead:
            if side.opcode == -1:
                # collect a frame header: 2 bytes, then the extended length and the mask key
                hb = side.hbuf
                while True:
                    need = 2 if len(hb) < 2 else header_size(hb[0], hb[1])
                    if len(hb) >= need:
                        break
                    if pos == n:
                        return
                    take = min(need - len(hb), n - pos)
                    hb += data[pos : pos + take]
                    pos += take
                self._start_frame(side, bytes(hb), now)
                hb.clear()
                if side.opcode != -1 and side.remaining == 0:
                    self._end_frame(side, now)
                continue
            take = min(side.remaining, n - pos)
            if take == 0:
                return
            chunk = data[pos : pos + take]
            pos += take
            if side.mask is not None:
                chunk = unmask(chunk, side.mask, side.offset)
            side.offset += take
            side.remaining -= take
            if side.opcode in _CONTROL_OPCODES:
                side.control += chunk
            else:
                self._payload(side, chunk)
            if side.remaining == 0:
                self._end_frame(side, now)

    def _start_frame(self, side: _Side, hdr: bytes, now: int) -> None:
        b0, b1 = hdr[0], hdr[1]
        fin, rsv1, opcode = bool(b0 & 0x80), bool(b0 & 0x40), b0 & 0x0F
        length, pos = b1 & 0x7F, 2
        if length == 126:
            length, pos = int.from_bytes(hdr[2:4], "big"), 4
        elif length == 127:
            length, pos = int.from_bytes(hdr[2:10], "big"), 10
        mask = hdr[pos : pos + 4] if b1 & 0x80 else None
        problem = None
        if b0 & 0x30:
            problem = "reserved bits RSV2/RSV3 set"
        elif opcode not in _DATA_OPCODES and opcode not in _CONTROL_OPCODES:
            problem = f"unknown opcode {opcode}"
        elif opcode in _CONTROL_OPCODES and (length > 125 or not fin):
            problem = f"control frame opcode {opcode} {'longer than 125 bytes' if fin else 'fragmented'}"
        elif length >= _ABSURD_LENGTH:
            problem = f"frame length {length}"
        if problem is not None:
            self._kill(side, f"not WebSocket ({problem})", resumable=True)
            return
        label = side.direction.label
        if (mask is None) == (side.direction is Direction.C2S) and not side.masking_noted:
            side.masking_noted = True
            self._error(f"{label}: frames {'not ' if mask is None else ''}masked (RFC 6455 says otherwise)")
        side.fin, side.rsv1, side.opcode, side.mask = fin, rsv1, opcode, mask
        side.remaining, side.offset = length, 0
        if opcode in _CONTROL_OPCODES:
            side.control = bytearray()
            if rsv1:
                self._error(f"{label}: control frame with RSV1 set")
            return
        if opcode == 0:
            if side.msg is None:
                # the start of the message was not captured: parse through it, drop its data
                self._error(f"{label}: continuation frame without a message start (dropped)")
                side.msg = _Message(0, False)
                side.msg.broken = True
            elif rsv1 and _CONTINUATION_RSV1 not in side.msg.errors:  # (once a message, not for each of its frames)
                side.msg.errors.append(_CONTINUATION_RSV1)
            return
        if side.msg is not None:
            side.msg.errors.append("message interrupted by a new message (incomplete)")
            self._emit_message(side, now, final=False)
        side.msg = _Message(opcode, rsv1)
        if rsv1 and self.deflate is None:
            side.msg.errors.append("RSV1 set without negotiated permessage-deflate (inflated anyway)")

    def _end_frame(self, side: _Side, now: int) -> None:
        opcode, side.opcode = side.opcode, -1
        if opcode in _CONTROL_OPCODES:
            payload = bytes(side.control)
            side.control = bytearray()
            msg = WsMessage(side.direction, now, opcode, payload)
            if opcode == CLOSE and payload:
                if len(payload) >= 2:
                    msg.close_code = int.from_bytes(payload[:2], "big")
                    msg.close_reason = payload[2:].decode("utf-8", "replace")
                else:
                    msg.errors.append("close frame payload of 1 byte")
            self._out.append(msg)
        elif side.fin and side.msg is not None:
            self._emit_message(side, now, final=True)

    # -- messages -------------------------------------------------------------------

    def _payload(self, side: _Side, chunk: bytes) -> None:
        msg = side.msg
        if msg is None or msg.broken:
            return
        if msg.compressed:
            self._inflate(side, msg, chunk)
        else:
            self._append(msg, chunk)

    def _append(self, msg: _Message, out: bytes) -> None:
        room = self.max_message_size - len(msg.data)
        if len(out) > room:
            if not msg.truncated:
                msg.truncated = True
                msg.errors.append(limit_note("websocket_message_size", f"message truncated at {self.max_message_size} bytes"))
            out = out[: max(room, 0)]
        if out:
            msg.data += out

    def _inflate(self, side: _Side, msg: _Message, data: bytes) -> None:
        if msg.stream_ended:  # a BFINAL block ended this message's DEFLATE stream
            if data.strip(b"\x00") and not msg.broken:
                msg.errors.append("bytes after the end of the DEFLATE stream ignored")
                msg.broken = True
            return
        d = side.inflater
        if d is None:
            d = side.inflater = _new_inflater(side.history)
        try:
            while True:
                out = d.decompress(data, _INFLATE_STEP)
                self._append(msg, out)  # past the cap: inflate on, keep nothing (window stays right)
                if out and self._keeps_context(side):
                    side.history = (side.history + out[-_WINDOW:])[-_WINDOW:]
                data = d.unconsumed_tail
                if not data and len(out) < _INFLATE_STEP:
                    break
        except zlib.error as exc:
            msg.errors.append(f"cannot inflate: {exc}")
            msg.broken = True
            # what this message added to the window is unknown: start over with an empty one, so
            # a later back reference into the gap fails loudly instead of decoding wrong bytes
            side.inflater, side.history = None, b""
            return
        if d.eof:
            # BFINAL: the sender starts a new DEFLATE stream next time (its window survives in
            # `history`); no 00 00 ff ff tail for this message
            msg.stream_ended = True
            side.inflater = None
            if d.unused_data.strip(b"\x00"):
                msg.errors.append("bytes after the end of the DEFLATE stream ignored")
                msg.broken = True

    def _keeps_context(self, side: _Side) -> bool:
        return not (self.deflate is not None and self.deflate.no_context_takeover(side.direction))

    def _emit_message(self, side: _Side, now: int, final: bool) -> None:
        msg, side.msg = side.msg, None
        if msg.compressed and final and not msg.broken and not msg.stream_ended:
            self._inflate(side, msg, _TAIL)
        if msg.compressed and not (final and self._keeps_context(side)):
            # a fresh window: by agreement (no_context_takeover), or because the message was
            # cut short and the sender's window now holds bytes we never saw
            side.inflater, side.history = None, b""
        data = bytes(msg.data)
        text = None
        if msg.opcode == TEXT:
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                text = data.decode("utf-8", "replace")
                if not msg.truncated and not msg.broken and final:
                    msg.errors.append("invalid UTF-8 in text message")
        if msg.opcode == 0:
            return  # the dropped remainder of a message whose start was not captured
        self._out.append(WsMessage(side.direction, now, msg.opcode, data, text, msg.compressed, errors=msg.errors))


def header_size(b0: int, b1: int) -> int:
    """A frame header's length from its first two bytes (the extended length and the mask key)."""
    length = b1 & 0x7F
    return 2 + (2 if length == 126 else 8 if length == 127 else 0) + (4 if b1 & 0x80 else 0)


def _new_inflater(history: bytes):
    return zlib.decompressobj(-15, zdict=history) if history else zlib.decompressobj(-15)
