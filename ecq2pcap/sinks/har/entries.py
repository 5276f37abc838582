"""One :class:`~.exchange.Exchange` → one HAR 1.2 entry (a plain dict, ready for JSON).

Decisions (documented for HAR readers):

* ``startedDateTime`` is UTC with milliseconds and ``Z``; ``time`` is the sum of the
  non-negative timings ``send``/``wait``/``receive`` (``blocked``/``dns``/``connect``/
  ``ssl`` are -1: eCapture sees none of them). Times are those of eCapture's events: a
  merged v1.x event carries the time of its last SSL call, v1.4 ones whole seconds.
* URLs are ``https://`` (eCapture captures TLS plaintext) + the ``Host`` header (or the
  server address) + the request target; absolute-form targets are kept.
* A missing request (eCapture rendered only the response) is written with method
  ``"UNKNOWN"``, url ``https://<server>/#request-not-captured``, the response's HTTP
  version and ``headersSize``/``bodySize`` -1: every HAR reader accepts it and nobody can
  take it for a real request. ``_error`` says "request not captured by eCapture".
* A missing response is written as browsers write failed requests: ``status`` 0,
  ``statusText`` "", ``httpVersion`` "", content size 0 of type ``x-unknown``,
  ``_error`` "response not captured".
* Bodies: ``content.text`` holds the decoded body as text when it decodes (charset from
  ``Content-Type``, else UTF-8), otherwise base64 with ``"encoding": "base64"``. HAR's
  ``postData`` has no encoding field: a binary request body is written as base64 with
  ``"_encoding": "base64"`` and a ``comment`` saying so. ``postData.text`` is always
  present (mitmproxy refuses ``params`` without ``text``).
* Custom fields: ``_ecapture`` (pid, comm, fd, tids, uuids, module), ``_error`` (errors
  joined by "; "), ``_webSocketMessages`` (Chrome's layout; binary data as base64, and text too where JSON's
  escapes would cost more, with ``"_encoding": "base64"``: :func:`~.websocket.har_messages`), ``comment`` (notes
  and errors, for people). No ``pageref`` (the writer emits no pages).
"""

from __future__ import annotations

import base64
import codecs
import ipaddress
from functools import lru_cache

from ...memo import KEY_KEPT_SIZE, KEYS_KEPT
from ...model import NOT_PLACED, Connection
from ...limits import DEFAULT_LIMITS, LOST_BY_ECAPTURE, Limits, limits_in
from .content import decode_content
from .cookies import request_cookies, response_cookies
from .costs import LARGE_BODY, costly_as_text
from .exchange import Exchange, HttpMessage, HttpRequest, HttpResponse, repairs_said, stream_named
from .forms import multipart_params
from .times import http_timings, iso
from .urls import endpoint, form_pairs, query_string, request_url
from .websocket import har_messages

__all__ = ["build_entry", "INVENTED_NOTE", "UNKNOWN_METHOD", "UNKNOWN_MIME"]

UNKNOWN_METHOD = "UNKNOWN"
INVENTED_NOTE = ("the URL's host is an invented address: the request has no Host and eCapture gave no usable "
                 "socket tuple")
UNKNOWN_MIME = "x-unknown"


