"""Streaming HAR 1.2 writer: the log header up front, each entry as it completes, the end on close.

Memory does not grow with the number of entries. The output is valid JSON once
:meth:`HarWriter.close` ran, also with zero entries. No ``pages`` are written (an empty
list) and entries carry no ``pageref``: haralyzer silently loses entries whose
``pageref`` names no page, and a page without ``pageTimings`` crashes it.
"""

from __future__ import annotations

import io
from typing import BinaryIO, TextIO

import msgspec

from ... import __version__

__all__ = ["HarWriter"]

_encode = msgspec.json.Encoder().encode


class HarWriter:
    """Write one HAR file to ``out``.

    ``out`` is a binary file object (UTF-8 is written), like every sink's output; a text
    stream (:class:`io.TextIOBase`) is accepted too. The writer never closes ``out``.
    """

    def __init__(self, out: BinaryIO | TextIO, *, comment: str | None = None) -> None:
        self._out = out
        self._text = isinstance(out, io.TextIOBase)
        self._comment = comment
        self._started = False
        self._closed = False
        self.count = 0

    def _write(self, data: bytes) -> None:
        self._out.write(data.decode("utf-8") if self._text else data)

    def _start(self) -> None:
        self._started = True
        log: dict = {"version": "1.2", "creator": {"name": "ecq2pcap", "version": __version__}, "pages": []}
        if self._comment:
            log["comment"] = self._comment
        head = _encode({"log": log})
        # '{"log":{...,"pages":[]}}' → '{"log":{...,"pages":[],"entries":['
        self._write(head[:-2] + b',"entries":[\n')

    def write(self, entry: dict) -> None:
        """Append one entry (a HAR entry dict)."""
        if self._closed:
            raise ValueError("HAR writer already closed")
        if not self._started:
            self._start()
        try:
            data = _encode(entry)
        except UnicodeEncodeError:  # lone surrogates (surrogateescape'd bytes from a decoder)
            data = _encode(_sanitize(entry))
        self._write((b",\n" if self.count else b"") + data)
        self.count += 1

    def close(self) -> None:
        """Finish the JSON document (idempotent) and flush ``out``."""
        if self._closed:
            return
        if not self._started:
            self._start()
        self._write(b"\n]}}\n")
        self._closed = True
        flush = getattr(self._out, "flush", None)
        if flush is not None:
            flush()


def _sanitize(value):
    """Copy of ``value`` whose strings are valid UTF-8: undecodable bytes show as ``\\xNN``."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
            return value
        except UnicodeEncodeError:
            try:
                raw = value.encode("utf-8", "surrogateescape")
            except UnicodeEncodeError:
                raw = value.encode("utf-8", "surrogatepass")
            return raw.decode("utf-8", "backslashreplace")
    if isinstance(value, dict):
        return {_sanitize(k): _sanitize(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_sanitize(v) for v in value]
    return value
