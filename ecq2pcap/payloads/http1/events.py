"""What the HTTP/1 readers hand the decoder: one message as typed events, in order.

A message is a head (:class:`RequestHead` or :class:`ResponseHead`), zero or more
:class:`Body` pieces and an :class:`End`; a ``1xx`` head is followed by the next head of
the same response. :data:`NEED_DATA` asks for more bytes, :data:`PAUSED` says the reader
will not go on (a protocol switch, or the peer closed between messages). A reader
raises :class:`ParseError` on bytes that do not frame.
"""

from __future__ import annotations

from enum import Enum

import msgspec

__all__ = ["RequestHead", "ResponseHead", "Body", "End", "END", "ParseError", "Wait", "NEED_DATA", "PAUSED"]

Fields = list[tuple[bytes, bytes]]  # (name as on the wire, value without surrounding whitespace)

# (frozen msgspec Structs: built in C, several for every message; a frozen dataclass sets each field through
# object.__setattr__. Untracked by the collector (gc=False): they hold bytes and lists of bytes pairs, no cycle)


class RequestHead(msgspec.Struct, frozen=True, gc=False):
    method: bytes
    target: bytes
    http_version: bytes  # b"1.1"
    headers: Fields


class ResponseHead(msgspec.Struct, frozen=True, gc=False):
    status: int
    reason: bytes
    http_version: bytes
    headers: Fields


class Body(msgspec.Struct, frozen=True, gc=False):
    data: bytes


class End(msgspec.Struct, frozen=True, gc=False):
    trailers: Fields = ()


END = End()  # the end of a message without trailer fields


class Wait(Enum):
    NEED_DATA = "need data"
    PAUSED = "paused"


NEED_DATA = Wait.NEED_DATA
PAUSED = Wait.PAUSED


class ParseError(Exception):
    """The bytes do not frame as HTTP/1; ``str()`` says why."""
