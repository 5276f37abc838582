"""Repair the framing of eCapture's re-rendered HTTP/1 messages (``type`` 1 and 3).

eCapture v1.x hands an HTTP/1 message to Go's ``httputil.DumpRequest``/``DumpResponse``
and appends the body it read through ``Body``: **de-chunked**, and **gunzipped** when
``Content-Encoding`` is exactly ``gzip``. The framing headers are left as they were
(protocol doc §4.3), so the bytes are no longer a valid wire message: a parser would
look for chunk sizes in a plain body, or read ``Content-Length`` bytes of the wrong size
and swallow the next message.

:func:`repair_rendered` rewrites only the framing headers so that they agree with the
body that is actually there; everything else (order, casing, values, body) is kept.
"""

from __future__ import annotations

import re

from ..limits import DEFAULT_LIMITS, LOST_BY_ECAPTURE, limit_note
from ..memo import Memo
from ..speedups import compiled
from .go_gzip import opens_as_gzip
from .header_names import TOKEN, field_name
from .numbers import ascii_number

__all__ = ["repair_rendered", "starts_http1_message", "NOT_HTTP1", "HEAD_REPAIRS"]

NOT_HTTP1 = "not an HTTP/1 message: left as is"
# how the notes of :func:`repair_rendered` begin: a HAR entry, which shows the head eCapture rendered, tells them apart
HEAD_REPAIRS = ("Transfer-Encoding: ", "Content-Encoding: ", "Content-Length", "duplicate Content-Length",
                "body not captured (eCapture rendered the headers only)")

_REQUEST_LINE = re.compile(rb"(%s) [^\x00-\x20\x7f]+ HTTP/1\.[0-9]" % TOKEN)  # (a method is a token)
_STATUS_LINE = re.compile(rb"HTTP/1\.[0-9] ([0-9]{3})(?: [^\r\n]*)?")
_TE, _CE, _CL = b"\r\ntransfer-encoding:", b"\r\ncontent-encoding:", b"\r\ncontent-length:"  # in a lower-cased head
_FRAMING_NAMES = {needle[2:-1]: needle for needle in (_TE, _CE, _CL)}  # by lower-cased name
_OTHER = (b"", b"", None)  # a header line that does not frame (see _line_facts)
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(?:;[^\r\n]*)?")  # (group 1: the size)

_HEX = b"0123456789abcdefABCDEF"
_GZIP_MAGIC = b"\x1f\x8b"

FAST = True  # False: every message through the general rules (tests compare the two)
_C = compiled()
AGREES = None if _C is None else _C.rendered_agrees  # (the fast exit's answer in C: _rendered.c; None: Python's)


def starts_http1_message(data: bytes) -> bool:
    """True when ``data`` starts with an HTTP/1 request line or status line."""
    return _REQUEST_LINE.match(data) is not None or _STATUS_LINE.match(data) is not None

# (LOST_BY_ECAPTURE in it: a summary warning, the HAR entry's _error; eCapture read the body with Go's parser from the
# bytes it kept, 16 KiB of a call or --tsize)
_TRUNCATED = f"body shorter than declared: the rest {LOST_BY_ECAPTURE} (its 16 KiB cap on a call, or --tsize)"


