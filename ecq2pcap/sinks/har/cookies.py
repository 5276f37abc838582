"""The cookies of a HAR entry: a request's Cookie and a response's Set-Cookie header values, as HAR 1.2's cookie
objects (``sameSite`` as Chrome's HAR export writes it)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from .times import http_date, iso

__all__ = ["request_cookies", "response_cookies"]


def request_cookies(headers: Sequence[str]) -> list[dict]:
    """The cookies of a request's Cookie header values."""
    cookies = []
    for header in headers:
        for part in header.split(";"):
            name, eq, value = part.strip().partition("=")
            if name or eq:
                cookies.append({"name": name.strip(), "value": value.strip()})
    return cookies


def response_cookies(headers: Sequence[str], received_ns: int) -> list[dict]:
    """The cookies of a response's Set-Cookie header values (received at ``received_ns``). ``Max-Age`` wins over
    ``Expires`` (RFC 6265 §5.3: the expiry is the receipt plus its seconds); ``SameSite`` as Chrome writes it."""
    cookies = []
    for header in headers:
        first, *attrs = header.split(";")
        name, _, value = first.strip().partition("=")
        cookie: dict = {"name": name.strip(), "value": value.strip()}
        max_age = None
        for attr in attrs:
            key, _, val = attr.strip().partition("=")
            key = key.strip().lower()
            val = val.strip()
            if key == "path":
                cookie["path"] = val
            elif key == "domain":
                cookie["domain"] = val
            elif key == "expires":
                expires = http_date(val)
                if expires:
                    cookie["expires"] = expires
            elif key == "max-age" and _MAX_AGE.fullmatch(val):  # (RFC 6265 §5.2.2: else ignored)
                max_age = int(val)
            elif key == "httponly":
                cookie["httpOnly"] = True
            elif key == "secure":
                cookie["secure"] = True
            elif key == "samesite" and val.lower() in _SAME_SITE:
                cookie["sameSite"] = _SAME_SITE[val.lower()]
        if max_age is not None:  # (not later than year 9999: what an ISO date can say; at or below 0: expired)
            cookie["expires"] = iso(0 if max_age <= 0 else min(received_ns + max_age * 10**9, _LAST_NS))
        cookies.append(cookie)
    return cookies


_MAX_AGE = re.compile(r"-?[0-9]{1,20}")
_SAME_SITE = {"lax": "Lax", "strict": "Strict", "none": "None"}
_LAST_NS = 253_402_300_799 * 10**9  # 9999-12-31T23:59:59Z