def build_entry(ex: Exchange, *, limits: Limits = DEFAULT_LIMITS) -> dict:
    """The HAR entry of ``ex``; never raises on odd exchanges (missing sides, bad bodies)."""
    req, resp = ex.request, ex.response
    # (a capture of an HTTP/2 connection carries several streams: what it says of another stream is not this one's)
    notes = list(ex.notes) if ex.stream_id is None else [
        n for n in ex.notes if stream_named(n) in (None, ex.stream_id)]
    decode_cap = limits.body_size
    version = ex.http_version or (resp.http_version if resp else "") or "HTTP/1.1"
    timings = http_timings(req, resp)
    total = timings["send"] + timings["wait"] + timings["receive"]
    start_ns = req.start_ns if req is not None else (resp.start_ns if resp is not None else 0)
    entry: dict = {
        "startedDateTime": iso(start_ns),
        "time": round(total, 3) if total else 0.0,  # (0 for v1.4's whole seconds: no round(), ~2.3k instructions)
        "request": _request(req, ex.conn, version, notes, decode_cap),
        "response": _response(resp, notes, decode_cap),
        "cache": {},
        "timings": timings,
    }
    server_ip = ex.conn.server[0]
    if not ex.conn.tuple_known:  # (the documentation-range addresses made up for it: no fact, not written)
        if f"://{endpoint(ex.conn.server)}/" in entry["request"]["url"]:  # (no Host: the URL names it)
            notes.append(INVENTED_NOTE)
    elif len(server_ip) <= MAX_IP_TEXT and _is_ip_text(server_ip):  # (no address text is longer, a zone id
        entry["serverIPAddress"] = server_ip  # included; a hostile uuid's may be megabytes, not to be kept)
    entry["connection"] = str(ex.conn.id)
    entry["_ecapture"] = dict(ex.ecapture)
    if ex.stream_id is not None:
        entry["_streamId"] = ex.stream_id
    if ex.websocket_messages:
        entry["_resourceType"] = "websocket"
        entry["_webSocketMessages"] = har_messages(ex.websocket_messages)
    for n in notes:  # a limit that cut something, bytes not placed or lost by eCapture: an error, not just a remark
        if (limits_in(n) or n.startswith(NOT_PLACED) or LOST_BY_ECAPTURE in n) and n not in ex.errors:
            ex.errors.append(n)
    if ex.errors:
        entry["_error"] = "; ".join(ex.errors)
    comment = (repairs_said(notes) if notes else notes) + ex.errors  # (most entries have no notes: no call)
    if comment:
        entry["comment"] = "; ".join(dict.fromkeys(comment))
    return entry


# -- request / response --------------------------------------------------------------


def _request(req: HttpRequest | None, conn: Connection, version: str, notes: list[str], cap: int) -> dict:
    if req is None:
        return {
            "method": UNKNOWN_METHOD,
            "url": f"https://{endpoint(conn.server)}/#request-not-captured",
            "httpVersion": version,
            "cookies": [],
            "headers": [],
            "queryString": [],
            "headersSize": -1,
            "bodySize": -1,
        }
    headers, fields = _headers(req)
    # (below, helpers called only when they have something to read: most messages have no cookie, no note, no
    # query, no body the framing repair changed (_sent_size); ~0.5–1k instructions a call)
    host = fields.get("host")
    url = request_url(req, conn, host[0] if host else None)
    cookie = fields.get("cookie")
    out: dict = {
        "method": req.method,
        "url": url,
        "httpVersion": req.http_version,
        "cookies": request_cookies(cookie) if cookie else [],
        "headers": headers,
        "queryString": query_string(url) if "?" in url else [],
        "headersSize": req.header_size,
        "bodySize": req.body_size if req.rendered_headers is None else _sent_size(req, fields),
    }
    if req.body_size or req.body:
        out["postData"] = _post_data(req, fields, cap, notes)
    if req.notes:
        _message_notes(req, "request", notes)
    return out


def _response(resp: HttpResponse | None, notes: list[str], cap: int) -> dict:
    if resp is None:
        return {
            "status": 0,
            "statusText": "",
            "httpVersion": "",
            "cookies": [],
            "headers": [],
            "content": {"size": 0, "mimeType": UNKNOWN_MIME, "text": ""},
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": -1,
        }
    if resp.notes:
        _message_notes(resp, "response", notes)
    headers, fields = _headers(resp)
    sent = resp.body_size if resp.rendered_headers is None else _sent_size(resp, fields)
    set_cookie = fields.get("set-cookie")
    location = fields.get("location")
    return {
        "status": resp.status,
        "statusText": resp.reason,
        "httpVersion": resp.http_version,
        "cookies": response_cookies(set_cookie, resp.start_ns) if set_cookie else [],
        "headers": headers,
        "content": _content(resp, fields, cap, notes, sent),
        "redirectURL": location[0] if location else "",
        "headersSize": resp.header_size,
        "bodySize": sent,
    }


def _message_notes(msg: HttpMessage, what: str, notes: list[str]) -> None:
    for n in msg.notes:
        notes.append(f"{what}: {n}")


def _sent_size(msg: HttpMessage, fields: dict[str, list[str]]) -> int:
    """The body's size as sent (HAR's bodySize): what came, but for a body eCapture gunzipped (v1.x: its rendered
    head says gzip, the repaired one, ``fields``, no longer): the Content-Length it was sent with; without one, what its
    frames said (:attr:`HttpMessage.sent_size`, -1 when nothing did)."""
    rendered = msg.rendered_headers
    if rendered is None or "content-encoding" in fields:
        return msg.body_size
    coding = length = None
    for name, value in rendered:
        lowered = name.lower()
        if lowered == "content-encoding":
            coding = value.strip().lower()
        elif lowered == "content-length":
            length = value.strip()
    if coding not in ("gzip", "x-gzip"):
        return msg.body_size
    return int(length) if length and length.isdigit() and len(length) < 19 else msg.sent_size


