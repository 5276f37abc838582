"""The fast path: whole, simply framed messages parsed without h11.

Most messages eCapture delivers are whole: a head and then a body of exactly
Content-Length bytes (or none). For those, a fresh h11 machine per message is most of the
cost of a HAR conversion, so the decoder first asks :func:`fast_request` /
:func:`fast_response`; they return a :class:`~.readers.WholeMessage` only for a head
that the strict RFC 9112 patterns of :mod:`.grammar` accept and whose framing is
unambiguous, else None (and h11 reads it). Anything in doubt goes to h11: the two paths
give identical exchanges (a test holds them to it).
"""

from __future__ import annotations

from ...memo import Memo
from .events import RequestHead, ResponseHead
from ..header_names import field_name
from .grammar import DIGITS, REQUEST_LINE, STATUS_LINE, text
from .readers import WholeMessage

__all__ = ["FAST_MAX_HEAD", "NO_BODY_METHODS", "fast_request", "fast_response"]

FAST_MAX_HEAD = 256 * 1024  # larger heads go through h11
NO_BODY_METHODS = ("HEAD", "CONNECT")  # their responses are framed by the request: h11 reads them
_VERSIONS = (b"1.1", b"1.0")
_HOST, _LENGTH, _H11 = 0, 1, 2  # what a header name means here (_FRAMING); other names are just kept
_FRAMING = {b"host": _HOST, b"content-length": _LENGTH, b"transfer-encoding": _H11, b"upgrade": _H11}


def _field(line: bytes) -> tuple | None:
    """(field, kind, Content-Length, field as text) of one header line (Content-Length: -1 when not a number we
    take, None for other names; the text as :func:`~.grammar.text` reads name and value: what the message's
    headers hold); None when FIELD_LINE would refuse the line (obs-fold, a bare CR, bad bytes…).
    FIELD_LINE's work in two steps: the name read once per name (:func:`~ecq2pcap.payloads.header_names.field_name`),
    the value's bytes checked by deleting those a field value may hold."""
    read = field_name(line)
    if read is None:
        return None
    name, lowered, colon = read
    value = line[colon + 1 :]
    if value.translate(None, _VALUE_BYTES):
        return None
    value = value.strip(b" \t")  # (OWS either side: what is left starts and ends with a field-vchar)
    kind = _FRAMING.get(lowered)
    number = None
    if kind == _LENGTH:
        number = int(value) if DIGITS.fullmatch(value) is not None else -1
    return (name, value), kind, number, (text(name), text(value))


_VALUE_BYTES = b"\t " + bytes(range(0x21, 0x7F)) + bytes(range(0x80, 0x100))  # SP, HTAB, field-vchar: RFC 9110 §5.5


# what each header line says, kept (ecq2pcap.memo): a client's repeated User-Agent/Accept/Host lines are not read
# again, ~3/4 of a head's cost (~4.5k instructions a line with FIELD_LINE's match; a lookup ~0.2k)
_LINES = Memo(_field)


def _head(buf: bytearray, pos: int, max_line: int, max_head: int):
    """(start line, fields, Content-Length or None, Host count, head end) of a CRLF-only head
    that h11 would read the same way and within the header limits, or None."""
    end = buf.find(b"\r\n\r\n", pos, pos + (max_head if max_head < FAST_MAX_HEAD else FAST_MAX_HEAD))  # (not min())
    if end < 0:
        return None
    head = bytes(buf[pos:end])
    lines = head.split(b"\r\n")
    if len(lines[0]) >= max_line:  # (a start line find_start would not take, CR and all: the decoder asks us first)
        return None
    long_lines = len(head) > max_line  # (else no line can be over the limit: no check per line)
    fields = []
    texts = []  # (the fields as text, kept with the lines: no second loop to decode them, ~0.7k a line)
    length = None
    hosts = 0
    known = _LINES.known  # (a method call on a plain dict: the cheapest lookup in a loop on 3.11)
    for line in lines[1:]:
        if long_lines and len(line) > max_line:
            return None
        facts = known.get(line) or _LINES.miss(line)
        if facts is None:
            return None  # (h11 decides)
        field, kind, number, pair = facts
        if kind is not None:
            if kind == _HOST:
                hosts += 1
            elif kind == _LENGTH:
                if length is not None or number < 0:
                    return None
                length = number
            else:
                return None  # Transfer-Encoding, Upgrade: h11 reads them
        fields.append(field)
        texts.append(pair)
    return lines[0], fields, length, hosts, end + 4, texts


def fast_request(buf: bytearray, pos: int, max_line: int, max_head: int) -> WholeMessage | None:
    """The request at ``buf[pos:]`` when it is whole and simple."""
    head = _head(buf, pos, max_line, max_head)
    if head is None:
        return None
    line, fields, length, hosts, head_end, texts = head
    request_line = _REQUEST_LINES.known.get(line) or _REQUEST_LINES.miss(line)
    if request_line is None:
        return None
    method, target, version = request_line
    if method == b"CONNECT" or version not in _VERSIONS:
        return None
    if hosts > 1 or (hosts == 0 and version == b"1.1"):
        return None  # h11 refuses it
    if length is None:
        length = 0
    if len(buf) < head_end + length:
        return None
    body = bytes(buf[head_end : head_end + length]) if length else b""
    return WholeMessage(RequestHead(method, target, version, fields), body, 0, head_end - pos + length, texts)


def fast_response(buf: bytearray, pos: int, max_line: int, max_head: int) -> WholeMessage | None:
    """The response at ``buf[pos:]`` when it is whole, final, not 204/304 and framed by
    Content-Length (the caller excludes answers to :data:`NO_BODY_METHODS`)."""
    head = _head(buf, pos, max_line, max_head)
    if head is None:
        return None
    line, fields, length, _hosts, head_end, texts = head
    if length is None:
        return None  # EOF-delimited
    status_line = _STATUS_LINES.known.get(line) or _STATUS_LINES.miss(line)
    if status_line is None or len(buf) < head_end + length:
        return None
    status, reason, version = status_line
    body = bytes(buf[head_end : head_end + length]) if length else b""
    return WholeMessage(ResponseHead(status, reason, version, fields), body, 0, head_end - pos + length, texts)


def _request_line(line: bytes) -> tuple[bytes, bytes, bytes] | None:
    """(method, target, version) of a request line REQUEST_LINE matches, else None."""
    m = REQUEST_LINE.fullmatch(line)
    return None if m is None else m.group("method", "target", "http_version")


# a client's request lines repeat ("GET / HTTP/1.1"): what each says kept as the header lines' (~4k instructions a
# request: the regex and its groups)
_REQUEST_LINES = Memo(_request_line)


def _status_line(line: bytes) -> tuple[int, bytes, bytes] | None:
    """(status, reason, version) of a final status line the fast path takes (not 1xx, 204 or 304; HTTP/1.0 or
    1.1), else None (h11 reads the response)."""
    m = STATUS_LINE.fullmatch(line)
    if m is None:
        return None
    version, code, reason = m.group("http_version", "status_code", "reason")
    status = int(code)
    if status < 200 or status == 204 or status == 304 or version not in _VERSIONS:
        return None
    return status, b"" if reason is None else reason, version


# a server's status lines repeat ("HTTP/1.1 200 OK"): what each says kept as the header lines' (~5k instructions
# a response: the regex, its groups, int())
_STATUS_LINES = Memo(_status_line)
