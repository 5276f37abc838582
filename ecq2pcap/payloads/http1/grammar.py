"""The HTTP/1 grammar the codec needs, written from RFC 9112 / RFC 9110.

Two uses: the *strict* patterns (``REQUEST_LINE``, ``STATUS_LINE``, ``FIELD_LINE``) decide
whether the fast path may parse a head itself (``FIELD_LINE``'s reading done in two cheaper steps
there, held to it by a test); the *loose* ones (``START_*``,
``*_SEARCH``, ``*_PREFIX``) recognise a message start between messages and after
garbage (resynchronisation). The strict patterns accept a subset of what h11 accepts,
so a head they refuse simply goes to h11.
"""

from __future__ import annotations

import re

from ..header_names import TOKEN

__all__ = [
    "FIELD_LINE",
    "REQUEST_LINE",
    "STATUS_LINE",
    "START_REQUEST",
    "START_STATUS",
    "REQUEST_SEARCH",
    "STATUS_SEARCH",
    "REQUEST_PREFIX",
    "STATUS_PREFIX",
    "DIGITS",
    "text",
]

# RFC 9110 §5.6.2: token = 1*tchar (TOKEN: imported above, shared with the header names)
VCHAR = rb"[\x21-\x7e]"
FIELD_VCHAR = rb"[\x21-\x7e\x80-\xff]"  # VCHAR / obs-text
OWS = rb"[ \t]*"
HTTP_VERSION = rb"HTTP/(?P<http_version>[0-9]\.[0-9])"

# RFC 9112 §3: request-line = method SP request-target SP HTTP-version
REQUEST_LINE = re.compile(rb"(?P<method>" + TOKEN + rb") (?P<target>" + VCHAR + rb"+) " + HTTP_VERSION)
# RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ]; like most
# parsers, the SP before an empty reason may be missing
STATUS_LINE = re.compile(
    HTTP_VERSION + rb" (?P<status_code>[0-9]{3})(?: (?P<reason>[ \t\x21-\x7e\x80-\xff]*))?"  # (HTAB / SP / field-vchar)
)
# RFC 9112 §5: field-line = field-name ":" OWS field-value OWS (no obs-fold)
FIELD_LINE = re.compile(
    rb"(?P<field_name>" + TOKEN + rb"):" + OWS
    + rb"(?P<field_value>(?:" + FIELD_VCHAR + rb"(?:[ \t\x21-\x7e\x80-\xff]*" + FIELD_VCHAR + rb")?)?)" + OWS
)  # fmt: skip
# (field-value = field-vchar [ 1*( SP / HTAB / field-vchar ) field-vchar ]: RFC 9110 §5.5's field-content runs
# written as one character class, which the regex engine walks in one loop: a User-Agent line 1.17 -> 0.61 µs)
DIGITS = re.compile(rb"[0-9]{1,18}")  # a Content-Length value we take as it is

# loose start lines (a bare LF line end tolerated), for finding where a message begins
START_REQUEST = re.compile(TOKEN + rb" [^\x00-\x20\x7f]+ HTTP/1\.[0-9]\r?")
START_STATUS = re.compile(rb"HTTP/1\.[0-9] [0-9]{3}(?: [^\r\n]*)?\r?")
REQUEST_SEARCH = re.compile(rb"^" + START_REQUEST.pattern + rb"$", re.M)
STATUS_SEARCH = re.compile(rb"^" + START_STATUS.pattern + rb"$", re.M)
# an incomplete first line that may still become a start line
REQUEST_PREFIX = re.compile(TOKEN + rb"(?: [^\x00-\x20\x7f]*(?: [HTP/1.0-9]*\r?)?)?")
STATUS_PREFIX = b"HTTP/1."


def text(b: bytes) -> str:
    """Header text: UTF-8 when it is, Latin-1 otherwise (never fails, never loses a byte)."""
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return b.decode("latin-1")
