"""HTTP/1.x as a passive codec: a connection's bytes in, request/response exchanges out.

* :mod:`.decoder` — :class:`Http1Decoder`, one per connection: pairing, lossy-capture
  rules; :mod:`.recovery` its part that recovers from what does not frame and stops at a
  protocol switch;
* :mod:`.stream` — one direction's buffer and resynchronisation after garbage;
* :mod:`.readers` — one message as typed :mod:`.events` (h11 through its public API, or
  a whole message from :mod:`.fast`);
* :mod:`.grammar` — the RFC 9112 patterns.

Lossy-capture rules:

* a response with no request to answer becomes an exchange with ``request=None`` and the
  error :data:`REQUEST_NOT_CAPTURED` (framed as the answer to a ``GET``);
* a request with no response at close gets :data:`RESPONSE_NOT_CAPTURED`;
* a response fed *before* its request (eCapture stamps a merged event with the time of its
  last call) waits up to ``reorder_window_ns`` for a request to arrive, then is taken as
  response-only. The default window is 0 (only a request with the same timestamp pairs):
  a longer window pairs a response whose request was lost with the *next* request, and
  that misattribution cascades through a keep-alive connection;
* after ``101 Switching Protocols`` (or a 2xx to ``CONNECT``) the decoder stops: it sets
  :attr:`switch`, whose ``pending`` list collects the bytes that follow, in both
  directions; the upgrade exchange is returned by :meth:`close`.
"""

from .decoder import (
    DEFAULT_BODY_CAP,
    MAX_HEADER_LINE,
    MAX_HEADER_SECTION,
    REQUEST_NOT_CAPTURED,
    RESPONSE_NOT_CAPTURED,
    Http1Decoder,
)
from .exchange import Http1Exchange, Switch

__all__ = [
    "DEFAULT_BODY_CAP",
    "MAX_HEADER_LINE",
    "MAX_HEADER_SECTION",
    "REQUEST_NOT_CAPTURED",
    "RESPONSE_NOT_CAPTURED",
    "Http1Decoder",
    "Http1Exchange",
    "Switch",
]
