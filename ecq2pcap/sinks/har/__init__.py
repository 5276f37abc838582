"""HAR 1.2 output: HTTP exchanges recovered from eCapture plaintext.

:class:`HarSink` is the sink; :mod:`.http1` parses HTTP/1.x; :mod:`.exchange` is the
protocol-independent exchange model new protocol parsers produce; :mod:`.entries` turns
an exchange into a HAR entry; :mod:`.writer` streams the file.
"""

from .exchange import ChunkMeta, Exchange, ExchangeParser, HttpRequest, HttpResponse, WebSocketMessage
from .http1 import Http1Parser, UpgradedBytes, UpgradeHandler
from .options import HarOptions
from .sink import HarSink

__all__ = [
    "HarSink",
    "HarOptions",
    "Http1Parser",
    "UpgradeHandler",
    "UpgradedBytes",
    "ChunkMeta",
    "Exchange",
    "ExchangeParser",
    "HttpRequest",
    "HttpResponse",
    "WebSocketMessage",
]
