"""A HAR request's URL parts: the authority's quoting (remembered per authority) and the query string."""

from __future__ import annotations

from urllib.parse import parse_qsl, quote

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ecq2pcap.payloads.http import HttpRequest
from ecq2pcap.sinks.har import urls

from . import make_conn


@pytest.mark.parametrize("authority, quoted", [
    ("example.com:8443", "example.com:8443"),
    ("[::1]:443", "[::1]:443"),
    ("[bad", "%5Bbad"),
    ("h/p#f", "h%2Fp%23f"),
])
def test_an_authority_quoted_again_is_quoted_alike(authority, quoted):
    assert urls._quote_authority(authority) == quoted
    assert urls._quote_authority(authority) == quoted  # (the second time from what was remembered)


def test_what_is_remembered_stays_bounded():
    # every request may name another host (a hostile peer, a scan): the memo must not grow with them
    for i in range(3 * urls._QUOTED.max_entries):
        assert urls._quote_authority(f"h{i}.test") == f"h{i}.test"
    assert 0 < len(urls._QUOTED.known) <= urls._QUOTED.max_entries
    long = "a" * 70000  # a Host header of the largest size the limits let through: quoted, not remembered
    assert urls._quote_authority(long) == long and long not in urls._QUOTED.known


@pytest.mark.parametrize("url", [
    "https://h/x", "https://h/x?", "https://h/x#?a=1", "https://h/x?#f", "https://h/x?a", "https://h/x?a=1&b=&a=2#f",
    "https://h/x?%zz=1&c=%20",
])
def test_query_string_is_parse_qsl_of_the_query(url):
    query = url.partition("?")[2].partition("#")[0]
    assert urls.query_string(url) == [{"name": k, "value": v} for k, v in parse_qsl(query, keep_blank_values=True)]


def test_a_query_part_whose_escapes_are_not_utf_8_is_kept_as_sent():
    # parse_qsl read "%E9" as "\ufffd": the byte was lost (the HAR audit's finding 10); Chrome keeps such text
    url = "https://h/s?b=%E9&c=caf%C3%A9&d=a+b&%FF=x&e=%E9+%41"
    assert urls.query_string(url) == [{"name": "b", "value": "%E9"}, {"name": "c", "value": "café"},
                                      {"name": "d", "value": "a b"}, {"name": "%FF", "value": "x"},
                                      {"name": "e", "value": "%E9+%41"}]


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="ab=&%+#?;2 é", max_size=24))
def test_query_string_is_parse_qsl_of_any_query(query):
    # the pairs made without parse_qsl (no '%' or '+' to unquote) and with it: the same, where the escapes are
    # UTF-8 (a part whose escapes are not is kept as sent: the test above)
    url = "https://h/x?" + query
    query = query.partition("#")[0]
    try:
        want = parse_qsl(query, keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        assume(False)
    assert urls.query_string(url) == [{"name": k, "value": v} for k, v in want]


@settings(max_examples=1000, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=0x7f) | st.sampled_from("é€ "), max_size=16))
def test_a_target_is_quoted_as_quote_does(target):
    # the targets left as they are without quote's call, and the rest through it: what quote gives
    assert urls._quote_target(target) == quote(target, safe=urls._URI_SAFE)


@pytest.mark.parametrize("authority, host, target", [
    (None, "example.com:8443", "/a?b=c"), (None, " h ", "/"), (None, None, "/x y"), ("a.test", "b.test", "/é#f"),
    (None, "[bad", "/p"), (None, "h/p#f", "//x"), (None, "", "/"), (None, "h", "/%zz[]"),
])
@pytest.mark.parametrize("method", ["GET", "CONNECT"])
def test_an_origin_form_url_remembered_is_the_url_worked_out(authority, host, target, method):
    """Origin-form targets take a shortcut (their URL remembered by scheme, authority and target): each gives,
    the first time and again, what the general path gives (a CONNECT's target that is a path, RFC 8441's, is
    origin-form too)."""
    conn = make_conn()
    req = HttpRequest(method=method, target=target, authority=authority)
    general = _general_url(req, conn, host)
    urls._ORIGIN_URLS.known.clear()
    assert urls.request_url(req, conn, host) == general
    assert urls.request_url(req, conn, host) == general  # (the second time from what was remembered)


def _general_url(req, conn, host):
    """request_url's general path alone (what it did for every target before the shortcut)."""
    if req.method == "CONNECT" and req.target.strip() and not req.target.startswith("/"):
        return f"{req.scheme}://{urls._quoted(req.target)}"
    authority = (req.authority or host or "").strip() or urls.endpoint(conn.server)
    return f"{req.scheme}://{urls._quoted(authority)}{quote(req.target, safe=urls._URI_SAFE)}"
