"""HTTP/1.x as a passive codec: a connection's bytes in, request/response exchanges out.

* :mod:`.decoder` — :class:`Http1Decoder`, one per connection: pairing, lossy-capture
  rules, protocol switches;
* :mod:`.stream` — one direction's buffer and resynchronisation after garbage;
* :mod:`.readers` — one message as typed :mod:`.events` (h11 through its public API, or
  a whole message from :mod:`.fast`);
* :mod:`.grammar` — the RFC 9112 patterns.
"""

from .decoder import DEFAULT_BODY_CAP, REQUEST_NOT_CAPTURED, RESPONSE_NOT_CAPTURED, Http1Decoder
from .exchange import Http1Exchange, Switch

__all__ = [
    "DEFAULT_BODY_CAP",
    "REQUEST_NOT_CAPTURED",
    "RESPONSE_NOT_CAPTURED",
    "Http1Decoder",
    "Http1Exchange",
    "Switch",
]
