"""HTTP/2 connections → exchanges: an :class:`~.exchange.ExchangeParser` over
:class:`~ecq2pcap.payloads.h2.H2PassiveDecoder`.

The connection table hands the HAR sink real HTTP/2 bytes for both shapes eCapture
delivers: raw frames (v2.1+, gotls, raw data) and v1.x text dumps, which the table
re-encodes into frames (:mod:`ecq2pcap.payloads.h2`). One decoder serves both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ...limits import DEFAULT_LIMITS, Limits
from ...model import Connection, Direction, PayloadForm
from ...payloads.h2 import H2PassiveDecoder, H2Stream
from ...payloads.http1.messages import TRAILERS_NOTE
from ...payloads.numbers import ascii_number
from ...payloads.h2.encoder import GUNZIPPED
from ...payloads.h2.header_blocks import SENT_IN_FRAMES
from .exchange import ChunkMeta, Exchange, HttpRequest, HttpResponse, stream_named


@dataclass(slots=True, eq=False)
class Http2Response(HttpResponse):
    """An HTTP/2 response: its size as sent may come from eCapture's frames alone (see ``HttpMessage.sent_size``)."""

    sent_size: int = -1


_SENT_IN_FRAMES = re.compile(r"(\d{1,18}) " + SENT_IN_FRAMES)  # (the re-encoder's note, without content-length)
_SENT_LENGTH = re.compile(r"content-length (\d{1,18}) (?:→|dropped)")  # (in the re-encoder's note: the server's)
MAX_SAID, MAX_SAID_OF_ONE = 1024, 16  # streams whose notes are kept until their exchange is built, notes of one
_RESET_NAMES = {0: "NO_ERROR", 1: "PROTOCOL_ERROR", 2: "INTERNAL_ERROR", 3: "FLOW_CONTROL_ERROR",
                5: "STREAM_CLOSED", 7: "REFUSED_STREAM", 8: "CANCEL", 11: "ENHANCE_YOUR_CALM"}


