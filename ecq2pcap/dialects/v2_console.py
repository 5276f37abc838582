"""eCapture v2's console output: what ``ecapture tls`` prints when no eCaptureQ client is asked for, its default
(``ecapture tls > capture.log``).

v2.0.0–v2.5.1 give each event's rendering (:mod:`.v2_text`'s forms) to the probe's logger as a message: with no
``--ecaptureq``, the text handler's writer is that logger (gojue/ecapture ``internal/probe/base/base_probe.go``;
the command line never hands ``--eventaddr`` to the probe, so that flag does not change it). The logger is a
zerolog v1.34 ``ConsoleWriter`` on stdout (``internal/logger/logger.go``), which prints a record as::

    ESC[90m2026-12-07T10:00:00+08:00ESC[0m ESC[32mINFESC[0m [2026-12-07 10:00:00.123] PID:7 TID:7 Comm:curl FD:5 …
    GET / HTTP/1.1\\r
    Host: example.com\\r
    \\r
     ESC[36mprobe=ESC[0mopenssl

the time in RFC 3339 with the host's UTC offset (whole seconds), the level, the message, then the fields, one record
a line unless the message holds newlines (colours unless ``NO_COLOR`` is set). The rendering ends in a newline
(the text handler adds one), so ``probe=`` begins the record's last line. The message is not the event's bytes as
they were:

* zerolog's JSON step writes U+FFFD for each byte that is not UTF-8: those bytes are **lost**. They are kept as
  U+FFFD (what eCapture printed), and the capture's note says how many (HTTP/2 and compressed bodies lose most of
  theirs: ask eCapture for ``--ecaptureq`` to keep them).
* since v2.1.0 control characters are escaped as strace does (``\\r``, ``\\a``, ``\\b``, ``\\f``, ``\\v``, ``\\xHH``;
  newline and tab kept), but a backslash of the data is not: ``\\r`` may be a CR or the data's own two characters.
  A data event's header says how many bytes it had, and the reading taken is the one that gives that many: every
  escape read as one (what most data gives), else a ``\\r`` before no newline read as the data's own (JSON's
  ``"\\r\\n"`` in a body), else no escape at all (v2.0.0 escaped nothing). When none gives it, the escapes are
  read as escapes and the note says so.

Other records (eCapture's own log lines) are process logs, their fields read (``Version`` names the eCapture
version). eCapture v1.4.3–v1.5.x print their events on the console too, without a length or a direction: each is kept
as an annotation and warned of, not converted.
"""

from __future__ import annotations

import calendar
import json
import re

from ..limits import LOST_BY_ECAPTURE
from ..memo import Memo
from ..model import Annotation, DecodeError, ProcessLog, Record
from .state import StreamState
from .v2_text import DATA_HEAD, GOTLS_HEAD, SECOND, data_capture, decode_v2_payload, gotls_capture

__all__ = ["RECORD_START", "V1_EVENT_KIND", "decode", "unescape"]

# a record's first line: the time (RFC 3339, as zerolog's TimeFieldFormat gives it), the level, then its message
RECORD_START = re.compile(
    rb"(\x1b\[90m)?(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d{1,9})?(Z|[+-]\d\d:\d\d)(?:\x1b\[0m)? "
    rb"(?:\x1b\[[0-9;]*m)?(TRC|DBG|INF|WRN|ERR|FTL|PNC|\?\?\?)(?:\x1b\[0m)?(?: |\n|\Z)")
_LEVELS = {b"TRC": "trace", b"DBG": "debug", b"INF": "info", b"WRN": "warn", b"ERR": "error", b"FTL": "fatal",
           b"PNC": "panic", b"???": ""}
