"""What an HTTP/1 message says of its connection's end (RFC 9112 §9.3, §9.6), for the placement of v2's
tuple-less captures and of v1's unknown-tuple ones (:mod:`.placement`): a message that closes its connection
(a ``close`` option either way, HTTP/1.0 without ``keep-alive``), and a request alone on its connection."""

from __future__ import annotations

import re

from .roles import METHODS

REQUEST_HEAD = 1024  # bytes of a connection's first request kept there (its Connection header: pick_successor)
NO_REQUEST = b""  # (ConnState.first_request: kept, none yet)
_CONNECTION = re.compile(rb"\r\nconnection:[ \t]*([^\r\n]*)")
_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d{1,18})[ \t]*\r?$", re.MULTILINE)
HEAD_LOOKED_AT = 16384  # bytes of a message's head read for its Connection header
MESSAGES_LOOKED_AT = 16  # pipelined messages of one capture looked at
_START_LINES = (*METHODS, b"HTTP/1.0 ", b"HTTP/1.1 ")
# a ``close`` option's letters: a head without them after its first Connection field has no such option, and its
# options are not read for it (their regex and set: ~11k instructions of a response's ~30k). (A test makes it b"",
# which every head has: then every head's options are read.)
_CLOSE_LETTERS = b"close"


def _options(head: bytes) -> set:
    """The connection options of a lower-cased message head."""
    return {o.strip() for m in _CONNECTION.finditer(head) for o in m.group(1).split(b",")}


def _lowered_head(data: bytes, pos: int = 0) -> tuple[bytes, int] | None:
    """(the lower-cased head of the message at ``pos``, where it ends), None when it is not whole in ``data`` (read in
    pieces: its Connection header may be in the next piece)."""
    end = data.find(b"\r\n\r\n", pos, pos + HEAD_LOOKED_AT)
    return None if end < 0 else (data[pos:end].lower(), end)


def _http10(head: bytes, responses: bool) -> bool:
    """The first line of a lower-cased head is HTTP/1.0's: a request's ends with that version; with ``responses``, a
    response's starts with it (the head's start: those letters hold no line end)."""
    end = head.find(b"\r\n")
    return head.endswith(b" http/1.0", 0, end if end >= 0 else None) or responses and head.startswith(b"http/1.0 ")


def _alone(head: bytes, options: set, responses: bool) -> bool:
    """HTTP/1.0 without ``keep-alive`` (a lower-cased head and its options): its exchange is its connection's only one
    (see :func:`_http10`)."""
    return _http10(head, responses) and b"keep-alive" not in options


def closes_connection(data: bytes) -> bool:
    """True when an HTTP/1 message of those ``data`` starts with (pipelined requests read at once: each after the
    body its Content-Length gives) ends its connection after its exchange (RFC 9112 §9.3, §9.6): a ``close``
    connection option, or HTTP/1.0 without ``keep-alive``. A client that sent ``close`` sends no further request
    on that connection; a server that answered with it closes it. A head not whole in ``data`` tells nothing."""
    pos = 0
    for _ in range(MESSAGES_LOOKED_AT):
        found = _lowered_head(data, pos)
        if found is None:
            return False
        head, end = found
        # a close option, or HTTP/1.0 without keep-alive (_alone), its options read only when they can tell (see
        # _CLOSE_LETTERS; find, not `in`: bytes' `in` first tries its operand as an int, ~1.2k instructions)
        at = head.find(b"\r\nconnection:")
        if at >= 0 and head.find(_CLOSE_LETTERS, at) >= 0 and b"close" in _options(head):
            return True
        if _http10(head, True) and (at < 0 or b"keep-alive" not in _options(head)):
            return True
        # the next message, where its Content-Length puts it (a message's data mostly ends with it: no next one, and
        # no need to read its length, its Transfer-Encoding or a start line there, ~5k instructions)
        pos = end + 4
        if pos >= len(data):
            return False
        length = _LENGTH.search(head)  # (its last line ends the head: ``$`` matches there too)
        pos += int(length.group(1)) if length else 0
        if pos >= len(data) or head.find(b"\r\ntransfer-encoding:") >= 0 or not data.startswith(_START_LINES, pos):
            return False
    return False


def request_head(payload: bytes) -> bytes:
    """What a connection keeps of a capture at its first time (:attr:`~.state.ConnState.first_request`)."""
    return payload[:REQUEST_HEAD] if payload.startswith(METHODS) else NO_REQUEST


def alone_on_its_connection(request: bytes) -> bool:
    """True when ``request`` (its head whole) is HTTP/1.0 without ``keep-alive``: a client that sends such a request
    sends no other on that connection, before or after (ab, HTTP/1.0 tools). (A ``Connection: close`` says no
    request follows, not that none came before: a keep-alive client may send it on its last.)"""
    found = _lowered_head(request)
    return found is not None and _alone(found[0], _options(found[0]), False)