class Http2Parser:
    def __init__(self, conn: Connection, *, limits: Limits = DEFAULT_LIMITS) -> None:
        self.conn = conn
        self.limits = limits
        self._decoder = H2PassiveDecoder(max_body=limits.body_size, max_table=limits.hpack_table_size,
                                         max_header_list=limits.header_list_size,
                                         max_buffer=limits.connection_buffer)
        self._reported = 0
        # stream id -> what the captures said of it ("stream 3: ..."): a stream keeps the meta of the captures of its
        # headers only, not of those that carried its other frames (its body's, a reset, bytes made up for it after a
        # loss: :mod:`ecq2pcap.payloads.alignment`); bounded, and dropped when its exchange is built
        self._said: dict[int, list[str]] = {}

    def feed(self, direction: Direction, data: bytes, time_ns: int, meta: ChunkMeta | None = None) -> list[Exchange]:
        if meta is not None and meta.notes:
            for note in meta.notes:
                if (stream := stream_named(note)) is not None:
                    said = self._said.get(stream)
                    if said is None and len(self._said) < MAX_SAID:
                        self._said[stream] = [note]
                    elif said is not None and note not in said and len(said) < MAX_SAID_OF_ONE:
                        said.append(note)  # (a chunk fed in pieces brings its notes again)
        return [self._exchange(s) for s in self._decoder.feed(direction, data, time_ns, meta)]

    def close(self, time_ns: int) -> list[Exchange]:
        return [self._exchange(s) for s in self._decoder.close(time_ns)]

    def buffered(self) -> int:
        return self._decoder.buffered()

    def take_diagnostics(self) -> list[str]:
        errors = self._decoder.errors
        new, self._reported = errors[self._reported :], len(errors)
        return [f"HTTP/2: {e}" for e in new]

    def _exchange(self, s: H2Stream) -> Exchange:
        ex = Exchange(self.conn, http_version="HTTP/2", stream_id=s.stream_id)
        said = self._said.pop(s.stream_id, ())
        ex.errors.extend(s.errors if not said else _without_start_lost(s.errors, said))
        for meta in (s.request_meta, s.response_meta):
            ex.add_meta(meta)
        for note in said:
            ex.flows_said(note)
        if s.request_headers or s.request_start_ns is not None:
            notes: list[str] = []
            pseudo = _pseudo(s.request_headers, notes)
            ex.request = HttpRequest(  # (the pseudo-header fields listed too, first, as Chrome's HAR export lists them)
                http_version="HTTP/2", headers=s.request_headers + s.request_trailers,
                body=s.request_body, body_size=s.request_body_size,
                start_ns=s.request_start_ns or s.response_start_ns or 0,
                end_ns=s.request_end_ns, complete=s.request_complete,
                method=pseudo.get(":method", "UNKNOWN"), target=_target(pseudo),
                scheme=_scheme(pseudo, notes), authority=pseudo.get(":authority"),
            )
            ex.request.notes.extend(notes)
            if not s.request_headers:
                ex.errors.append(_headers_missing("request", said))
            if s.request_trailers:
                ex.request.notes.append(TRAILERS_NOTE + ", ".join(n for n, _ in s.request_trailers))
        if s.response_headers or s.response_start_ns is not None:
            notes = []
            pseudo = _pseudo(s.response_headers, notes)
            headers = [(k, v) for k, v in s.response_headers if not k.startswith(":")]
            status = _status(pseudo.get(":status"))
            ex.response = Http2Response(
                http_version="HTTP/2", headers=headers + s.response_trailers,
                body=s.response_body, body_size=s.response_body_size,
                start_ns=s.response_start_ns or s.request_end_ns or 0,
                end_ns=s.response_end_ns, complete=s.response_complete, status=status,
                interim=[_status(_pseudo(h, []).get(":status")) for h in s.informational],  # (the first, as above)
            )
            ex.response.notes.extend(notes)
            if not s.response_headers:
                ex.errors.append(_headers_missing("response", said))
            elif said:
                gunzipped = next((n for n in said if GUNZIPPED in n), None)  # (the re-encoder's note: one a stream)
                if gunzipped is not None:
                    ex.response.rendered_headers = _as_sent(headers, gunzipped)
                    sent = _SENT_IN_FRAMES.search(gunzipped)  # (said in the same note, without a content-length)
                    if sent:
                        ex.response.sent_size = int(sent.group(1))
            if s.response_trailers:  # (HAR has no place of their own for them: as HTTP/1's, said)
                ex.response.notes.append(TRAILERS_NOTE + ", ".join(n for n, _ in s.response_trailers))
            ex.notes.extend(f"interim response {code}" for code in ex.response.interim)  # (as HTTP/1's say theirs)
        if ex.request is None:
            ex.errors.append(_headers_missing("request", said) if _undecoded("request", said) else
                             "request not captured by eCapture")
        if ex.response is None:
            ex.errors.append("response not captured")
        if s.open_at_end:
            ex.errors.extend(_unended(s, ex))
        if s.reset_code is not None:
            who = "client" if s.reset_by is Direction.C2S else "server"
            ex.notes.append(f"stream reset by the {who}: {_RESET_NAMES.get(s.reset_code, s.reset_code)}")
        if s.pushed_by is not None:
            ex.notes.append(f"server push promised on stream {s.pushed_by}")
        return ex


def _as_sent(headers: list[tuple[str, str]], note: str) -> list[tuple[str, str]]:
    """The response's header fields as the server sent them when eCapture v1.x gave its body gunzipped (the
    re-encoder dropped ``content-encoding: gzip`` and set ``content-length`` to the decoded length, and says so in
    ``note``): the HAR shows them, and reads the size sent and the compression from them, as for HTTP/1
    re-renderings."""
    sent = _SENT_LENGTH.search(note)
    fields = [(k, v) for k, v in headers if k != "content-length"]
    return fields + ([("content-length", sent.group(1))] if sent else []) + [("content-encoding", "gzip")]