def repair_rendered(payload: bytes, *, request_method: str | None = None,
                    max_head: int = DEFAULT_LIMITS.header_section_size) -> tuple[bytes, tuple[str, ...]]:
    """Return ``(wire bytes, notes)`` for one eCapture-rendered HTTP/1 message.

    The result's framing agrees with its body, so h11 and Wireshark parse exactly this
    message. ``notes`` says what changed, in short phrases; it is empty (and ``payload``
    is returned unchanged) when the framing already agreed. Anything that does not
    parse as one HTTP/1 message is returned as is with the note :data:`NOT_HTTP1`.

    ``request_method`` (optional) is the method of the request a response answers;
    with ``"HEAD"`` a response's ``Content-Length`` without a body is legitimate. A header section
    over ``max_head`` bytes is left as is, with a note naming the limit (the HTTP parsers skip such a
    head; reading its lines here took ~35× its size in memory: 820 MB for 5.9 million empty fields).
    """
    if AGREES is not None and FAST and AGREES(payload, request_method is not None and request_method.upper() == "HEAD",
                                              max_head):
        return payload, ()  # (what the fast exit below answers for most messages, ~20k instructions less)
    end = payload.find(b"\r\n\r\n")
    if end < 0:
        return payload, (NOT_HTTP1,)
    if end + 4 > max_head:
        return payload, (limit_note("header_section_size", f"header section of {end + 4:,} bytes: framing left "
                                    "as eCapture rendered it"),)
    eol = payload.find(b"\r\n", 0, end)  # the start line's end (-1: no header lines)
    start_end = eol if eol >= 0 else end
    status: int | None = None
    line = payload[:start_end]
    # (a status line; a request's method cannot hold a "/": one regex, not two. A slice compared: startswith parses its
    # arguments, ~0.3k instructions)
    if payload[:5] == b"HTTP/":
        status = _STATUS_LINES.known.get(line) or _STATUS_LINES.miss(line)
        if status is None:
            return payload, (NOT_HTTP1,)
    elif not (_REQUEST_LINES.known.get(line) or _REQUEST_LINES.miss(line)):
        return payload, (NOT_HTTP1,)

    # the header lines: what each says (a header line or not, a framing one or not) kept by line, as a
    # client repeats them (a lookup ~0.2k instructions, one regex over the head was ~10k)
    framing = []
    if eol >= 0:
        known = _LINES.known
        for line in payload[eol + 2 : end].split(b"\r\n"):
            facts = known.get(line) or _LINES.miss(line)
            if facts is None:
                return payload, (NOT_HTTP1,)
            if facts is not _OTHER:
                framing.append(facts)
    body_start = end + 4
    body_len = len(payload) - body_start
    is_response = status is not None
    bodiless_status = status is not None and (status < 200 or status in (204, 304))
    head_response = is_response and request_method is not None and request_method.upper() == "HEAD"

    if FAST and _framing_agrees(framing, body_len, is_response, bodiless_status or head_response):
        return payload, ()
    # the two repairs most responses that need one need, made as the rules below make them without their numbering
    # and rebuilding every line (a test holds them to the rules): a de-chunked body's one framing line, its
    # Transfer-Encoding, becomes its Content-Length (~50k instructions → ~33k); a gunzipped body loses its
    # Content-Encoding line and its Content-Length says its length (~63k → ~35k)
    if FAST and framing and body_len and not (bodiless_status or head_response):
        first = framing[0][0]
        if len(framing) == 1 and first is _TE and not _is_chunked_body(payload, body_start):
            line = framing[0][3]
            at = _line_at(payload, line, eol, end)
            return (b"".join((payload[:at], b"Content-Length: ", str(body_len).encode(),
                              memoryview(payload)[at + len(line) :])),
                    (f"Transfer-Encoding: {_shown(framing[0][1])} removed (eCapture delivered the body de-chunked)",
                     f"Content-Length: {body_len} added"))
        if (len(framing) == 2 and first is not _TE and framing[1][0] is not _TE and framing[1][0] is not first
                and payload[body_start : body_start + 2] != _GZIP_MAGIC):  # (one Content-Encoding, one Content-Length)
            gunzipped = _gunzipped(payload, framing, eol, end, body_len)
            if gunzipped is not None:
                return gunzipped

    # (the framing lines numbered here, not in the loop above: that cost every message ~2k instructions. Each is
    # found after the one before by its facts' line, in order: a line equal to one of them between the two would
    # have been a framing line too. Searching the lower-cased head for each name took ~20k)
    lines = payload[:end].split(b"\r\n")
    te_idx: list[int] = []
    ce_idx: list[int] = []
    cl_idx: list[int] = []
    numbered = {_TE: te_idx, _CE: ce_idx, _CL: cl_idx}
    at = 0
    for facts in framing:
        at = lines.index(facts[3], at + 1)
        numbered[facts[0]].append(at)

    notes: list[str] = []
    drop: set[int] = set()
    new_cl: int | None = None  # value to write into Content-Length, None: leave the CL lines alone

    # -- Transfer-Encoding ------------------------------------------------------
    te_dropped = False
    if te_idx:
        if _is_chunked_body(payload, body_start):
            if cl_idx:  # T-E beats C-L; a C-L next to it is a framing conflict
                drop.update(cl_idx)
                notes.append("Content-Length removed (conflicts with Transfer-Encoding: chunked)")
                cl_idx = []
        else:
            te_value = _shown(b", ".join([facts[1] for facts in framing if facts[0] is _TE]))
            drop.update(te_idx)
            te_dropped = True
            notes.append(f"Transfer-Encoding: {te_value} removed (eCapture delivered the body de-chunked)")

    # -- Content-Encoding -------------------------------------------------------
    decoded = False  # eCapture gunzipped the body: its declared length was the encoded body's, no sign of truncation
    if len(ce_idx) == 1 and body_len:
        value = next(facts[1] for facts in framing if facts[0] is _CE)
        coding = value.lower()
        if coding in (b"gzip", b"x-gzip"):
            if payload[body_start : body_start + 2] != _GZIP_MAGIC:
                drop.add(ce_idx[0])
                decoded = True
                notes.append(f"Content-Encoding: {coding.decode()} removed (body already decoded by eCapture)")
            elif value == b"gzip" and opens_as_gzip(payload, body_start):  # (see opens_as_gzip)
                drop.add(ce_idx[0])
                decoded = True
                notes.append("Content-Encoding: gzip removed (body already decoded by eCapture: what it holds is "
                             "gzip data itself, a .gz file sent gzip-encoded)")

    # -- Content-Length ---------------------------------------------------------
    if not te_idx or te_dropped:
        # (what the Content-Length lines declare: one line's, as its facts have it; several lines' together)
        lengths = [facts for facts in framing if facts[0] is _CL] if cl_idx else None
        if not lengths:
            declared = None
        elif len(lengths) == 1:
            declared = lengths[0][2]
        else:
            declared = _declared_length([facts[1] for facts in lengths])
        if body_len == 0:
            if bodiless_status or head_response:
                pass  # Content-Length without a body is legitimate here
            elif cl_idx and declared != 0:
                shown = declared if declared is not None else f"{_shown(_value(lines[cl_idx[0]]))!r} (invalid)"
                notes.append(f"body not captured (eCapture rendered the headers only): Content-Length {shown} → 0")
                new_cl = 0
            elif te_dropped and not cl_idx:
                notes.append("body not captured (eCapture rendered the headers only): Content-Length: 0 set")
                new_cl = 0
            elif not cl_idx and is_response:
                # no framing and no body would make the rest of the stream this response's body
                notes.append("Content-Length: 0 added (response rendered without a body)")
                new_cl = 0
        elif bodiless_status or head_response:
            pass  # bytes after a bodiless response: not ours to reframe
        elif not cl_idx:
            new_cl = body_len
            notes.append(f"Content-Length: {body_len} added")  # (in a dropped Transfer-Encoding's place, or at the end)
        elif declared != body_len:
            new_cl = body_len
            shown = declared if declared is not None else _shown(_value(lines[cl_idx[0]]))
            note = f"Content-Length {shown} → {body_len}"
            if decoded:
                note += " (declared for the gzip-encoded body)"
            elif declared is not None and body_len < declared:
                note += f" ({_TRUNCATED})"
            notes.append(note)
        elif len(cl_idx) > 1:
            new_cl = body_len
            notes.append("duplicate Content-Length headers merged")

    if not notes:
        return payload, ()

    # -- rebuild the header block, changing only the framing lines --------------
    # (the few lines that change, by number: the others are kept as they are, in their order)
    edits: dict[int, bytes | None] = dict.fromkeys(drop)  # (None: the line goes)
    appended = b""
    if new_cl is not None:
        if cl_idx:  # the first Content-Length line says the length, the others go
            edits.update(dict.fromkeys(cl_idx))
            line = lines[cl_idx[0]]
            edits[cl_idx[0]] = line[: line.index(b":")] + b": " + str(new_cl).encode()
        else:
            dropped = [i for i in te_idx if i in drop]
            if dropped:  # where the first T-E line was
                edits[dropped[0]] = b"Content-Length: " + str(new_cl).encode()
            else:
                appended = b"\r\nContent-Length: " + str(new_cl).encode()
    for i in sorted(edits, reverse=True):  # (from the end: a line dropped leaves the numbers before it as they were)
        if edits[i] is None:
            del lines[i]
        else:
            lines[i] = edits[i]
    return b"".join((b"\r\n".join(lines), appended, b"\r\n\r\n", memoryview(payload)[body_start:])), tuple(notes)


