"""The host name a client asked for: HTTP/1 ``Host`` or HTTP/2 ``:authority`` (sans-IO).

Feed the client→server bytes of one connection; :attr:`AuthorityFinder.name` becomes
the first host name found (port and brackets removed, lower case), or the finder
gives up (``done`` without a name) when the bytes are neither, the first request's
head is longer than :data:`MAX_HEAD`, or HPACK state is unknown (capture started
mid-connection). Only the first request is looked at: enough to name the server.
"""

from __future__ import annotations

import re

import hpack
from hpack.exceptions import HPACKError

from ..memo import Memo
from .h2 import PREFACE

__all__ = ["AuthorityFinder", "MAX_HEAD", "host_part"]

MAX_HEAD = 64 * 1024
_HOST = re.compile(rb"\nhost[ \t]*:[ \t]*([^\r\n]*)\r?\n", re.IGNORECASE)  # tried where a head's "\nhost" is
_REQUEST_LINE = re.compile(rb"[A-Z][A-Z0-9_-]{0,31} \S+ HTTP/1\.[01]\r?\n")
_ABS_URI = re.compile(rb"[A-Z]+ [a-zA-Z][a-zA-Z0-9+.-]*://([^/\s?#]+)")
_HEADERS, _CONTINUATION = 0x1, 0x9
_END_HEADERS, _PADDED, _PRIORITY = 0x4, 0x8, 0x20
_NAME_OK = re.compile(r"[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f:.]+")


def host_part(authority: str) -> str | None:
    """``Example.COM:8443`` → ``example.com``; ``[::1]:443`` → ``::1``; junk → None."""
    text = authority.strip().rsplit("@", 1)[-1]
    if text.startswith("["):
        end = text.find("]")
        text = text[1:end] if end > 0 else ""
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    text = text.rstrip(".").lower()
    if not text or len(text) > 253 or not _NAME_OK.fullmatch(text):
        return None
    return text


# a client names the same few hosts again and again: host_part of each Host value kept (~8k instructions a connection)
_HOST_PARTS = Memo(host_part)


def _host_value(head: bytes) -> bytes | None:
    """The value of the first Host header line of ``head`` (what one case-insensitive ``\\r?\\nhost…`` regex
    search finds): the regex is tried only where the lower-cased head has "\\nhost", not at every byte
    (a search with re.IGNORECASE costs ~150 instructions a byte it passes: ~40k for a Host line at a head's end)."""
    lowered = head.lower()
    at = lowered.find(b"\nhost")
    while at >= 0:
        m = _HOST.match(head, at)
        if m is not None:
            return m.group(1)
        at = lowered.find(b"\nhost", at + 1)
    return None


class AuthorityFinder:
    """One connection's client→server bytes in, the requested host name out."""

    __slots__ = ("name", "done", "_buf")

    def __init__(self) -> None:
        self.name: str | None = None
        self.done = False
        self._buf = b""

    def feed(self, data: bytes) -> str | None:
        if self.done or not data:
            return self.name
        self._buf += data[: MAX_HEAD + len(PREFACE) - len(self._buf)]
        buf = self._buf
        if buf[: len(PREFACE)] == PREFACE[: len(buf)]:
            if len(buf) > len(PREFACE):
                self._h2(buf[len(PREFACE):])
        else:
            self._h1(buf)
        if not self.done and len(self._buf) >= MAX_HEAD + len(PREFACE):
            self.done = True
        if self.done:
            self._buf = b""
        return self.name

    def _finish(self, name: str | None) -> None:
        self.name, self.done = name, True

    def _h1(self, buf: bytes) -> None:
        nl = buf.find(b"\n")
        if nl < 0:
            if len(buf) > 8192:
                self._finish(None)
            return None
        if not _REQUEST_LINE.match(buf[: nl + 1]):
            return self._finish(None)
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            end = buf.find(b"\n\n")
        head = buf if end < 0 else buf[: end + 2]
        value = _host_value(head)
        if value is not None:
            text = value.decode("latin-1")
            return self._finish(_HOST_PARTS.known.get(text) or _HOST_PARTS.miss(text))
        if end >= 0:  # a complete head without Host: an absolute URI may name it
            m = _ABS_URI.match(buf)
            self._finish(host_part(m.group(1).decode("latin-1")) if m else None)

    def _h2(self, frames: bytes) -> None:
        pos, block = 0, b""
        while pos + 9 <= len(frames):
            length = int.from_bytes(frames[pos:pos + 3], "big")
            ftype, flags = frames[pos + 3], frames[pos + 4]
            if length > 1 << 24 or pos + 9 + length > len(frames):
                return  # wait for the rest of the frame
            body = frames[pos + 9: pos + 9 + length]
            pos += 9 + length
            if ftype == _HEADERS and not block:
                pad = 0
                if flags & _PADDED:
                    pad, body = body[0] if body else 0, body[1:]
                if flags & _PRIORITY:
                    body = body[5:]
                block = body[: len(body) - pad] if pad else body
            elif ftype == _CONTINUATION and block:
                block += body
            else:
                continue
            if flags & _END_HEADERS:
                return self._finish(_authority(block))
        return


def _authority(block: bytes) -> str | None:
    try:
        headers = hpack.Decoder().decode(block, raw=True)
    except (HPACKError, ValueError, IndexError):
        return None
    for name, value in headers:
        if name in (b":authority", b"host"):
            return host_part(value.decode("latin-1"))
    return None
