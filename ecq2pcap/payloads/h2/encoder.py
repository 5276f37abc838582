"""Turn parsed eCapture HTTP/2 dumps back into real HTTP/2 frames (sans-IO).

eCapture v1.x only delivers a text dump of the frames (:mod:`.h2dump`); Wireshark needs
real frames, and it needs the client connection preface to dissect HTTP/2 at all
(``wireshark-har-notes.md``). One :class:`H2Reencoder` per connection rebuilds them.

Usage by the connection table (one reencoder per connection)::

    out = reencoder.encode(direction, parse_h2_dump(capture.payload))
    if out.preface:                 # only on the first call, whatever its direction
        put(Direction.C2S, out.preface)   # before any other byte of the connection
    put(direction, out.wire)

``take_preface()`` / ``preface_needed`` let a caller place the preface itself earlier.
A type 0/1/2 event whose payload is the raw client preface (:func:`is_raw_preface`) goes
through :meth:`H2Reencoder.encode_raw` so it is not duplicated.

What is rebuilt, and how (eCapture loses flags and every payload but HEADERS/DATA):

* HEADERS → HEADERS (+ CONTINUATION when the block exceeds 16384 bytes) with END_HEADERS,
  HPACK-encoded by the direction's own encoder; ``(sensitive)`` fields never-indexed.
  By default the encoders use no dynamic table (one size update to 0 in the first block,
  then static-table references and literals only: :mod:`.static_hpack`): every header block
  decodes on its own, so chunks may be reordered or dropped by the caller without
  breaking Wireshark's HPACK state. ``hpack_dynamic_table=True`` (``hpack``'s encoder)
  compresses better but then every ``wire`` must be written, in call order, per direction.
  Strings are written as plain literals, not Huffman-coded (RFC 7541 §5.2 allows either):
  the blocks are ~25 % longer, and the HAR sink's passive decoder reads them in half the
  time (bench/README.md). Wireshark dissects the same fields.
* HEADERS that eCapture could not decode (HPACK failure, CONTINUATION) → nothing (noted);
  the stream's DATA is still emitted.
* DATA → DATA frames of at most 16384 bytes. A stream whose DATA eCapture replaced by the
  gzip placeholder gets its merged (already gunzipped) body instead, at the first
  placeholder; ``content-encoding: gzip`` is dropped from that stream's HEADERS and
  ``content-length`` set to the decoded length (noted). No merged body → body lost (noted).
* SETTINGS (stream 0) → an empty SETTINGS frame (parameters are not dumped; our own frames
  respect the defaults). WINDOW_UPDATE, PING, PRIORITY, RST_STREAM (said on its stream), GOAWAY,
  PUSH_PROMISE, CONTINUATION and unknown types → omitted (noted): their payloads are not dumped
  and made-up values (a zero window increment is even a protocol error) would be misleading.

END_STREAM rule (flags are not dumped; decided per stream and direction, with look-ahead
only inside the current dump):

* HEADERS ends the stream when it is a trailer block (a second non-1xx HEADERS), or when
  no DATA for the stream follows in this dump and either ``content-length: 0``, or a
  response with status 204/304 or to a HEAD request, or a request whose method is
  GET/HEAD/DELETE/OPTIONS/TRACE without ``content-length``.
* DATA ends the stream when the stream's ``content-length`` is reached, when the frame is
  empty (senders use an empty DATA to close), or at the end of a merged gzip body —
  unless a HEADERS (trailers) for the stream follows in this dump.
* Limits: a body without ``content-length`` that ends with a non-empty DATA frame, a POST
  without ``content-length`` and bodies cut by eCapture stay open; a GET with a body in a
  later dump gets DATA after END_STREAM (noted). Wireshark shows the HEADERS and DATA
  either way; only its stream-state bookkeeping is approximate.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import NamedTuple

import hpack

from ...limits import LOST_BY_ECAPTURE, lost_note
from ...model import Direction
from ..h2dump import DumpFrame, ParsedDump
from ..numbers import ascii_number
from .header_blocks import body_change, dump_fields, encode_block
from .bounds import keep_latest
from .raw_frames import parse_frames
from .sniff import PREFACE
from .static_hpack import StaticTableEncoder

MAX_FRAME_SIZE = 16384  # SETTINGS_MAX_FRAME_SIZE default: we never announce more

FRAME_DATA, FRAME_HEADERS, FRAME_SETTINGS, FRAME_CONTINUATION = 0x0, 0x1, 0x4, 0x9
FLAG_END_STREAM, FLAG_END_HEADERS = 0x1, 0x4
_BODYLESS_METHODS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS", "TRACE"})


def frame_bytes(ftype: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    """One HTTP/2 frame: 9-byte header + payload."""
    return (len(payload).to_bytes(3, "big") + bytes((ftype, flags))
            + (stream_id & 0x7FFFFFFF).to_bytes(4, "big") + payload)


SETTINGS_FRAME = frame_bytes(FRAME_SETTINGS, 0, 0)


def is_raw_preface(payload: bytes) -> bool:
    """True when an event's payload is the raw client connection preface: it starts with
    ``PRI * HTTP/2.0`` and matches the preface as far as it goes (eCapture's DefaultParser
    cuts at the first NUL; a type 1/2 parser may pass the preface and frames through)."""
    head = payload[:len(PREFACE)]
    return len(head) >= 14 and PREFACE.startswith(head)


class H2Output(NamedTuple):
    preface: bytes  # client→server bytes to put on the connection before `wire` (first call only)
    wire: bytes  # real HTTP/2 frames, in `direction`
    notes: list[str]


@dataclass(slots=True)
class _Stream:
    content_length: int | None = None
    sent: int = 0
    headers_done: bool = False  # a final (non-1xx) HEADERS was seen: the next one is trailers
    ended: bool = False
    warned: bool = False


def _content_length(value: str | None) -> int | None:
    return ascii_number(value.strip()) if value is not None else None


STREAM_STATES = 1 << 16  # streams whose state a connection keeps before it forgets the ended ones
GUNZIPPED = "body is eCapture's gunzipped copy"  # (the note's words the HAR reads: the server's coding and length)


class H2Reencoder:
    """Per-connection, stateful re-encoder of eCapture HTTP/2 dumps (see the module doc)."""

    def __init__(self, *, hpack_dynamic_table: bool = False) -> None:
        # each direction's: a batch of (name, value, sensitive) → its header block (by default no dynamic table,
        # announced by a size update in the first block: .static_hpack; else hpack's, with the default table)
        self._encoders: dict[Direction, Callable[[list[tuple[bytes, bytes, bool]]], bytes]] = {
            d: partial(hpack.Encoder().encode, huffman=False) if hpack_dynamic_table else StaticTableEncoder().encode
            for d in Direction}
        self._decoders = {d: hpack.Decoder() for d in Direction}  # raw frames only
        self._preface_done = False
        self._streams: dict[tuple[Direction, int], _Stream] = {}
        self._methods: dict[int, str] = {}  # request method per stream id
        self._forget_at = STREAM_STATES  # (see _forget_ended)
        self._unsent: dict[Direction, bytes] = {}  # a table size update in a block not written: the next one's start

    # -- preface ---------------------------------------------------------------

    @property
    def preface_needed(self) -> bool:
        return not self._preface_done

    def take_preface(self) -> bytes:
        """The client preface + an empty SETTINGS frame, once; then ``b""``.
        The bytes belong at the very start of the client→server stream."""
        if self._preface_done:
            return b""
        self._preface_done = True
        return PREFACE + SETTINGS_FRAME

    # -- public ----------------------------------------------------------------

    def encode(self, direction: Direction, parsed: ParsedDump) -> H2Output:
        """Real frames for one parsed dump sent in `direction` (the notes start with the dump's own)."""
        notes: list[str] = list(parsed.notes)
        preface = b""
        if not self._preface_done:
            preface = self.take_preface()
            notes.append("synthetic HTTP/2 connection preface added")
        wire = self._encode_frames(direction, parsed, notes)
        return H2Output(preface, wire, notes)

    def encode_raw(self, direction: Direction, raw: bytes) -> H2Output:
        """Real HTTP/2 bytes (typically an event that is the raw client preface, maybe
        followed by frames). Complete frames are decoded and re-encoded like a dump, so the
        HPACK state stays ours and real END_STREAM flags are kept; a partial frame is dropped."""
        notes: list[str] = []
        preface, pos = b"", 0
        if direction is Direction.C2S and is_raw_preface(raw):
            pos = min(len(PREFACE), len(raw))
            if pos < len(PREFACE):
                notes.append(f"captured HTTP/2 connection preface is cut after {pos} bytes")
            if self._preface_done:
                notes.append("HTTP/2 connection preface captured after a synthetic one: dropped")
            else:
                preface = self.take_preface()
                notes.append("HTTP/2 connection preface captured")
        elif not self._preface_done:
            preface = self.take_preface()
            notes.append("synthetic HTTP/2 connection preface added")
        parsed = parse_frames(raw[pos:], lambda df, block: self._decode_raw_headers(direction, df, block), notes)
        wire = self._encode_frames(direction, parsed, notes)
        return H2Output(preface, wire, notes)

    # -- dump → frames ---------------------------------------------------------

    def _stream(self, direction: Direction, stream_id: int) -> _Stream:
        key = (direction, stream_id)
        st = self._streams.get(key)
        if st is None:
            if len(self._streams) >= self._forget_at:
                self._forget_ended()
            st = self._streams[key] = _Stream()
        return st

    def _forget_ended(self) -> None:
        """A connection lives for days and carries millions of streams (a gRPC channel): the state of the streams
        already ended is forgotten once :data:`STREAM_STATES` are kept (and the methods of all but the latest
        requests). A frame that comes later on a forgotten stream, already anomalous, is then read as a new
        stream's rather than noted as one after its end."""
        self._streams = {key: st for key, st in self._streams.items() if not st.ended}
        self._forget_at = max(STREAM_STATES, 2 * len(self._streams))
        keep_latest(self._methods, STREAM_STATES)

    def _after_end(self, st: _Stream, stream_id: int, notes: list[str]) -> None:
        if not st.warned:
            st.warned = True
            notes.append(f"stream {stream_id}: frames after the END_STREAM this converter guessed")

    def _encode_frames(self, direction: Direction, parsed: ParsedDump, notes: list[str]) -> bytes:
        frames, last_data, last_headers = parsed.frames, {}, {}  # (the index of each stream's last DATA, HEADERS)
        for i, f in enumerate(frames):
            if f.type == "DATA":
                last_data[f.stream_id] = i
            elif f.type == "HEADERS":
                last_headers[f.stream_id] = i
        gzipped = {f.stream_id for f in frames if f.type == "DATA" and f.gzip_placeholder}
        for sid in sorted(gzipped - parsed.merged.keys()):
            notes.append(f"stream {sid}: body {LOST_BY_ECAPTURE} (it could not gunzip it)")
        for sid in sorted(parsed.merged.keys() - gzipped):
            notes.append(lost_note(f"stream {sid}: merged body without DATA frames in this dump"))

        out = bytearray()
        merged_sent: set[int] = set()
        omitted: Counter[str] = Counter()
        for i, f in enumerate(frames):
            sid = f.stream_id
            if f.type in ("HEADERS", "DATA") and not 0 < sid < 1 << 31:
                notes.append(lost_note(f"{f.type} frame on stream {sid} (invalid stream id)"))
            elif f.type == "HEADERS":
                out += self._headers(direction, f, i, parsed, gzipped, last_data, notes)
            elif f.type == "DATA":
                if not f.gzip_placeholder:
                    out += self._data(direction, sid, f.data or b"", f.end_stream,
                                      not f.truncated, last_headers.get(sid, -1) > i, notes)
                elif sid in parsed.merged and sid not in merged_sent:
                    merged_sent.add(sid)
                    complete = sid not in parsed.merged_truncated
                    out += self._data(direction, sid, parsed.merged[sid], f.end_stream, complete,
                                      last_headers.get(sid, -1) > i, notes, merged=True)
            elif f.type == "SETTINGS" and sid == 0:
                out += SETTINGS_FRAME
            elif f.type == "RST_STREAM" and 0 < sid < 1 << 31:  # (on its stream: its HAR entry looked complete)
                notes.append(f"stream {sid}: reset by the {'client' if direction is Direction.C2S else 'server'} (an "
                             "RST_STREAM in eCapture's dump, which gives no error code: not re-encoded)")
            else:
                omitted[f.type] += 1
        if omitted:
            notes.append("frames not re-encoded (eCapture does not dump their payload): "
                         + ", ".join(f"{name}×{n}" for name, n in omitted.items()))
        return bytes(out)

    def _headers(self, direction: Direction, f: DumpFrame, i: int, parsed: ParsedDump, gzipped: set[int],
                 last_data: dict[int, int], notes: list[str]) -> bytes:
        sid = f.stream_id
        if f.hpack_failed or f.continuation_unsupported:
            why = "eCapture could not decode HPACK" if f.hpack_failed else \
                "eCapture does not decode HEADERS continued in CONTINUATION frames"
            side = "request" if direction is Direction.C2S else "response"
            notes.append(f"stream {sid}: {side} HEADERS lost ({why})")
            for _ in dump_fields(f, parsed, notes):  # (what else its lines hold is said all the same)
                pass
            return b""
        size: int | None = None  # a merged (gunzipped) body's size, -1 when cut: the fields say so
        if sid in gzipped and sid in parsed.merged and any(
                k == "content-encoding" and v == "gzip" for batch in dump_fields(f, parsed, []) for k, v, _ in batch):
            size = -1 if sid in parsed.merged_truncated else len(parsed.merged[sid])
            notes.append(f"stream {sid}: {GUNZIPPED} ({body_change(f, parsed, size)})")
        block, values, kept = encode_block(self._encoders[direction], dump_fields(f, parsed, notes), size)
        if self._unsent:
            block = self._unsent.pop(direction, b"") + block
        if f.truncated:
            notes.append(f"stream {sid}: HEADERS cut by the end of the dump ({kept} field(s) kept, the rest "
                         f"{LOST_BY_ECAPTURE})")

        st = self._stream(direction, sid)
        was_ended = st.ended
        if f.end_stream is not None:
            end = f.end_stream
            if not st.headers_done and not values.get(":status", "").startswith("1"):
                st.headers_done = True
                st.content_length = _content_length(values.get("content-length"))
        elif st.ended:
            end = False
        elif st.headers_done:
            end = True  # trailers
        else:
            method, status = values.get(":method"), values.get(":status")
            if method:
                self._methods[sid] = method.upper()
            end = False
            if status is None or not status.startswith("1"):  # not a 1xx informational response
                st.headers_done = True
                st.content_length = cl = _content_length(values.get("content-length"))
                end = not f.truncated and last_data.get(sid, -1) < i and (
                    cl == 0
                    or direction is Direction.S2C and (status in ("204", "304") or self._methods.get(sid) == "HEAD")
                    or direction is Direction.C2S and cl is None and (method or "").upper() in _BODYLESS_METHODS)
        if was_ended:
            self._after_end(st, sid, notes)
        st.ended = st.ended or end
        if not kept:  # (tshark 4.0 fails on an empty header list: "Dissector bug", an Error-level expert item)
            if block:
                self._unsent[direction] = block
            notes.append(f"stream {sid}: HEADERS of no field not written (an empty header list)"
                         + ("; an empty DATA frame ends the stream in its place" if end else ""))
            return frame_bytes(FRAME_DATA, FLAG_END_STREAM, sid) if end else b""
        return self._header_frames(sid, block, end)

    @staticmethod
    def _header_frames(sid: int, block: bytes, end_stream: bool) -> bytes:
        first, rest = block[:MAX_FRAME_SIZE], block[MAX_FRAME_SIZE:]
        flags = (FLAG_END_STREAM if end_stream else 0) | (0 if rest else FLAG_END_HEADERS)
        out = [frame_bytes(FRAME_HEADERS, flags, sid, first)]
        while rest:
            piece, rest = rest[:MAX_FRAME_SIZE], rest[MAX_FRAME_SIZE:]
            out.append(frame_bytes(FRAME_CONTINUATION, 0 if rest else FLAG_END_HEADERS, sid, piece))
        return b"".join(out)

    def _data(self, direction: Direction, sid: int, payload: bytes, known_end: bool | None, complete: bool,
              trailers_follow: bool, notes: list[str], merged: bool = False) -> bytes:
        st = self._stream(direction, sid)
        if st.ended:
            if not payload and known_end is None:
                return b""  # an empty DATA after the end carries nothing
            self._after_end(st, sid, notes)
        st.sent += len(payload)
        if known_end is not None:
            end = known_end
        elif st.ended or not complete or trailers_follow:
            end = False
        elif merged:
            end = True
        elif st.content_length is not None:
            end = st.sent >= st.content_length or not payload
        else:
            end = not payload
        st.ended = st.ended or end
        if not payload:
            return frame_bytes(FRAME_DATA, FLAG_END_STREAM if end else 0, sid)
        out = []
        for pos in range(0, len(payload), MAX_FRAME_SIZE):
            last = pos + MAX_FRAME_SIZE >= len(payload)
            out.append(frame_bytes(FRAME_DATA, FLAG_END_STREAM if end and last else 0, sid,
                                   payload[pos:pos + MAX_FRAME_SIZE]))
        return b"".join(out)

    def _decode_raw_headers(self, direction: Direction, df: DumpFrame, block: bytes) -> None:
        try:
            decoded = self._decoders[direction].decode(block, raw=True)
        except hpack.HPACKError:
            df.hpack_failed = True
            return
        headers: list[tuple[str, str]] = []
        sensitive: set[int] = set()
        for item in decoded:  # raw=True: (Never)IndexedHeaderTuple of bytes
            if not getattr(item, "indexable", True):
                sensitive.add(len(headers))
            headers.append((item[0].decode("utf-8", "surrogateescape"), item[1].decode("utf-8", "surrogateescape")))
        df.headers, df.sensitive = headers, sensitive
