"""ecq2pcap recordings and dump files: lines → messages (sans-IO), and the recording writer.

A dump line is one of:

* a bare eCaptureQ v1.4.0–1.4.2 JSON message (what ``websocat ws://host:28257/ > dump.jsonl``
  records): a text message with no receive time;
* an ecq2pcap recording line ``{"t": <epoch seconds>, "opcode": "text"|"binary",
  "text": …}`` or ``… "data_b64": …}`` (also the shared samples' frame files, whose ``t``
  counts seconds since the client connected);
* the recording header ``{"ecq2pcap": "recording", "version": 1, "url": …, "started": …}``;
* a tick ``{"tick": <the data's clock, ns>, "t": …}``: where ``live`` moved the data's clock by its wall clock
  (:class:`~ecq2pcap.model.Tick`).
"""

from __future__ import annotations

import base64
import time
from typing import BinaryIO

import msgspec

from ..model import NS_LIMIT, DecodeError, Message, Opcode, Tick
from ..sinks.units import UnitWriter

RECORDING_MAGIC = "recording"


_TEXT = Opcode.TEXT  # (Enum members cost ~0.15 µs to read on Python 3.11; aliases ~0.02)
_OPCODES = {o.value: o for o in Opcode}  # (Opcode(value) takes ~0.45 µs, a lookup ~0.04: two a v2 event)


class _Frame(msgspec.Struct):
    opcode: str
    t: float | None = None
    text: str | None = None
    data_b64: bytes | None = None  # msgspec decodes the base64 (~3× faster than base64.b64decode after it)


class _FrameText(_Frame):  # (only to tell a line with bad base64 from one that is not a recording line)
    data_b64: str | None = None


class _Header(msgspec.Struct):
    ecq2pcap: str
    version: int = 1
    url: str = ""
    started: float | None = None


_T_LIMIT = NS_LIMIT / 1e9  # (a receive time in seconds that a pcapng holds)


class _Tick(msgspec.Struct):
    tick: int
    t: float | None = None


_frame = msgspec.json.Decoder(_Frame)
_tick = msgspec.json.Decoder(_Tick)
_frame_text = msgspec.json.Decoder(_FrameText)
_header = msgspec.json.Decoder(_Header)


class LineDecoder:
    """Turns dump lines into messages; remembers the recording header's start time."""

    def __init__(self) -> None:
        self.started: float | None = None
        self.url: str = ""

    def message(self, line: bytes, origin: str) -> Message | Tick | None:
        """The message (or tick) of one line, None for a header or blank line; raises DecodeError."""
        line = line.strip()
        # (most lines: an eCaptureQ message, with one test; a slice compared, not startswith, whose arguments are parsed
        # as a tuple's: ~0.3k instructions of its ~0.45k)
        if line[:11] == b'{"log_type"':
            return Message(line, _TEXT, origin)
        if not line:
            return None
        # (find, not `in` a slice: bytes' `in` first tries its operand as an int, and that error costs ~1.2k instructions)
        if line.find(b'"opcode"', 0, 200) < 0:
            if line.startswith(b'{"ecq2pcap"'):
                return self._read_header(line)
            if line.startswith(b'{"tick"'):
                try:
                    return Tick(_tick.decode(line).tick, origin)
                except (msgspec.ValidationError, msgspec.DecodeError) as exc:
                    raise DecodeError(f"bad recording tick: {exc}") from None
            return Message(line, _TEXT, origin)
        try:
            fr = _frame.decode(line)
        except (msgspec.ValidationError, msgspec.DecodeError):
            fr = self._with_bad_base64(line)
            if fr is None:  # not a recording line after all: let the dialect say what is wrong
                return Message(line, _TEXT, origin)
        opcode = _OPCODES.get(fr.opcode)
        if opcode is None:
            raise DecodeError(f"recording line with unknown opcode {fr.opcode!r}")
        if fr.text is not None:
            data = fr.text.encode("utf-8", "surrogateescape")
        elif fr.data_b64 is not None:
            data = fr.data_b64
        else:
            raise DecodeError("recording line has neither text nor data_b64")
        recv = None
        if fr.t is not None:
            t = fr.t if fr.t >= 1e8 or self.started is None else self.started + fr.t
            if 0 <= t < _T_LIMIT:  # recordings keep microseconds
                recv = round(t * 1e6) * 1000
            # (else unknown, as with no t: past what a pcapng holds, 2554-07-21, or before 1970, or 1e308, whose
            # microseconds are no integer; v2 times by it what its text does not, and its packets were timed with
            # the bits that fit)
        return Message(data, opcode, origin, recv)

    @staticmethod
    def _with_bad_base64(line: bytes) -> _Frame | None:
        """A line msgspec refused: a recording line whose ``data_b64`` msgspec would not decode (base64's
        own decoder has the last word, and says what is wrong), or None when it is not a recording line."""
        try:
            fr = _frame_text.decode(line)
        except (msgspec.ValidationError, msgspec.DecodeError):
            return None
        if fr.data_b64 is None:
            return None
        try:
            data = base64.b64decode(fr.data_b64, validate=True)
        except ValueError as exc:
            raise DecodeError(f"recording line: bad base64 in data_b64 ({exc})") from None
        return _Frame(fr.opcode, fr.t, fr.text, data)

    def _read_header(self, line: bytes) -> None:
        try:
            hdr = _header.decode(line)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise DecodeError(f"bad recording header: {exc}") from None
        if hdr.ecq2pcap != RECORDING_MAGIC:
            raise DecodeError(f"unknown ecq2pcap header kind {hdr.ecq2pcap!r}")
        self.started, self.url = hdr.started, hdr.url
        return None