def _line_at(payload: bytes, line: bytes, eol: int, end: int) -> int:
    """Where header ``line`` of ``payload``'s head (it ends at ``end``, its start line at ``eol``) starts, the line
    being a framing one: its bytes are between two CRLFs of the head once (an equal line would have been a framing
    line too)."""
    return payload.find(b"\r\n" + line + b"\r\n", eol, end + 2) + 2


def _gunzipped(payload: bytes, framing: list, eol: int, end: int, body_len: int) -> tuple[bytes, tuple[str, ...]] | None:
    """:func:`repair_rendered`'s answer for a body eCapture gunzipped (its head's framing lines: one
    Content-Encoding, one Content-Length; its body not gzip's), None when the coding is not gzip."""
    ce, cl = framing if framing[0][0] is _CE else framing[::-1]
    coding = ce[1].lower()
    if coding not in (b"gzip", b"x-gzip"):
        return None
    notes = [f"Content-Encoding: {coding.decode()} removed (body already decoded by eCapture)"]
    ce_at, ce_line = _line_at(payload, ce[3], eol, end), ce[3]
    declared = cl[2]
    if declared == body_len:  # (its line goes, with its CRLF)
        return b"".join((payload[:ce_at], memoryview(payload)[ce_at + len(ce_line) + 2 :])), tuple(notes)
    shown = declared if declared is not None else _shown(cl[1])
    notes.append(f"Content-Length {shown} → {body_len} (declared for the gzip-encoded body)")
    cl_at, cl_line = _line_at(payload, cl[3], eol, end), cl[3]
    length = cl_line[: cl_line.index(b":")] + b": " + str(body_len).encode()
    if cl_at < ce_at:
        parts = (payload[:cl_at], length, payload[cl_at + len(cl_line) : ce_at],
                 memoryview(payload)[ce_at + len(ce_line) + 2 :])
    else:
        parts = (payload[:ce_at], payload[ce_at + len(ce_line) + 2 : cl_at], length,
                 memoryview(payload)[cl_at + len(cl_line) :])
    return b"".join(parts), tuple(notes)