def _undecoded(side: str, said) -> bool:
    """Whether eCapture captured ``side``'s HEADERS but could not print their fields (the re-encoder's note)."""
    return any(f": {side} HEADERS lost (" in note for note in said)


def _without_start_lost(errors: list[str], said) -> list[str]:
    """The decoder's errors but its "DATA without HEADERS (stream start not captured)" for a side whose HEADERS
    eCapture captured and could not print (it did capture the stream's start)."""
    sides = [d for d, side in (("c2s", "request"), ("s2c", "response")) if _undecoded(side, said)]
    return [e for e in errors if not any(e.startswith(f"{d} DATA without HEADERS") for d in sides)]


def _headers_missing(side: str, said) -> str:
    """Why a stream's ``side`` has no header fields: eCapture captured its HEADERS and could not print them (the
    note beside says why: HPACK, CONTINUATION), or they were not captured."""
    if _undecoded(side, said):
        return f"HTTP/2 {side} headers captured by eCapture but not decoded by it: their fields are unknown"
    return f"HTTP/2 {side} headers not captured"


def _unended(s: H2Stream, ex: Exchange) -> list[str]:
    """A stream still open when the capture ended: each side that began and sent no END_STREAM is incomplete (its
    last frames lost, or not sent yet), said as HTTP/1 says a body cut short. Not a side whose frames eCapture
    v1.x dumped without their flags and whose body has no length to fall short of: its END_STREAM was guessed
    (:mod:`ecq2pcap.payloads.h2.encoder`), so the lack of one says nothing."""
    errors = []
    for msg, size, meta, what in ((ex.request, s.request_body_size, s.request_meta, "request"),
                                  (ex.response, s.response_body_size, s.response_meta, "response")):
        if msg is None or msg.complete:  # (a side that never began has no message)
            continue
        length = ascii_number((msg.header("content-length") or "").strip())
        if length is not None and size < length:
            had = f"{size} of {length} bytes"
        elif meta is None or meta.form is not PayloadForm.H2_DUMP:
            had = f"{size} bytes"
        else:
            continue
        errors.append(f"{what} incomplete: its stream had not ended (no END_STREAM) when the capture did, {had} "
                      "of body")
    return errors


def _pseudo(fields: list[tuple[str, str]], notes: list[str]) -> dict[str, str]:
    """Each pseudo-header field's first value. A repeated one (a malformed message, RFC 9113 §8.3: a peer would
    refuse it) is said in ``notes``; the later value stood, and a hostile second ``:scheme`` made the URL."""
    out: dict[str, str] = {}
    for k, v in fields:
        if k[:1] == ":":
            if k not in out:
                out[k] = v
            elif len(notes) < MAX_SAID_OF_ONE:
                notes.append(f"{k[:40]} repeated ({v[:60]!r} after {out[k][:60]!r}): the first taken")
    return out


_URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,31}")  # RFC 3986 §3.1 (and not a page of it)


def _scheme(pseudo: dict[str, str], notes: list[str]) -> str:
    """A request's :scheme for its URL: https (TLS, what eCapture captures) when it has none or one that is no URL
    scheme (said in ``notes``)."""
    scheme = pseudo.get(":scheme")
    if scheme is None:
        return "https"
    if _URL_SCHEME.fullmatch(scheme) is None:
        notes.append(f":scheme {scheme[:60]!r} is not a URL scheme: the URL says https")
        return "https"
    return scheme


def _status(value: str | None) -> int:
    """A ``:status`` as a number; 0 when it is not one (an informational ``1c0`` raised here)."""
    try:
        return int(value or 0)
    except ValueError:
        return 0


def _target(pseudo: dict[str, str]) -> str:
    """A request's target: its :path; a CONNECT without one (RFC 9113 §8.5: a tunnel) names its :authority,
    HTTP/1's authority-form."""
    path = pseudo.get(":path")
    if path is None:
        return pseudo.get(":authority", "/") if pseudo.get(":method") == "CONNECT" else "/"
    return path