def frame_line(message: Message) -> bytes:
    """The recording line for a message (inverse of :meth:`LineDecoder.message`)."""
    t = None if message.recv_time_ns is None else round(message.recv_time_ns / 1e9, 6)
    if message.opcode is _TEXT:
        try:
            return msgspec.json.encode({"t": t, "opcode": "text", "text": message.data.decode("utf-8")})
        except UnicodeDecodeError:
            pass
    b64 = base64.b64encode(message.data).decode("ascii")
    return msgspec.json.encode({"t": t, "opcode": message.opcode.value, "data_b64": b64})


def tick_line(now_ns: int, t: float) -> bytes:
    """The recording line of a tick (the data's clock moved to ``now_ns`` at wall time ``t``)."""
    return msgspec.json.encode({"tick": now_ns, "t": round(t, 6)})


def header_line(url: str, started: float) -> bytes:
    return msgspec.json.encode({"ecq2pcap": RECORDING_MAGIC, "version": 1, "url": url, "started": started})


def recorded_time_ns(ns: int | None) -> int | None:
    """A receive time as a recording gives it back: float seconds, 6 decimals
    (``frame_line``), read as whole microseconds (``LineDecoder``)."""
    return None if ns is None else round(round(ns / 1e9, 6) * 1e6) * 1000


class Recorder:
    """Writes an ecq2pcap recording: a header line, then one line per message.

    Lines are written whole (a full disk cuts the file back to the last whole line, see
    :class:`UnitWriter`); :meth:`flush` puts them on disk (the session does after every
    batch of messages).
    """

    def __init__(self, out: BinaryIO, url: str, name: str, started: float | None = None) -> None:
        self.out = out
        self._units = UnitWriter(out)
        self.name = name  # what `convert` will call this file in origins
        self.lines = 1
        self.messages = 0
        self.bytes = 0
        self._units.write(header_line(url, time.time() if started is None else started) + b"\n")
        self.flush()

    def write(self, message: Message) -> int:
        """Record one message; returns its line number."""
        self._units.write(frame_line(message) + b"\n")
        self.lines += 1
        self.messages += 1
        self.bytes += len(message.data)
        return self.lines

    def tick(self, now_ns: int) -> None:
        """Record that the data's clock moved to ``now_ns`` (see :class:`~ecq2pcap.model.Tick`)."""
        self._units.write(tick_line(now_ns, time.time()) + b"\n")
        self.lines += 1

    def flush(self) -> None:
        self._units.flush()