def _framing_agrees(framing: list[tuple[bytes, bytes, int | None, bytes]], body_len: int, is_response: bool,
                    bodiless: bool) -> bool:
    """The common cases the rules above leave unchanged, told apart quickly (``framing``: the message's
    framing lines, as :func:`_line_facts` gives them): no Transfer-Encoding or Content-Encoding, and a
    response that has no body to frame (1xx, 204, 304, to HEAD), a request with neither body nor
    Content-Length, or one Content-Length that is the body's length."""
    for name, _, _, _ in framing:
        if name != _CL:
            return False  # Transfer-Encoding, Content-Encoding: the rules decide
    if bodiless:  # (a Content-Length there frames no body: left as it is)
        return True
    if not framing:
        return body_len == 0 and not is_response
    if len(framing) > 1:
        return False
    return framing[0][2] == body_len


def _line_facts(line: bytes) -> tuple[bytes, bytes, int | None, bytes] | None:
    """What a header line (of a head split at its CRLFs) says here: None when it is not one (a token and a
    colon), :data:`_OTHER` for a name that does not frame, else (the framing name as in _TE/_CE/_CL, its value
    as _value reads it, for a Content-Length the length it declares, None when invalid: worked out once a
    line; and the line, by which the general rules number it). (What follows the colon is a field value whatever
    it is: a line holds no CRLF.)"""
    read = field_name(line)
    if read is None:
        return None
    _, lowered, colon = read
    needle = _FRAMING_NAMES.get(lowered)
    if needle is None:
        return _OTHER
    value = line[colon + 1 :].strip()
    return needle, value, _declared_length([value]) if needle is _CL else None, line


_LINES = Memo(_line_facts)


def _status_of(line: bytes) -> int | None:
    """The status code of a status line, None when ``line`` is not one."""
    m = _STATUS_LINE.fullmatch(line)
    return int(m.group(1)) if m is not None else None


# a server's status lines repeat ("HTTP/1.1 200 OK"): the regex and int() once per distinct line; so do a client's
# request lines (its method and target: the regex was ~3.9k instructions a request, the lookup ~1.2k)
_STATUS_LINES = Memo(_status_of)
_REQUEST_LINES = Memo(lambda line: _REQUEST_LINE.fullmatch(line) is not None)  # (a False is worked out again)


def _shown(value: bytes, limit: int = 40) -> str:
    """A header value as a note quotes it: at most ``limit`` bytes (a hostile one may be megabytes)."""
    if len(value) <= limit:
        return value.decode("latin-1")
    return f"{value[:limit].decode('latin-1')}… ({len(value)} bytes)"


def _value(line: bytes) -> bytes:
    return line[line.index(b":") + 1 :].strip()


def _declared_length(values: list[bytes]) -> int | None:
    """The Content-Length the header lines declare, None when invalid or inconsistent."""
    found: set[int] = set()
    for v in values:
        for part in v.split(b","):
            number = ascii_number(part.strip())
            if number is None:
                return None
            found.add(number)
    return found.pop() if len(found) == 1 else None


def _is_chunked_body(buf: bytes, pos: int) -> bool:
    """True when ``buf[pos:]`` is exactly one complete chunked body (chunks, last chunk, trailers)."""
    n = len(buf)
    while True:
        if pos >= n or buf[pos] not in _HEX:  # (a chunk-size line starts with a hex digit: a plain body is not read)
            return False
        eol = buf.find(b"\r\n", pos)
        m = _CHUNK_SIZE.fullmatch(buf, pos, eol) if eol >= 0 else None
        if m is None:
            return False
        size = int(m[1], 16)
        pos = eol + 2
        if size == 0:
            break
        pos += size
        if buf[pos : pos + 2] != b"\r\n":
            return False
        pos += 2
    # trailer section: header lines, then an empty line that ends the message
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return False
        if eol == pos:
            return eol + 2 == n
        if buf.find(b":", pos, eol) <= pos:
            return False
        pos = eol + 2