def _content(resp: HttpResponse, fields: dict[str, list[str]], cap: int, notes: list[str], sent: int) -> dict:
    mime = _mime(fields.get("content-type"))
    content: dict = {"size": 0, "mimeType": mime}
    if not resp.body:  # ("text" is optional, but readers such as haralyzer take it as there)
        content["text"] = ""
        return content
    data, applied, comments = _decoded(resp.body, fields, cap) if "content-encoding" in fields else \
        (resp.body, False, [])  # (most bodies: no call)
    content["size"] = len(data)
    if (applied or sent != resp.body_size) and 0 <= sent <= len(data):
        content["compression"] = len(data) - sent
    text, is_base64, cut = _body_text(data, mime)
    content["text"] = text
    if is_base64:
        content["encoding"] = "base64"
    if cut:
        comments.append(CUT_NOTE)
    if comments:  # (most bodies have none: no generator made)
        notes.extend(f"response: {n}" for n in comments if limits_in(n))
    if len(resp.body) < resp.body_size:
        comments.append(f"only the first {len(resp.body)} of {resp.body_size} body bytes kept")
    if comments:
        content["comment"] = "; ".join(comments)
    return content


def _post_data(req: HttpRequest, fields: dict[str, list[str]], cap: int, notes: list[str]) -> dict:
    mime = _mime(fields.get("content-type"))
    data, _, comments = _decoded(req.body, fields, cap) if "content-encoding" in fields else (req.body, False, [])
    text, is_base64, cut = _body_text(data, mime)
    post: dict = {"mimeType": mime, "text": text}
    if cut:
        comments.append(CUT_NOTE)
    if comments:  # (most bodies have none: no generator made)
        notes.extend(f"request: {n}" for n in comments if limits_in(n))
    kind = mime.split(";", 1)[0].strip().lower()
    if is_base64:
        post["_encoding"] = "base64"
        comments.append("binary body: text is base64")
    elif kind == "application/x-www-form-urlencoded":
        post["params"] = form_pairs(text)
    if kind == "multipart/form-data" and (params := multipart_params(data, mime)) is not None:
        post["params"] = params
    if len(req.body) < req.body_size:
        comments.append(f"only the first {len(req.body)} of {req.body_size} body bytes kept")
    if comments:
        post["comment"] = "; ".join(comments)
    return post


def _mime(content_type: list[str] | None) -> str:
    """The mimeType of a body whose Content-Type values are ``content_type`` (:func:`_headers`'s fields)."""
    return content_type[0] if content_type and content_type[0] else UNKNOWN_MIME


def _decoded(body: bytes | bytearray, fields: dict[str, list[str]], cap: int) -> tuple[bytes | bytearray, bool, list[str]]:
    """(data, whether a coding was removed, notes) of :func:`~.content.decode_content` for ``body`` and its
    Content-Encoding (a new list of notes). Without that header (most bodies) what it gives is the body itself,
    uncopied: no :class:`~.content.Decoded` made (~5k instructions a body)."""
    values = fields.get("content-encoding")
    if not values:
        return body, False, []
    decoded = decode_content(body, ", ".join(values), cap=cap)
    return decoded.data, bool(decoded.applied), list(decoded.notes)


def _headers(msg: HttpMessage) -> tuple[list[dict], dict[str, list[str]]]:
    """(HAR headers, fields): ``msg``'s headers as HAR writes them (as eCapture rendered them when the framing repair
    changed them), and the values of the names an entry looks up (:data:`_LOOKED_UP`) by lower-cased name, in order,
    in one loop (``msg.header()`` lower-cases every name at each lookup, 3–6k instructions)."""
    rendered = msg.rendered_headers  # (v1.x responses whose body eCapture gunzipped)
    known = _FIELDS
    har = [] if rendered is None else [(known.get(pair) or _field_facts(pair))[0] for pair in rendered]
    fields: dict[str, list[str]] = {}
    for pair in msg.headers:
        facts = known.get(pair) or _field_facts(pair)
        if rendered is None:
            har.append(facts[0])
        key = facts[1]
        if key is not None:
            values = fields.get(key)
            if values is None:
                fields[key] = [pair[1]]
            else:
                values.append(pair[1])
    return har, fields