_FIELD_NAME = b"\x1b[36m"  # (zerolog colours a field's name cyan: the data's ESC is escaped, so only zerolog's)
_COLOURED_FIELD = re.compile(rb"\x1b\[36m(.*?)=\x1b\[0m(.*?)(?= \x1b\[36m|\Z)", re.S)
_PLAIN_FIELD = re.compile(rb' ([A-Za-z_][\w.\-]*)=("(?:[^"\\\n]|\\.)*"|[^\s"]*)\Z')
_COLOUR = re.compile(rb"\x1b\[[0-9;]*m")
_FIELDS = 32  # (fields of a record read without colours, at most, in its last 64 KiB)
_FIELDS_TAIL = 1 << 16
_NONE_ESCAPED = "every backslash read as the data's own"
_CRLF_ONLY = "backslashes read as the data's own but before CR LF's \\r\\n"
_PROBE_FIELD = b"\n \x1b[36mprobe=\x1b[0m"
_PLAIN_NAME = re.compile(rb"[\w.\-]{1,64}")
# logger.escapeCtrlChars: \a \b \f \r \v by name, other controls below 0x20 (not newline and tab) and DEL as \xHH
_ESCAPE = re.compile(rb"\\(?:([abfrv])|x(0[0-6]|0[ef]|1[0-9a-f]|7f))")
_NAMED_ALONE = re.compile(rb"\\[abfv]|\\r(?!\n)")  # (an escape by name but CR LF's)
_NAMED = {b"a": b"\a", b"b": b"\b", b"f": b"\f", b"r": b"\r", b"v": b"\v"}
_REPLACEMENT = "\ufffd".encode()
# eCapture v1.4.3-1.5.x print an event on the console as "PID:…, Comm:…, Src:…, Dest:…," and its bytes, unescaped,
# a final newline dropped, with no level (``event.CollectorWriter``, zerolog's ``Logger.Write``): neither their
# length nor their direction is said, so they are not converted; each is kept as an annotation, and warned of
_V1_EVENT = re.compile(rb"PID:(\d{1,18}), Comm:(.{0,64}?), Src:[^\n]{0,300}, Dest:[^\n]{0,300},\n", re.S)
V1_EVENT_KIND = "unknown: an eCapture v1 console event (no length or direction: not converted; use --ecaptureq)"


def _unescaped(m: re.Match) -> bytes:
    return _NAMED[m[1]] if m[1] else bytes((int(m[2], 16),))


def unescape(text: bytes) -> bytes:
    """``text`` with every escape the console writes read as one."""
    return _ESCAPE.sub(_unescaped, text) if b"\\" in text else text


def _crlf_only(text: bytes) -> bytes:
    """The reading where only a ``\\r`` before a newline is an escape."""
    def cr_lf(m: re.Match) -> bytes:
        return b"\r" if m[1] == b"r" and text[m.end():m.end() + 1] == b"\n" else m[0]
    return _ESCAPE.sub(cr_lf, text)


def _time(m: re.Match) -> int | None:
    """A record's time in UTC nanoseconds (its zone is the eCapture host's)."""
    second = m.group(2, 3, 4, 5, 6, 7, 9)
    ns = _SECONDS.known.get(second) or _SECONDS.miss(second)
    if ns is None:
        return None
    return ns + int((m[8][1:] + b"00000000")[:9]) if m[8] else ns


def _second(parts: tuple[bytes, ...]) -> int | None:
    try:
        secs = calendar.timegm(tuple(int(p) for p in parts[:6]))  # type: ignore[arg-type]
    except (ValueError, OverflowError):
        return None
    zone = parts[6]
    offset = 0 if zone == b"Z" else (1 if zone[:1] == b"+" else -1) * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    return (secs - offset) * SECOND


_SECONDS = Memo(_second, max_entries=1024)  # (the records of one second share it: timegm was ~5 µs a record)


