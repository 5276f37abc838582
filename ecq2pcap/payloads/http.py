"""HTTP messages as the codecs decode them (HTTP/1 and HTTP/2 alike) and the HAR sink writes them.

Bodies are kept as they were on the wire *after* transfer framing (de-chunked for
HTTP/1, DATA payloads for HTTP/2) and *before* content decoding; the HAR writer
decodes ``Content-Encoding`` itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["HttpMessage", "HttpRequest", "HttpResponse"]


@dataclass(slots=True, eq=False)
class HttpMessage:
    """Fields common to requests and responses."""

    http_version: str = "HTTP/1.1"  # "HTTP/1.0", "HTTP/1.1", "HTTP/2"
    headers: list[tuple[str, str]] = field(default_factory=list)  # wire order and casing
    body: bytes | bytearray = b""  # after transfer framing, before content decoding; at most the cap
    body_size: int = 0  # body bytes seen (can exceed len(body) when the cap cut it)
    start_ns: int = 0  # time of the chunk that carried the first byte of the message
    end_ns: int | None = None  # time the message ended (complete or not); None while in progress
    header_size: int = -1  # bytes of start line + headers + blank line, -1 unknown
    complete: bool = False  # the message ended as its framing said
    notes: list[str] = field(default_factory=list)
    # the header fields as eCapture rendered them (v1.x), when the framing repair changed them: what the server
    # sent (its Content-Length, Content-Encoding, Transfer-Encoding), which ``headers`` no longer say
    rendered_headers: list[tuple[str, str]] | None = None
    # the body's size as sent when no header says it but eCapture's frames do (an HTTP/2 body it gunzipped, sent
    # without content-length: its DATA frames' lengths); -1 otherwise. A class attribute, not a field: one slot
    # more made every message ~0.5k instructions dearer to make (the HAR's HTTP/2 responses have it as a field)
    sent_size = -1

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), None when absent."""
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    @property
    def ended(self) -> bool:
        return self.end_ns is not None


@dataclass(slots=True, eq=False)
class HttpRequest(HttpMessage):
    method: str = "GET"
    target: str = "/"  # as on the wire: origin-form, absolute-form, authority-form or "*"
    scheme: str = "https"  # eCapture sees TLS plaintext: https unless a parser knows better
    authority: str | None = None  # HTTP/2 :authority; HTTP/1 uses the Host header


@dataclass(slots=True, eq=False)
class HttpResponse(HttpMessage):
    status: int = 0
    reason: str = ""
    interim: list[int] = field(default_factory=list)  # 1xx statuses seen before this one