_LOOKED_UP = frozenset(("content-encoding", "content-type", "cookie", "host", "location", "set-cookie"))
# a header field (name, value) → its HAR dict and looked-up name: most repeat (Host, User-Agent), a lookup instead of
# ~1k instructions. A dict is shared by the entries holding it (written and read, never changed). Bounded as a Memo.
_FIELDS: dict[tuple[str, str], tuple[dict, str | None]] = {}


def _field_facts(pair: tuple[str, str]) -> tuple[dict, str | None]:
    """(HAR dict, lower-cased name if looked up, else None) of a field, kept as a Memo keeps (without its 2 calls)."""
    name, value = pair
    key = name.lower()
    facts = {"name": name, "value": value}, key if key in _LOOKED_UP else None
    if len(name) + len(value) <= KEY_KEPT_SIZE:
        if len(_FIELDS) >= KEYS_KEPT:
            _FIELDS.clear()
        _FIELDS[pair] = facts
    return facts


def _body_text(data: bytes | bytearray, mime: str) -> tuple[str | bytes | bytearray, bool, bool]:
    """(text, is_base64, cut): the charset of ``mime`` or UTF-8 when it decodes, else base64; UTF-8 cut inside its
    last character (eCapture's 16 KiB cap, ``--tsize``) is text all the same, that character U+FFFD (``cut``).

    A large body (over :data:`LARGE_BODY`) is written as base64 when text would cost more
    memory than base64: when it is not ASCII (a str of wide characters takes up to 4 bytes
    per character) or when JSON would escape much of it (control bytes become ``\\u0000``).
    Large base64 text is left as the bytes themselves: the JSON encoder writes bytes as
    base64, so the body is never held twice as big in memory.
    """
    if ";" not in mime and len(data) <= LARGE_BODY:  # (most: no charset parameter, UTF-8; the loop below's first
        try:  # step without its tuple and tests, ~1k instructions)
            return data.decode(), False, False
        except UnicodeDecodeError:
            pass
    elif len(data) > LARGE_BODY and costly_as_text(data):
        return _base64(data), True, False
    charset = _charset(mime) if ";" in mime else None  # (a charset parameter needs a ';': no call without)
    for enc in (charset, "utf-8") if charset else ("utf-8",):
        try:
            return data.decode(enc, _C1 if enc == "cp1252" else "strict"), False, False
        except (LookupError, UnicodeDecodeError) as exc:
            if type(exc) is UnicodeDecodeError and exc.reason == "unexpected end of data" and len(data) - exc.start < 4 \
                    and enc.lower().replace("_", "-") in ("utf-8", "utf8"):
                return data[: exc.start].decode(enc) + "\ufffd", False, True
            continue
    return _base64(data), True, False


CUT_NOTE = "the body ends inside a character (cut short): that character is shown as U+FFFD"


def _base64(data: bytes | bytearray) -> str | bytes | bytearray:
    """Base64 text of ``data``; for a large body ``data`` itself (the JSON encoder writes it as base64)."""
    return data if len(data) > LARGE_BODY else base64.b64encode(data).decode("ascii")


def _charset(mime: str) -> str | None:
    for param in mime.split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            label = value.strip().strip('"')
            return _WINDOWS_1252 if label.lower() in _LATIN_1_LABELS else label or None
    return None


# The WHATWG Encoding Standard's labels of windows-1252, what browsers (and Chrome's HAR) decode "ISO-8859-1" and
# "us-ascii" as: 0x80–0x9F are “ ” – € …, not C1 controls (the HAR audit's finding 6). Its five bytes Python's
# cp1252 leaves undefined are the C1 controls there, as in Latin-1 (_C1).
_LATIN_1_LABELS = frozenset(("ansi_x3.4-1968", "ascii", "cp1252", "cp819", "csisolatin1", "ibm819", "iso-8859-1",
                             "iso-ir-100", "iso8859-1", "iso88591", "iso_8859-1", "iso_8859-1:1987", "l1", "latin1",
                             "us-ascii", "windows-1252", "x-cp1252"))
_WINDOWS_1252 = "cp1252"
_C1 = "ecq2pcap-c1"
codecs.register_error(_C1, lambda e: (e.object[e.start:e.end].decode("latin-1"), e.end))


# -- server address ------------------------------------------------------------------


MAX_IP_TEXT = 64


@lru_cache(maxsize=4096)
def _is_ip_text(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