def _fields(rest: bytes) -> tuple[bytes, dict[str, str]]:
    """(the message, the fields) of a record's text after its level."""
    at = rest.rfind(_PROBE_FIELD)  # (an event's record: its one field on the last line, read without the regexes)
    if at >= 0 and _PLAIN_NAME.fullmatch(rest, at + len(_PROBE_FIELD)) is not None:
        return rest[:at + 1], {"probe": rest[at + len(_PROBE_FIELD):].decode()}
    at = rest.find(_FIELD_NAME)
    if at >= 0:  # (coloured: the first field's name begins the fields)
        found = {_COLOUR.sub(b"", k).decode("utf-8", "replace"): _value(_COLOUR.sub(b"", v))
                 for k, v in _COLOURED_FIELD.findall(rest, at)}
        return rest[:at - 1 if at and rest[at - 1:at] == b" " else at], found
    found = {}
    rest = b" " + rest  # (each field after a space, the first one's eaten by the level)
    # (from the end, the message may hold "="; a search a field, so at most _FIELDS of them: zerolog's records have a
    # few, and a line of a million "a=b" would be searched a million times)
    for _ in range(_FIELDS):
        m = _PLAIN_FIELD.search(rest, max(len(rest) - _FIELDS_TAIL, 0))
        if m is None:
            break
        found[m[1].decode()] = _value(m[2])
        rest = rest[:m.start()]
    return rest[1:], dict(reversed(found.items()))


def _value(raw: bytes) -> str:
    text = raw.decode("utf-8", "replace")
    if len(text) >= 2 and text[0] == text[-1] == '"':  # (strconv.Quote's, mostly JSON's escapes)
        try:
            return json.loads(text)
        except ValueError:
            pass
    return text


def decode(data: bytes, origin: str, state: StreamState | None = None) -> list[Record]:
    """The records of one console record (its first line and those its message goes on over)."""
    end = data.find(b"\n")
    if data[end - 1:end] == b"\r" and end > 0:  # (line ends made CR LF on the way: a Windows tool's copy)
        data = data.replace(b"\r\n", b"\n")  # (the console prints the data's CRs escaped: these CRs are not data)
    m = RECORD_START.match(data)
    if m is None:
        raise DecodeError("not a line of eCapture's console output (no time and level at its start)")
    ts = _time(m)  # (in UTC: the renderings' local times are told from it, as from eCaptureQ's receive times)
    rest = data[m.end():]
    if rest.endswith(b"\n"):
        rest = rest[:-1]
    message, fields = _fields(rest)
    if "probe" in fields and message.endswith(b"\n"):  # (an event's rendering: the text handler ends it so)
        records = _event(message, origin, ts, state)
        if records is not None:
            return records
    if (v1 := _V1_EVENT.match(message)) is not None:  # (v1.4.3-1.5.x's event line: no length, no direction)
        return [Annotation(V1_EVENT_KIND, message.decode("utf-8", "replace"), pid=int(v1[1]),
                           comm=v1[2].decode("utf-8", "replace"), timestamp_ns=ts, origin=origin)]
    if "probe" in fields:  # (the probe's logger escapes its messages; the root logger's are as they were)
        message = unescape(message)
    text = _COLOUR.sub(b"", message).decode("utf-8", "replace")
    return [ProcessLog(text, {"level": _LEVELS[m[10]], **fields, "message": text}, origin)]


def _event(message: bytes, origin: str, ts: int | None, state: StreamState | None) -> list[Record] | None:
    first = message.find(b"\n") + 1
    head = unescape(message[:first])
    if (m := DATA_HEAD.match(head)) is not None and not m[8]:
        data, notes = _data(message[first:], int(m[7]))
        return [data_capture(m, data, notes, origin, ts, state)]
    second = message.find(b"\n", first) + 1
    if second and (m := GOTLS_HEAD.match(unescape(message[:second]))) is not None and not m[8]:
        data, notes = _data(message[second:], int(m[7]))
        return [gotls_capture(m, data, notes, origin, ts)]
    # (any other rendering says no length to choose a reading by: its text after the first line, a shell's line or a
    # query, more likely holds backslashes of its own than control bytes, so only CR LF's \r is read as one)
    records = decode_v2_payload(head + _crlf_only(message[first:]), origin, ts, state)
    if len(records) == 1 and getattr(records[0], "kind", None) == "text":
        return None  # (no rendering: a log line of the probe's)
    return records


