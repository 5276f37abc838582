"""eCapture v2's console output, written for tests as eCapture writes it (not with ecq2pcap's code).

The rules, from gojue/ecapture v2.5.1 and zerolog v1.34 (read, not copied):

* the text handler gives the event's rendering, a newline added when it ends otherwise, to the probe's logger as an
  Info message (``internal/probe/base/handlers/text_handler.go``, ``internal/output/writers/logger_writer.go``);
* zerolog writes the record as JSON first: each byte that is not UTF-8 becomes U+FFFD, one a byte as Go's
  ``utf8.DecodeRuneInString`` reads them (``internal/json/string.go``); ``ConsoleWriter`` reads that JSON back;
* the probe's logger formats the message with ``escapeCtrlChars`` (``internal/logger/logger.go``: newline and tab
  kept; ``\\a \\b \\f \\r \\v`` by name; other runes below 0x20 and DEL as ``\\x%02x``; nothing else, backslashes
  included) — v2.0.0 had no such formatting;
* ``ConsoleWriter`` (``console.go``): the parts time (dark grey), level (``INF`` green), message, joined by a space
  when not empty; a space and the fields sorted by name, each ``name=`` cyan and its value plain (quoted by
  ``strconv.Quote`` when it holds a space, a quote, a backslash or a byte outside 0x21–0x7e); a newline. Colours
  are ``ESC[<n>m … ESC[0m`` unless ``NO_COLOR`` is set.
"""

from __future__ import annotations

import codecs
import json
from datetime import datetime, timedelta, timezone

codecs.register_error("go_per_byte", lambda e: ("\ufffd", e.start + 1))

_NAMED = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\r": "\\r", "\v": "\\v"}


def go_string(data: bytes) -> str:
    """``data`` as zerolog's JSON step leaves it: U+FFFD for each byte that is not UTF-8."""
    return data.decode("utf-8", "go_per_byte")


def escape_ctrl_chars(text: str) -> str:
    out = []
    for ch in text:
        if ch in "\n\t":
            out.append(ch)
        elif ch in _NAMED:
            out.append(_NAMED[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return "".join(out)


def _colour(text: str, code: int, colour: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if colour and code else text


def _value(text: str) -> str:
    if any(c < "\x21" or c > "\x7e" or c in '\\"' for c in text):
        return json.dumps(text, ensure_ascii=False)  # (strconv.Quote's form for what these tests quote)
    return text


def rfc3339(utc_ns: int, offset_minutes: int) -> str:
    zone = timezone(timedelta(minutes=offset_minutes))
    text = datetime.fromtimestamp(utc_ns // 1_000_000_000, zone).isoformat()
    return text.replace("+00:00", "Z")


def record(message: str, time: str, fields: dict[str, str], *, colour: bool = True, level: str = "INF",
           escape: bool = True, bold: bool = False) -> bytes:
    """One console record. ``escape``: the probe logger's message formatting (v2.1+); ``bold``: the root logger's
    default formatting of an Info message."""
    parts = [_colour(time, 90, colour), _colour(level, {"INF": 32, "WRN": 33, "ERR": 31}.get(level, 0), colour)]
    if message:
        parts.append(escape_ctrl_chars(message) if escape else _colour(message, 1, colour and bold))
    line = " ".join(parts)
    if fields:
        line += " " + " ".join(_colour(f"{k}=", 36, colour) + _value(v) for k, v in sorted(fields.items()))
    return (line + "\n").encode()


def event_record(rendering: bytes, time: str, *, probe: str = "openssl", colour: bool = True,
                 escape: bool = True) -> bytes:
    """An event's record: its rendering as the text handler gives it (a newline added when it ends otherwise)."""
    if not rendering.endswith(b"\n"):
        rendering += b"\n"
    return record(go_string(rendering), time, {"probe": probe}, colour=colour, escape=escape)
