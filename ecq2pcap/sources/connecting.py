"""Connecting to eCapture, sans-IO: the URL's check, the TLS context, the delays between attempts, which failures
end the source (retrying cannot help) and how a failed or ended connection is said."""

from __future__ import annotations

import asyncio
import os
import ssl
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import InvalidStatus, InvalidURI

DEFAULT_ORIGIN = "http://localhost/"


class ConnectError(Exception):
    """The source cannot go on: handshake refused, bad certificate, or it gave up retrying."""


def check_url(url: str) -> str:
    """The URL when it is a ws:// or wss:// URL with a host; ValueError otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ValueError(f"not a ws:// or wss:// URL: {url!r} (e.g. ws://127.0.0.1:28257/)")
    try:
        parts.port
    except ValueError as exc:
        raise ValueError(f"bad port in {url!r}: {exc}") from None
    return url


BRIEF_S = 1.0  # a connection that ends within this, nothing received, is followed by a backoff step, not at once
PING_INTERVAL_S = 20  # keepalive pings; no pong for PING_TIMEOUT_S ends the connection
PING_TIMEOUT_S = 60  # (a multi-MB message can delay the pong)


class Backoff:
    """Exponential reconnect delays: initial, ×factor, capped; reset after a connection."""

    def __init__(self, initial: float = 0.3, cap: float = 10.0, factor: float = 2.0) -> None:
        self.initial, self.cap, self.factor = initial, cap, factor
        self._next = initial

    def next(self) -> float:
        delay = self._next
        self._next = min(self._next * self.factor, self.cap)
        return delay

    def reset(self) -> None:
        self._next = self.initial


def ssl_context(url: str, insecure: bool) -> ssl.SSLContext | None:
    if not url.startswith("wss:"):
        return None
    ctx = ssl.create_default_context()
    if insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def fatal_error(exc: Exception, url: str, origin: str | None) -> ConnectError | None:
    """The user-facing error when retrying cannot help, else None."""
    if isinstance(exc, InvalidStatus):
        code = exc.response.status_code
        if code == 403:
            why = (f"no Origin header was sent; eCapture requires one (--origin {DEFAULT_ORIGIN})"
                   if not origin else
                   f"although 'Origin: {origin}' was sent (it must parse as a URL)")
            return ConnectError(f"{url}: eCapture refused the WebSocket handshake with HTTP 403: {why}")
        if 400 <= code < 500:
            return ConnectError(f"{url}: the server refused the WebSocket handshake with HTTP {code}; "
                                "is this eCapture's --ecaptureq address?")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return ConnectError(f"{url}: certificate verification failed ({exc.verify_message}); "
                            "--insecure skips it")
    if isinstance(exc, ssl.SSLError) and not isinstance(exc, ssl.SSLEOFError):  # (EOF: the server went away)
        return ConnectError(f"{url}: the TLS handshake failed ({_tls_reason(exc)}); eCapture's eCaptureQ "
                            "speaks plain WebSocket: is ws:// meant?")
    if isinstance(exc, InvalidURI):
        return ConnectError(f"{url}: {exc}")
    return None


def close_reason(ws: ClientConnection) -> str:
    rcvd = ws.protocol.close_rcvd
    if rcvd is None:
        return "dropped without a close frame"
    return f"close code {rcvd.code}{': ' + rcvd.reason if rcvd.reason else ''}"


def describe(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return "timed out"
    if isinstance(exc, ssl.SSLError):  # (its errno is OpenSSL's error kind: 1 was read as EPERM's text)
        return f"TLS: {_tls_reason(exc)}"
    if isinstance(exc, OSError) and exc.errno:
        return os.strerror(exc.errno)  # asyncio's text is "Connect call failed (host, port)"
    return str(exc) or type(exc).__name__


def _tls_reason(exc: ssl.SSLError) -> str:
    return (exc.reason or str(exc)).replace("_", " ").lower()  # WRONG_VERSION_NUMBER: wrong version number
