"""Requests and responses built from the readers' events, and how their errors are worded."""

from __future__ import annotations

import re

from ...limits import limit_note
from ..http import HttpMessage, HttpRequest, HttpResponse
from ...memo import Memo
from ..numbers import ascii_number
from .events import End, Fields, RequestHead, ResponseHead
from .grammar import text
from .readers import WholeMessage

__all__ = ["new_request", "new_response", "append_body", "end_message", "asks_switch", "body_error"]


def new_request(head: RequestHead, start_ns: int, header_size: int, widened: int = 0,
                texts: list[tuple[str, str]] | None = None) -> HttpRequest:
    """``widened``: what percent-encoding the target's bytes outside ASCII added to the head
    (:meth:`~.stream.HalfStream.ascii_target`), not counted in its size; ``texts``: the head's fields as text
    when the reader has them (the fast path: a new list, the message's own), else they are decoded here."""
    req = _filled(_NEW(HttpRequest), head, start_ns, header_size - widened, texts)
    req.notes = [WIDENED_NOTE] if widened else []
    req.scheme = "https"
    req.authority = None
    req.method = head.method.decode("ascii", "replace")
    req.target = text(head.target)
    return req


def _filled(msg, head: RequestHead | ResponseHead, start_ns: int, header_size: int,
            texts: list[tuple[str, str]] | None):
    """``msg`` (made without its dataclass's ``__init__``) with the fields every message has set once: keywords to a
    class go through a dict twice, ~2.8k instructions a message, and its defaults would be set and then overwritten,
    ~1.5k. (A test holds :func:`new_request` and :func:`new_response` to the constructors of the same fields.)"""
    msg.body_size = 0
    msg.end_ns = None
    msg.complete = False
    msg.rendered_headers = None
    msg.http_version = _VERSIONS.get(head.http_version) or "HTTP/" + head.http_version.decode("ascii", "replace")
    msg.headers = _headers(head.headers) if texts is None else texts
    msg.body = bytearray()
    msg.start_ns = start_ns
    msg.header_size = header_size
    return msg


_NEW = object.__new__
_VERSIONS = {b"1.1": "HTTP/1.1", b"1.0": "HTTP/1.0"}  # (the versions messages have: no decode, no concatenation)


def rendered_into(msg: HttpMessage, s) -> None:
    """The head eCapture rendered (``s.original``: the stream's, matched to the message at its start) into ``msg``:
    its fields, and its size for the message's, when its start line is the message's (a 1xx before the final
    response was its own capture)."""
    original, s.original = s.original, None
    if original is None:
        return
    if original.startswith(b"HTTP/") and original[9:12] != b"%d" % getattr(msg, "status", -1) or \
            not original.startswith(b"HTTP/") and not original.startswith(getattr(msg, "method", "").encode() + b" "):
        return
    end = original.find(b"\r\n\r\n")
    known = _RENDERED_LINES.known
    fields = []
    for line in original[:end].split(b"\r\n")[1:]:
        field = known.get(line) or _RENDERED_LINES.miss(line)
        if field is not None:
            fields.append(field)
    msg.rendered_headers = fields
    msg.header_size = end + 4


# a rendered head's field lines: name and value, without the whitespace around them (a line without a colon: none)
_RENDERED_FIELD = re.compile(rb"\r\n[ \t]*([^:\r\n]+?)[ \t]*:[ \t]*([^\r\n]*?)[ \t]*(?=\r\n)")


def _rendered_field(line: bytes) -> tuple[str, str] | None:
    """A rendered head's line as text (:func:`text`) by :data:`_RENDERED_FIELD`, None when it is no field line.
    (Matched a line at a time, kept by line: findall over the whole head was ~75k instructions a head.)"""
    m = _RENDERED_FIELD.match(b"\r\n" + line + b"\r\n")
    return (text(m[1]), text(m[2])) if m is not None else None


_RENDERED_LINES = Memo(_rendered_field)
TRAILERS_NOTE = "trailer fields appended to the headers: "  # (HAR has no place of their own for them)
WIDENED_NOTE = "the target's bytes outside ASCII, sent raw, written percent-encoded"


def new_response(head: ResponseHead, start_ns: int, header_size: int, interim: list[tuple[int, str]],
                 texts: list[tuple[str, str]] | None = None) -> HttpResponse:
    resp = _filled(_NEW(HttpResponse), head, start_ns, header_size, texts)
    resp.notes = []
    resp.interim = [code for code, _ in interim] if interim else []  # (no comprehension without)
    resp.status = head.status
    resp.reason = text(head.reason)
    return resp


def append_body(cap: int, msg: HttpMessage, data: bytes) -> None:
    """Keep at most ``cap`` body bytes (noted once), count them all."""
    room = cap - len(msg.body)
    if room >= len(data):
        msg.body += data
    else:
        if room > 0:
            msg.body += data[:room]
        if msg.body_size <= cap:
            msg.notes.append(limit_note("body_size", f"body larger than {cap} bytes: only the first {cap} kept"))
    msg.body_size += len(data)


def end_message(msg: HttpMessage, end: End, time_ns: int) -> None:
    """``msg`` ended as its framing said, at ``time_ns``; its trailer fields (if any) join its headers."""
    msg.complete = True
    msg.end_ns = time_ns
    if end.trailers:
        trailers = _headers(end.trailers)
        msg.headers.extend(trailers)
        msg.notes.append(TRAILERS_NOTE + ", ".join(n for n, _ in trailers))


def asks_switch(req: HttpRequest, reader: object) -> bool:
    """Whether ``req`` (read by ``reader``) asks to switch protocols. A whole message of the fast path never
    does (it leaves Upgrade and CONNECT to h11): no header lookup for it."""
    return type(reader) is not WholeMessage and (req.method == "CONNECT" or req.header("upgrade") is not None)


def body_error(what: str, reason: str, msg: HttpMessage, eof: bool, at_eof: bool) -> str:
    """The error of a body that did not frame. ``at_eof``: every byte was read and the
    stream ended before the body did (a truncated capture, said in its own words)."""
    if at_eof:
        te = msg.header("transfer-encoding")
        if te is not None and "chunked" in te.lower():
            return f"{what} body truncated: chunked body incomplete after {msg.body_size} bytes"
        length = ascii_number((msg.header("content-length") or "").strip())
        if length is not None:
            return f"{what} body truncated: {msg.body_size} of {length} bytes"
    if eof:
        return f"{what} body truncated after {msg.body_size} bytes ({reason})"
    return f"{what} body did not frame ({reason}): {msg.body_size} bytes kept"


# Header fields read before, as text (ecq2pcap.memo): the fast path hands the same fields again and again (a
# client's repeated lines), and a lookup is ~2× cheaper than decoding them.
_TEXTS = Memo(lambda field: (text(field[0]), text(field[1])), size=lambda field: len(field[0]) + len(field[1]))


def _headers(fields: Fields) -> list[tuple[str, str]]:
    """Header fields in wire order with their original casing (each as :func:`text` reads it)."""
    known = _TEXTS.known
    out = []
    for field in fields:  # (a loop: a list comprehension is a function call of its own on 3.11, ~1.5k more)
        out.append(known.get(field) or _TEXTS.miss(field))
    return out