def _data(text: bytes, n: int) -> tuple[bytes, list[str]]:
    """A data event's bytes from their console text (ending in the newline the text handler adds when they do not
    end in one), by the length its header announces, and what was noted.

    The readings, the likelier first: a \\r before a newline is HTTP's CR LF; in text (what the bytes are when no
    byte was lost), any other escape is more likely the data's own backslash (JSON's "\\r\\n" or "\\b", a
    Windows path) than a control byte; then every escape one (binary data); last, none (v2.0.0 escaped nothing)."""
    every, escapes = _ESCAPE.subn(_unescaped, text) if b"\\" in text else (text, 0)
    only_crlf = escapes == text.count(b"\\r\n")  # (none but CR LF's: what an HTTP/1 message's text holds)
    readings: list[tuple[str | None, bytes]] = [(None, every)]
    if not only_crlf:
        readings.insert(0, (_CRLF_ONLY, _crlf_only(text)))
    fits = [(why, found) for why, data in readings if (found := _announced(data, n)) is not None]
    if not fits and escapes and (found := _announced(text, n)) is not None:
        fits = [(_NONE_ESCAPED, found)]
    if fits:
        why, data = fits[0]
        notes = [] if why is None else [f"{why} (the console does not escape backslashes): as many bytes as the "
                                        "header announces"]
        if any(other != data for _, other in fits[1:]) or (
                not only_crlf and why is None and len(data) == n and data.endswith(b"\n")
                and _NAMED_ALONE.search(text) is not None):
            # (or: an escape by name the data's own two characters, and the last newline the console's)
            notes.append("another reading of the console's escapes gives as many bytes too: this one may be wrong")
        return data, notes
    # (bytes that were not UTF-8, each printed as U+FFFD, 3 bytes where there was 1: every escape one first, binary
    # data's control bytes being what the escapes more likely are)
    lossy = readings[::-1] + [(_NONE_ESCAPED, text)] if escapes else readings
    for why, data in lossy:
        lost = data.count(_REPLACEMENT)
        k = (len(data) - n) // 2  # (as many of them lost as the length says: all, else some U+FFFD the data's own)
        if 0 < k <= lost and (found := _announced(data, n + 2 * k)) is not None:  # (each lost byte a "?": as many
            notes = [_lost_note(k, lost)]  # bytes as there were, and HTTP's framing holds)
            if not only_crlf:
                notes.append(f"{why or 'its escapes read as escapes'}: where bytes were lost, the data's own "
                             "backslashes cannot be told from the console's escapes by the length")
            return found.replace(_REPLACEMENT, b"?", k), notes
    data = every
    if data.endswith(b"\n") and len(data) != n:
        data = data[:-1]
    notes = [f"the console gave {len(data)} bytes where the header announces {n}: its escapes read as escapes"]
    if _REPLACEMENT in data:
        notes.append(_lost_note(None, data.count(_REPLACEMENT)))
    return data, notes


def _announced(data: bytes, n: int) -> bytes | None:
    """``data`` as the event's ``n`` bytes (the text handler's newline left out), if it is that long."""
    if len(data) == n:
        return data
    if len(data) == n + 1 and data.endswith(b"\n"):
        return data[:-1]
    return None


def _lost_note(count: int | None, printed: int) -> str:
    said = f"{count} byte(s) that were not UTF-8" if count is not None else "bytes that were not UTF-8"
    if count is None:
        kept = "the U+FFFD kept"
    elif count == printed:
        kept = 'each kept as a "?"'
    else:
        kept = (f'the first {count} kept as a "?" each, the others taken for the data\'s own U+FFFD (which is which '
                'is not known)')
    return (f"{said} {LOST_BY_ECAPTURE}'s console output, which printed U+FFFD for each ({printed} in the data): "
            f"{kept}; eCapture's --ecaptureq keeps every byte")
