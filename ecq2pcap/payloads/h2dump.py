"""Parse eCapture's HTTP/2 text dump (event types 2 and 4) into frames.

eCapture v1.x does not forward HTTP/2 bytes: its HTTP2Request / HTTP2Response
parsers (``pkg/event_processor/http2_request.go``, ``http2_response.go``) read the
frames with Go's ``http2.Framer`` and print them (protocol doc §4.3, §10.14, §11.7)::

    \\nFrame Type\\t=>\\tHEADERS\\nFrame StreamID\\t=>\\t1\\nFrame Length\\t=>\\t117\\n
    header field ":status" = "200"\\n                  (hpack.HeaderField.String(): %q
    header field "cookie" = "a=b" (sensitive)\\n        quoting, " (sensitive)" = never-indexed)
    \\nFrame Type\\t=>\\tDATA\\nFrame StreamID\\t=>\\t1\\nFrame Length\\t=>\\t459\\n<459 raw bytes>\\n
    \\nFrame Type\\t=>\\tSETTINGS\\nFrame StreamID\\t=>\\t0\\n   (other types: no contents)

* HEADERS whose HPACK block fails to decode print no field, only
  ``[http2 request|response] Incorrect HPACK context, Please use PCAP mode …``;
  HEADERS without END_HEADERS print ``… Not Supported HEADERS Frame with CONTINUATION frames``.
* DATA of a stream whose ``content-encoding`` is exactly ``gzip`` (seen in the same dump)
  prints ``Partial entity body with gzip encoding ... \\n`` instead of the bytes; the
  gunzipped body follows at the end, one block per stream, in Go map (random) order::

    \\nMerged Data Frame, StreamID\\t=>\\t<id>\\nMerged Data Frame, Final Length\\t=>\\t<n>\\n\\n<n bytes>\\n

  (no block at all when gunzip failed: that body is lost).
* ``Frame Length`` is the frame's payload length. For a PADDED DATA frame it includes the
  pad-length octet and the padding, which eCapture does not print: the parser then
  finds the real end of the data (noted).
* Data are raw bytes and may contain the markers themselves: DATA is sliced by length,
  never split on newlines. Header lines never contain a raw newline (``%q``).

Everything here is pure and never raises on bad input; problems go to
:attr:`ParsedDump.notes`. Header names/values are ``str`` decoded from UTF-8 with
``surrogateescape``: bytes that are not UTF-8 (Go prints them as ``\\xHH``) survive as
lone surrogates; ``s.encode("utf-8", "surrogateescape")`` gives the exact bytes back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from collections.abc import Iterator

from ..limits import LOST_BY_ECAPTURE, lost_note
from ..memo import Memo
from .goquote import go_unquote, text, unquote_text
from .numbers import ascii_number

__all__ = ["DumpFrame", "ParsedDump", "go_unquote", "parse_h2_dump"]

FRAME_MARK = b"\nFrame Type\t=>\t"
MERGED_MARK = b"\nMerged Data Frame, StreamID\t=>\t"
GZIP_PLACEHOLDER = b"Partial entity body with gzip encoding ... \n"
_STREAM_LINE = b"Frame StreamID\t=>\t"
_LENGTH_LINE = b"Frame Length\t=>\t"
_MERGED_LENGTH_LINE = b"Merged Data Frame, Final Length\t=>\t"
_HPACK_FAILED = b"Incorrect HPACK context"
_CONTINUATION = b"Not Supported HEADERS Frame with CONTINUATION frames"
_MAX_PADDING = 256  # pad-length octet + up to 255 bytes of padding
FIELD_BATCH = 1024  # a lazy parse's fields are read this many at a time
MAX_FIELD_LINE = 1 << 20  # a longer header field line is not read: the regex keeps a state per escape (~55 bytes
# a byte: an 8 MB line of escapes took 443 MB); a field that long is over any header list limit anyway

_QUOTED = rb'"([^"\\]*(?:\\.[^"\\]*)*)"'  # (unrolled: ~4× faster than (?:[^"\\]|\\.)*, the same strings)
_HEADER_LINE = re.compile(rb"header field " + _QUOTED + rb" = " + _QUOTED + rb"( \(sensitive\))?\Z", re.S)


@dataclass(slots=True)
class DumpFrame:
    """One frame as eCapture printed it (flags and non-HEADERS/DATA payloads are lost)."""

    type: str  # Go's FrameType.String(): "DATA", "HEADERS", "SETTINGS", ..., "UNKNOWN_FRAME_TYPE_12"
    stream_id: int
    length: int | None = None  # the "Frame Length" line (payload length incl. padding)
    headers: list[tuple[str, str]] | None = None  # HEADERS only: the decoded fields, in order (a lazy parse: None)
    sensitive: set[int] | frozenset[int] = frozenset()  # indexes into `headers` printed "(sensitive)"
    span: tuple[int, int] | None = None  # HEADERS of a dump: where its field lines are (ParsedDump.field_lines)
    data: bytes | None = None  # DATA only; None for a gzip placeholder
    gzip_placeholder: bool = False  # DATA replaced by "Partial entity body with gzip encoding"
    hpack_failed: bool = False  # HEADERS: eCapture's HPACK decoder failed, fields unknown
    continuation_unsupported: bool = False  # HEADERS without END_HEADERS: fields unknown
    truncated: bool = False  # the dump ends inside this frame
    end_stream: bool | None = None  # END_STREAM flag when known (never from a text dump)
    offset: int = 0  # offset of the block in the dump, for diagnostics

    def header(self, name: str) -> str | None:
        """The first value of header `name` (lower-case), or None."""
        for k, v in self.headers or ():
            if k == name:
                return v
        return None


@dataclass(slots=True)
class ParsedDump:
    frames: list[DumpFrame] = field(default_factory=list)
    merged: dict[int, bytes] = field(default_factory=dict)  # stream id → gunzipped body
    merged_truncated: set[int] = field(default_factory=set)  # merged bodies cut by the dump's end
    notes: list[str] = field(default_factory=list)
    buf: bytes = b""  # the dump (a lazy parse's HEADERS frames read their fields from it when asked)

    def field_lines(self, frame: DumpFrame, notes: list[str]) -> Iterator[list[tuple[str, str, bool]]]:
        """``(name, value, sensitive)`` of the fields of a HEADERS ``frame`` of this dump, read from its lines
        as they are asked for, :data:`FIELD_BATCH` at a time (problems to ``notes``): a dump of many or huge
        header blocks never becomes millions of objects at once. Each call reads them again."""
        return _field_lines(self.buf, frame, notes)


def _at_boundary(buf: bytes, pos: int) -> bool:
    """True when a block may start at `pos`: end of dump, a marker, or a marker cut by the end."""
    if pos >= len(buf):
        return True
    rest = buf[pos:pos + len(MERGED_MARK)]
    return any(rest.startswith(mark) or len(rest) < len(mark) and mark.startswith(rest)
               for mark in (FRAME_MARK, MERGED_MARK))


class _Parser:
    def __init__(self, buf: bytes, lazy: bool) -> None:
        self.buf = buf
        self.n = len(buf)
        self.lazy = lazy
        self.out = ParsedDump(buf=buf)

    # -- helpers -------------------------------------------------------------

    def _number_line(self, pos: int, prefix: bytes) -> tuple[int | None, int, bool]:
        """Parse ``<prefix><digits>\\n`` at pos → (value or None if absent, new pos, cut)."""
        buf = self.buf
        if not buf.startswith(prefix, pos):
            rest = buf[pos:pos + len(prefix)]
            cut = pos < self.n and len(rest) < len(prefix) and prefix.startswith(rest)
            return None, (self.n if cut else pos), cut
        start = pos + len(prefix)
        nl = buf.find(b"\n", start)
        if nl < 0:
            return None, self.n, True
        digits = buf[start:nl]
        number = ascii_number(digits)
        if number is None:
            self.out.notes.append(f"offset {pos}: bad number {digits[:40]!r} after {prefix.strip()!r}")
            return None, nl + 1, False
        return number, nl + 1, False

    def _next_mark(self, pos: int) -> int:
        hits = [i for i in (self.buf.find(FRAME_MARK, pos), self.buf.find(MERGED_MARK, pos)) if i >= 0]
        return min(hits) if hits else -1

    # -- blocks --------------------------------------------------------------

    def run(self) -> ParsedDump:
        buf, n = self.buf, self.n
        pos = 0
        if buf.startswith(FRAME_MARK[1:]):  # leading newline stripped by someone
            pos = self._frame(0, len(FRAME_MARK) - 1)
        while pos < n:
            if buf.startswith(FRAME_MARK, pos):
                pos = self._frame(pos, pos + len(FRAME_MARK))
            elif buf.startswith(MERGED_MARK, pos):
                pos = self._merged(pos, pos + len(MERGED_MARK))
            elif pos == n - 1 and buf[pos] == 0x0A:
                break  # a harmless trailing newline
            elif _at_boundary(buf, pos):
                self.out.notes.append(f"dump truncated inside a block marker at offset {pos}")
                break
            else:
                nxt = self._next_mark(pos + 1)
                skipped = (nxt if nxt >= 0 else n) - pos
                self.out.notes.append(lost_note(f"offset {pos}: {skipped} unexpected byte(s): {buf[pos:pos + 40]!r}"))
                if nxt < 0:
                    break
                pos = nxt
        return self.out

    def _frame(self, start: int, pos: int) -> int:
        buf, notes = self.buf, self.out.notes
        nl = buf.find(b"\n", pos)
        if nl < 0:
            notes.append(f"dump truncated inside a frame header at offset {start}")
            return self.n
        ftype = buf[pos:nl].decode("ascii", "replace")
        stream_id, pos, cut = self._number_line(nl + 1, _STREAM_LINE)
        if stream_id is None:
            notes.append(f"dump truncated inside the {ftype} frame header at offset {start}" if cut else
                         lost_note(f"offset {start}: {ftype} frame without a stream id"))
            return pos
        frame = DumpFrame(type=ftype, stream_id=stream_id, offset=start)
        self.out.frames.append(frame)
        if ftype not in ("HEADERS", "DATA"):
            if cut:
                frame.truncated = True
            return pos
        frame.length, pos, cut = self._number_line(pos, _LENGTH_LINE)
        if cut:
            frame.truncated = True
            if ftype == "HEADERS":
                frame.headers = []
            notes.append(f"dump truncated inside the {ftype} frame of stream {stream_id}")
            return self.n
        return self._headers(frame, pos) if ftype == "HEADERS" else self._data(frame, pos)

    def _headers(self, frame: DumpFrame, pos: int) -> int:
        """Find where the frame's field lines end (a block marker starts with an empty line; a field line
        never holds a raw newline), what eCapture printed instead of fields, and whether the dump ends
        inside the frame; read the fields unless the parse is lazy."""
        buf, n, notes = self.buf, self.n, self.out.notes
        if pos < n and buf[pos] == 0x0A:
            end = pos
        else:
            blank = buf.find(b"\n\n", pos)
            end = blank + 1 if blank >= 0 else n
        frame.span = (pos, end)
        frame.hpack_failed = _printed(buf, pos, end, _HPACK_FAILED)
        frame.continuation_unsupported = _printed(buf, pos, end, _CONTINUATION)
        if end == n and (pos == n and frame.length != 0 or pos < n and buf[n - 1] != 0x0A):
            frame.truncated = True  # (inside a field line, or right after the frame header)
            notes.append(f"dump truncated inside the HEADERS of stream {frame.stream_id}")
        if not self.lazy:
            fields: list[tuple[str, str]] = []
            sensitive: set[int] = set()
            for batch in _field_lines(buf, frame, notes):
                for name, value, secret in batch:
                    if secret:
                        sensitive.add(len(fields))
                    fields.append((name, value))
            frame.headers, frame.sensitive = fields, sensitive
        return end

    def _data(self, frame: DumpFrame, pos: int) -> int:
        buf, n, notes = self.buf, self.n, self.out.notes
        what = f"DATA frame of stream {frame.stream_id}"
        if buf.startswith(GZIP_PLACEHOLDER, pos):
            frame.gzip_placeholder = True
            return pos + len(GZIP_PLACEHOLDER)
        rest = buf[pos:pos + len(GZIP_PLACEHOLDER)]
        if len(rest) < len(GZIP_PLACEHOLDER) and GZIP_PLACEHOLDER.startswith(rest):
            frame.gzip_placeholder = frame.truncated = True
            notes.append(f"dump truncated inside the {what}")
            return n
        if frame.length is None:  # eCapture < v1.0.0 printed no length: up to the next block
            nxt = self._next_mark(pos)
            end = nxt if nxt >= 0 else n
            frame.data = buf[pos:end - 1 if end > pos and buf[end - 1] == 0x0A else end]
            notes.append(f"{what} has no Frame Length: delimited by the next block")
            return end
        end = pos + frame.length
        if end > n:
            frame.data, frame.truncated = buf[pos:], True
            # (eCapture's loss: said as one, on its stream only, for the HAR's _error and the summary)
            notes.append(f"stream {frame.stream_id}: dump truncated inside its DATA frame ({n - pos} of "
                         f"{frame.length} bytes; the rest {LOST_BY_ECAPTURE})")
            return n
        if end == n or buf[end] == 0x0A and _at_boundary(buf, end + 1):
            frame.data = buf[pos:end]
            return end + 1
        # PADDED frame: Length counts padding eCapture did not print; find the real end.
        q = end
        while (q := buf.rfind(b"\n", max(pos, end - _MAX_PADDING), q)) >= 0:
            if _at_boundary(buf, q + 1):
                frame.data = buf[pos:q]
                notes.append(f"{what}: {len(frame.data)} data bytes for Frame Length {frame.length} "
                             "(padded frame: padding is not dumped)")
                return q + 1
        frame.data = buf[pos:end]
        if buf[end] == 0x0A:
            return end + 1  # what follows is not a block: the main loop reports it
        notes.append(f"{what}: no newline after {frame.length} data bytes: dump may be corrupt")
        return end

    def _merged(self, start: int, pos: int) -> int:
        buf, n, notes = self.buf, self.n, self.out.notes
        digits_end = buf.find(b"\n", pos)
        if digits_end < 0:
            notes.append(f"dump truncated inside a merged data block at offset {start}")
            return n
        sid = buf[pos:digits_end]
        stream_id = ascii_number(sid)
        if stream_id is None:
            notes.append(lost_note(f"offset {start}: merged data block with bad stream id {sid[:40]!r}"))
            return digits_end + 1
        length, pos, cut = self._number_line(digits_end + 1, _MERGED_LENGTH_LINE)
        if length is None or cut:
            notes.append(f"merged body of stream {stream_id}: dump truncated inside its header" if cut else
                         lost_note(f"merged body of stream {stream_id}: no Final Length line"))
            return n if cut else pos
        if buf.startswith(b"\n", pos):
            pos += 1
        else:
            notes.append(f"merged body of stream {stream_id}: blank line missing")
        end = pos + length
        if stream_id in self.out.merged:
            notes.append(lost_note(f"stream {stream_id}: a merged body before its last one"))
        self.out.merged[stream_id] = buf[pos:end]
        if end > n:
            self.out.merged_truncated.add(stream_id)
            notes.append(f"dump truncated inside the merged body of stream {stream_id} "
                         f"({n - pos} of {length} bytes)")
            return n
        if end < n and buf[end] == 0x0A:
            return end + 1
        if end < n:
            notes.append(f"merged body of stream {stream_id}: no newline after {length} bytes")
        return end


def _printed(buf: bytes, pos: int, end: int, marker: bytes) -> bool:
    """Whether a line of ``buf[pos:end]`` that is not a header field holds ``marker`` (a line over
    :data:`MAX_FIELD_LINE` is neither: it is not read)."""
    while (at := buf.find(marker, pos, end)) >= 0:
        start = buf.rfind(b"\n", pos, at) + 1 or pos
        stop = buf.find(b"\n", at, end)
        stop = end if stop < 0 else stop
        if stop - start <= MAX_FIELD_LINE and _HEADER_LINE.match(buf[start:stop]) is None:
            return True
        pos = stop
    return False


def _plain_field(line: bytes) -> tuple[str, str, bool] | None:
    """``(name, value, sensitive)`` of a header field line without escapes (what :func:`_field_lines` reads of it:
    nothing to note), else None."""
    if b"\\" in line:
        return None
    m = _HEADER_LINE.match(line)
    return None if m is None else (text(m[1]), text(m[2]), m[3] is not None)


# what a header field line says, kept: a connection's dumps repeat most of its fields (ecq2pcap.memo)
_PLAIN_FIELDS = Memo(_plain_field)


def _field_lines(buf: bytes, frame: DumpFrame, notes: list[str]) -> Iterator[list[tuple[str, str, bool]]]:
    """See :meth:`ParsedDump.field_lines`."""
    pos, end = frame.span or (0, 0)
    what = f"HEADERS of stream {frame.stream_id}"
    batch: list[tuple[str, str, bool]] = []
    known = _PLAIN_FIELDS.known
    while pos < end:
        nl = buf.find(b"\n", pos, end)
        line, pos = (buf[pos:end], end) if nl < 0 else (buf[pos:nl], nl + 1)
        if (field := known.get(line)) is not None or (
                len(line) <= MAX_FIELD_LINE and (field := _PLAIN_FIELDS.miss(line)) is not None):
            batch.append(field)
            if len(batch) == FIELD_BATCH:
                yield batch
                batch = []
        elif len(line) > MAX_FIELD_LINE:
            notes.append(lost_note(f"{what}: a header field line of {len(line):,} bytes (over {MAX_FIELD_LINE:,}) not read"))
        elif (m := _HEADER_LINE.match(line)) is not None:
            batch.append((unquote_text(m[1], notes, what), unquote_text(m[2], notes, what), bool(m[3])))
            if len(batch) == FIELD_BATCH:
                yield batch
                batch = []
        elif nl >= 0 and _HPACK_FAILED not in line and _CONTINUATION not in line:
            notes.append(lost_note(f"{what}: unexpected line {line[:60]!r}"))
    if batch:
        yield batch


def parse_h2_dump(payload: bytes, *, lazy: bool = False) -> ParsedDump:
    """Parse one eCapture HTTP/2 text dump. Never raises; see :attr:`ParsedDump.notes`. ``lazy``: HEADERS
    frames are found, not read (``headers`` None: :meth:`ParsedDump.field_lines` reads them when asked)."""
    return _Parser(bytes(payload), lazy).run()
