"""A HAR request's URL from what eCapture saw: the request target, ``Host``/``:authority`` or the server address.

URLs are ``https://`` (eCapture captures TLS plaintext) + the authority + the target; absolute-form targets are
kept. What would end the authority early or make the URL unparsable is percent-encoded, so every HAR reader
(and urlsplit) accepts the result, whatever bytes a peer sent.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import quote, unquote_plus

from ...memo import Memo
from ...model import Connection
from .exchange import HttpRequest

__all__ = ["endpoint", "query_string", "request_url"]

_URI_SAFE = "!#$%&'()*+,/:;=?@[]~-._"
_IP_LITERAL = re.compile(r"\[[0-9A-Fa-f:.]+\](:[0-9]*)?")
_AUTHORITY_PART = re.compile(r"[^/?#]*")
_AUTHORITY_SAFE = _URI_SAFE.replace("/", "").replace("?", "").replace("#", "")


def request_url(req: HttpRequest, conn: Connection, host: str | None) -> str:
    """The URL of ``req`` on ``conn``; ``host``: its Host header's (first) value, None without one."""
    target = req.target
    if target[:1] == "/":  # origin-form (most; an HTTP/2 CONNECT with a :path, RFC 8441's WebSocket): none of the
        # forms below, nothing to fix
        key = (req.scheme, (req.authority or host or "").strip() or endpoint(conn.server), target)
        return _ORIGIN_URLS.known.get(key) or _ORIGIN_URLS.miss(key)
    lower = target[:8].lower()
    if lower.startswith("http://") or lower.startswith("https://"):  # absolute-form
        scheme, _, rest = target.partition("://")
        authority = _AUTHORITY_PART.match(rest)[0]
        if authority.strip():
            return f"{scheme}://{_quote_authority(authority)}{quote(rest[len(authority):], safe=_URI_SAFE)}"
        target = rest  # "http:///x": no authority, so the Host header's (below)
    elif req.method == "CONNECT" and target.strip():
        return f"{req.scheme}://{_quote_authority(target)}"  # authority-form
    authority = (req.authority or host or "").strip() or endpoint(conn.server)
    if not target.startswith("/"):
        target = "/" if target == "*" else "/" + target  # asterisk-form (OPTIONS *) or odd targets
    return _url((req.scheme, authority, target))


def _url(key: tuple[str, str, str]) -> str:
    """A URL of (scheme, authority, target), each part quoted as a URL holds it."""
    scheme, authority, target = key
    return f"{scheme}://{_quote_authority(authority)}{_quote_target(target)}"


# (scheme, authority, origin-form target) → URL (ecq2pcap.memo): a client asks the same few servers for the same few
# paths (~5k instructions an entry less: the checks of the other forms, the quoting); only those up to a host
# name's and a target's usual size kept
_ORIGIN_URLS = Memo(_url, max_size=512, size=lambda key: len(key[1]) + len(key[2]))


# what quote(…, safe=_URI_SAFE) leaves as it is: its always-safe characters and _URI_SAFE's
_TARGET_AS_IS = re.compile(r"[A-Za-z0-9!#$%&'()*+,/:;=?@\[\]~._-]*")


def _quote_target(target: str) -> str:
    """``quote(target, safe=_URI_SAFE)``; a target it would leave as it is (most) without its call (~6k instructions)."""
    return target if _TARGET_AS_IS.fullmatch(target) is not None else quote(target, safe=_URI_SAFE)


def _is_ip_literal(authority: str) -> bool:
    """``[v6]`` or ``[v6]:port`` with a real IPv6 address (urlsplit rejects ``[B:1]``)."""
    if _IP_LITERAL.fullmatch(authority) is None:
        return False
    try:
        ipaddress.IPv6Address(authority[1 : authority.index("]")])
    except ValueError:
        return False
    return True


def _quote_authority(authority: str) -> str:
    """Percent-encode what would end the URL's authority early ("/", "?", "#") or make it
    unparsable (a bracket that is not around an IPv6 literal)."""
    return _QUOTED.known.get(authority) or _QUOTED.miss(authority)


def _quoted(authority: str) -> str:
    safe = _AUTHORITY_SAFE
    if ("[" in authority or "]" in authority) and not _is_ip_literal(authority):
        safe = safe.replace("[", "").replace("]", "")
    return quote(authority, safe=safe)


# authority → quoted (ecq2pcap.memo): a capture names few servers, each in every entry; only names up to a host
# name's length (253) and a port are kept
_QUOTED = Memo(_quoted, max_entries=1024, max_size=260)


def endpoint(addr: tuple[str, int]) -> str:
    ip, port = addr
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def query_string(url: str) -> list[dict]:
    return form_pairs(url.partition("?")[2].partition("#")[0])  # (not urlsplit: it rejects a hostile "[" authority)


def form_pairs(query: str) -> list[dict]:
    """The name/value pairs of a query or a urlencoded form, as ``parse_qsl(keep_blank_values=True)`` reads them,
    except that a part whose %-escapes are not UTF-8 is kept as sent (``b=%E9``: parse_qsl made it "\ufffd", the
    byte lost; Chrome keeps the text as sent)."""
    if not query:
        return []  # (what parse_qsl gives, in a tenth of its time)
    # parse_qsl's pairs are the '&'-separated parts split at their first '=' (empty parts skipped), made here: in
    # a third of its time when there is nothing to unquote (~22k instructions a URL's query)
    escaped = "%" in query or "+" in query
    out = []
    for pair in query.split("&"):
        if pair:
            name, _, value = pair.partition("=")
            if escaped:
                name, value = _unquoted(name), _unquoted(value)
            out.append({"name": name, "value": value})
    return out


def _unquoted(part: str) -> str:
    try:
        return unquote_plus(part, errors="strict")
    except UnicodeDecodeError:
        return part
