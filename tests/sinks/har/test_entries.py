"""Exchange → HAR entry: URLs, cookies, bodies, missing sides, times; every entry schema-valid."""

from __future__ import annotations

import base64
import gzip
import json
from datetime import datetime, timezone

import brotli
import pytest

from ecq2pcap.model import Direction
from ecq2pcap.sinks.har.entries import CUT_NOTE, INVENTED_NOTE, UNKNOWN_METHOD, UNKNOWN_MIME, _body_text, build_entry
from ecq2pcap.sinks.har.exchange import Exchange, HttpRequest, HttpResponse, WebSocketMessage
from ecq2pcap.sinks.har.http1 import REQUEST_NOT_CAPTURED, RESPONSE_NOT_CAPTURED
from ecq2pcap.sinks.har.writer import encode_entry

from . import load_with_haralyzer, make_conn, validate_entry, validate_har

T0 = 1_795_715_801_123_456_789  # 2026-11-26T…Z, in ns


def request(method="GET", target="/", headers=None, body=b"", start=T0, end=None, **kw) -> HttpRequest:
    headers = [("Host", "example.test")] if headers is None else headers
    return HttpRequest(method=method, target=target, headers=headers, body=body, body_size=len(body),
                       start_ns=start, end_ns=start if end is None else end, header_size=100, complete=True, **kw)  # fmt: skip


def response(status=200, headers=None, body=b"", start=T0 + 5_000_000, end=None, **kw) -> HttpResponse:
    return HttpResponse(status=status, reason="OK", headers=headers or [], body=body, body_size=len(body),
                        start_ns=start, end_ns=start if end is None else end, header_size=80, complete=True, **kw)  # fmt: skip


def entry_of(req, resp, conn=None, **kw) -> dict:
    ex = Exchange(conn or make_conn(7), request=req, response=resp, **kw)
    entry = build_entry(ex)
    validate_entry(entry)
    return entry


def test_basic_entry():
    e = entry_of(
        request(target="/search?q=a+b&empty=&q=2", headers=[("Host", "example.test:8443"), ("Cookie", "a=1; b = two ;c=")]),
        response(headers=[("Content-Type", "text/html; charset=utf-8"), ("Set-Cookie", "sid=xyz; Path=/; Domain=example.test; "
                 "Expires=Wed, 21 Oct 2026 07:28:00 GMT; HttpOnly; Secure")], body="héllo".encode()),  # fmt: skip
    )
    r = e["request"]
    assert r["method"] == "GET" and r["httpVersion"] == "HTTP/1.1"
    assert r["url"] == "https://example.test:8443/search?q=a+b&empty=&q=2"
    assert r["queryString"] == [{"name": "q", "value": "a b"}, {"name": "empty", "value": ""}, {"name": "q", "value": "2"}]
    assert r["cookies"] == [{"name": "a", "value": "1"}, {"name": "b", "value": "two"}, {"name": "c", "value": ""}]
    assert r["headers"][0] == {"name": "Host", "value": "example.test:8443"}
    assert r["headersSize"] == 100 and r["bodySize"] == 0 and "postData" not in r
    s = e["response"]
    assert s["status"] == 200 and s["statusText"] == "OK" and s["redirectURL"] == ""
    assert s["content"] == {"size": 6, "mimeType": "text/html; charset=utf-8", "text": "héllo"}
    cookie = s["cookies"][0]
    assert cookie["name"] == "sid" and cookie["value"] == "xyz" and cookie["path"] == "/"
    assert cookie["domain"] == "example.test" and cookie["httpOnly"] and cookie["secure"]
    assert cookie["expires"] == "2026-10-21T07:28:00.000Z"
    assert e["connection"] == "7" and e["serverIPAddress"] == "10.0.0.2"
    assert e["cache"] == {} and "_error" not in e and "comment" not in e
    assert e["_ecapture"]["pid"] == 4242 and e["_ecapture"]["comm"] == "curl" and e["_ecapture"]["fd"] == 5


def test_a_hostile_server_address_is_not_an_ip_and_is_not_kept():
    """A uuid's tuple may name a server "address" of megabytes of digits and dots: the entry has no
    serverIPAddress, and such texts are not kept by the address check's cache (100 of 100 KB: 10 MB)."""
    import tracemalloc
    entry_of(request(), response(), conn=make_conn(7, server=("1." * 50_000, 443)))  # (the schema loads once)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(100):
            huge = f"{i}." * 50_000
            e = entry_of(request(), response(), conn=make_conn(7, server=(huge, 443)))
            assert "serverIPAddress" not in e and e["request"]["url"] == "https://example.test/"
            del e, huge
        assert tracemalloc.get_traced_memory()[0] - before < 2_000_000
    finally:
        tracemalloc.stop()

def test_times():
    e = entry_of(request(start=T0, end=T0 + 2_000_000), response(start=T0 + 5_000_000, end=T0 + 12_500_000))
    assert e["startedDateTime"] == "2026-11-26T17:56:41.123Z"
    parsed = datetime.fromisoformat(e["startedDateTime"].replace("Z", "+00:00"))
    assert parsed.tzinfo is not None and abs(parsed.timestamp() - T0 / 1e9) < 0.001
    t = e["timings"]
    assert (t["send"], t["wait"], t["receive"]) == (2.0, 3.0, 7.5)
    assert t["blocked"] == t["dns"] == t["connect"] == t["ssl"] == -1
    assert e["time"] == 12.5


def test_response_before_request_end_gives_no_negative_wait():
    e = entry_of(request(start=T0, end=T0 + 9_000_000), response(start=T0 + 1_000_000, end=T0 + 2_000_000))
    assert e["timings"]["wait"] == 0 and e["time"] == e["timings"]["send"] + e["timings"]["receive"]


def test_url_forms():
    conn = make_conn(1, server=("2001:db8::5", 9443))
    absolute = "http://proxy.example/x?y=1"
    assert entry_of(request(target=absolute, headers=[]), None)["request"]["url"] == absolute
    assert entry_of(request(target="/p", headers=[]), None, conn)["request"]["url"] == "https://[2001:db8::5]:9443/p"
    assert entry_of(request(target="/p", headers=[]), None)["request"]["url"] == "https://10.0.0.2:443/p"
    assert entry_of(request(target="/ä b", headers=[("Host", "h")]), None)["request"]["url"] == "https://h/%C3%A4%20b"
    assert entry_of(request(method="OPTIONS", target="*"), None)["request"]["url"] == "https://example.test/"
    assert entry_of(request(method="CONNECT", target="db:5432"), None)["request"]["url"] == "https://db:5432"


def test_gzip_response_is_decoded_with_compression():
    plain = b'{"k": "' + b"v" * 1000 + b'"}'
    body = gzip.compress(plain)
    e = entry_of(request(), response(headers=[("Content-Type", "application/json"), ("Content-Encoding", "gzip")], body=body))
    c = e["response"]["content"]
    assert c["text"] == plain.decode() and c["size"] == len(plain)
    assert c["compression"] == len(plain) - len(body)
    assert e["response"]["bodySize"] == len(body)


def test_stacked_encoding_across_header_lines():
    plain = b"stacked"
    body = brotli.compress(gzip.compress(plain))
    e = entry_of(request(), response(headers=[("Content-Encoding", "gzip"), ("Content-Encoding", "br")], body=body))
    assert e["response"]["content"]["text"] == "stacked"


def test_already_decoded_body_is_not_decoded_again():
    e = entry_of(request(), response(headers=[("Content-Encoding", "gzip")], body=b"plain text"))
    c = e["response"]["content"]
    assert c["text"] == "plain text" and c["size"] == 10 and "compression" not in c
    assert "already decoded" in c["comment"]


def test_binary_response_is_base64():
    body = bytes(range(256))
    e = entry_of(request(), response(headers=[("Content-Type", "application/octet-stream")], body=body))
    c = e["response"]["content"]
    assert c["encoding"] == "base64" and base64.b64decode(c["text"]) == body and c["size"] == 256


def test_charset_is_honoured():
    e = entry_of(request(), response(headers=[("Content-Type", "text/plain; charset=ISO-8859-1")], body="café".encode("latin-1")))
    assert e["response"]["content"]["text"] == "café"


@pytest.mark.parametrize("label", ["ISO-8859-1", "latin1", "us-ascii", '"iso_8859-1"', "windows-1252"])
def test_a_latin_1_label_is_read_as_windows_1252_as_browsers_do(label):
    """The WHATWG Encoding Standard: these labels are windows-1252, so 0x93 0x94 0x96 0x80 are “ ” – €, not
    invisible C1 controls (the HAR audit's finding 6); the five bytes windows-1252 leaves undefined are C1."""
    body = b"\x93Hello\x94 \x96 \x80 5 \x81\x8d\x8f\x90\x9d caf\xe9"
    e = entry_of(request(), response(headers=[("Content-Type", f"text/html; charset={label}")], body=body))
    assert e["response"]["content"]["text"] == "“Hello” – € 5 \x81\x8d\x8f\x90\x9d café"


def test_max_age_wins_over_expires_and_same_site_is_kept():
    """RFC 6265 §5.3: Max-Age, where given, is the expiry (the receipt plus its seconds), whatever Expires says and
    in whichever order; at or below 0 the cookie is expired; an invalid one is ignored. SameSite as Chrome writes it
    (the HAR audit's finding 5: Max-Age ignored, SameSite dropped)."""
    received = 1_795_800_001_000_000_000  # 2026-11-27T17:20:01Z
    cookies = entry_of(request(), response(start=received, headers=[
        ("Set-Cookie", "both=1; Max-Age=60; Expires=Wed, 21 Oct 2026 07:28:00 GMT; SameSite=lax"),
        ("Set-Cookie", "later=1; Expires=Wed, 21 Oct 2026 07:28:00 GMT; Max-Age=3600; SameSite=Strict"),
        ("Set-Cookie", "gone=1; Max-Age=0; SameSite=None; Secure"),
        ("Set-Cookie", "odd=1; Max-Age=soon; Expires=Wed, 21 Oct 2026 07:28:00 GMT; SameSite=sometimes"),
        ("Set-Cookie", "far=1; Max-Age=99999999999999")]))["response"]["cookies"]
    assert [(c["name"], c.get("expires"), c.get("sameSite")) for c in cookies] == [
        ("both", "2026-11-27T17:21:01.000Z", "Lax"), ("later", "2026-11-27T18:20:01.000Z", "Strict"),
        ("gone", "1970-01-01T00:00:00.000Z", "None"), ("odd", "2026-10-21T07:28:00.000Z", None),
        ("far", "9999-12-31T23:59:59.000Z", None)]


def test_utf_8_cut_inside_its_last_character_is_text_with_the_cut_said():
    """eCapture keeps 16 KiB of a call: a JSON body of CJK text cut inside a character was written whole as base64
    (the HAR audit's finding 7). Text, the cut character U+FFFD, said; bad bytes elsewhere stay base64."""
    text = '{"title": "' + "漢字" * 3000 + '"}'
    data = text.encode()[:16384]  # (cut inside a three-byte character)
    e = entry_of(request(), response(headers=[("Content-Type", "application/json")], body=data))
    c = e["response"]["content"]
    assert "encoding" not in c and c["text"] == data.decode("utf-8", "ignore") + "\ufffd"
    assert CUT_NOTE in c["comment"] and c["size"] == 16384
    for bad in (data[:-3] + b"\xff" + data[-3:], data + b"\xff"):  # (not a cut: a bad byte)
        c = entry_of(request(), response(headers=[("Content-Type", "application/json")], body=bad))["response"]["content"]
        assert c["encoding"] == "base64" and base64.b64decode(c["text"]) == bad
    post = entry_of(request("POST", headers=[("Content-Type", "text/plain")], body="é".encode()[:1]), response())
    assert post["request"]["postData"]["text"] == "\ufffd" and CUT_NOTE in post["request"]["postData"]["comment"]


def test_missing_content_type_is_x_unknown():
    e = entry_of(request(), response(body=b"x"))
    assert e["response"]["content"]["mimeType"] == "x-unknown"


def test_redirect_url():
    e = entry_of(request(), response(status=301, headers=[("Location", "https://example.test/new")]))
    assert e["response"]["redirectURL"] == "https://example.test/new"


def test_post_data_text_json():
    body = b'{"a": [1, 2]}'
    e = entry_of(request("POST", "/api", [("Host", "h"), ("Content-Type", "application/json")], body), response())
    pd = e["request"]["postData"]
    assert pd == {"mimeType": "application/json", "text": body.decode()}
    assert e["request"]["bodySize"] == len(body)


def test_post_data_form_has_params_and_text():
    body = b"user=al+ice&x=%2F"
    e = entry_of(request("POST", "/f", [("Content-Type", "application/x-www-form-urlencoded")], body), response())
    pd = e["request"]["postData"]
    assert pd["text"] == body.decode()
    assert pd["params"] == [{"name": "user", "value": "al ice"}, {"name": "x", "value": "/"}]


def test_post_data_params_whose_escapes_are_not_utf_8_are_kept_as_sent():
    # (a Latin-1 form: "%E9" was read as "\ufffd", the byte lost; the HAR audit's finding 10)
    body = b"name=caf%E9&city=S%C3%A3o+Paulo"
    e = entry_of(request("POST", "/f", [("Content-Type", "application/x-www-form-urlencoded")], body), response())
    assert e["request"]["postData"]["params"] == [{"name": "name", "value": "caf%E9"},
                                                  {"name": "city", "value": "São Paulo"}]


def test_post_data_binary_is_base64_with_marker():
    body = b"\x00\xff\x10binary"
    e = entry_of(request("PUT", "/b", [("Content-Type", "image/png")], body), response())
    pd = e["request"]["postData"]
    assert pd["_encoding"] == "base64" and base64.b64decode(pd["text"]) == body
    assert "base64" in pd["comment"] and pd["mimeType"] == "image/png"


def test_missing_request():
    ex = Exchange(make_conn(3), request=None, response=response(body=b"orphan"), errors=[REQUEST_NOT_CAPTURED])
    e = build_entry(ex)
    validate_entry(e)
    r = e["request"]
    assert r["method"] == UNKNOWN_METHOD == "UNKNOWN"
    assert r["url"] == "https://10.0.0.2:443/#request-not-captured"
    assert r["httpVersion"] == "HTTP/1.1" and r["headersSize"] == -1 and r["bodySize"] == -1
    assert e["_error"] == "request not captured by eCapture"
    assert e["response"]["content"]["text"] == "orphan"
    assert e["startedDateTime"].startswith("2026-11-26T17:56:41.128")


def test_missing_response():
    ex = Exchange(make_conn(3), request=request(), response=None, errors=[RESPONSE_NOT_CAPTURED])
    e = build_entry(ex)
    validate_entry(e)
    s = e["response"]
    assert s["status"] == 0 and s["statusText"] == "" and s["httpVersion"] == ""
    assert s["content"] == {"size": 0, "mimeType": "x-unknown", "text": ""}
    assert e["_error"] == "response not captured"
    assert e["timings"]["wait"] == 0 and e["timings"]["receive"] == 0


def test_errors_and_notes_reach_comment_and_error():
    req = request()
    req.notes.append("framing repaired")
    ex = Exchange(make_conn(), request=req, response=response(), errors=["e1", "e2"], notes=["n1"])
    e = build_entry(ex)
    validate_entry(e)
    assert e["_error"] == "e1; e2"
    assert e["comment"] == "n1; request: framing repaired; e1; e2"


def test_capped_body_is_marked():
    r = response(body=b"abc")
    r.body_size = 1000
    e = entry_of(request(), r)
    assert "only the first 3 of 1000" in e["response"]["content"]["comment"]
    assert e["response"]["bodySize"] == 1000


def test_websocket_messages_in_chrome_layout():
    ex = Exchange(make_conn(), request=request(), response=response(status=101))
    ex.websocket_messages += [
        WebSocketMessage(Direction.C2S, T0, 1, b"hello"),
        WebSocketMessage(Direction.S2C, T0 + 1_000_000, 2, b"\x00\x01"),
    ]
    e = json.loads(encode_entry(build_entry(ex)))  # (as written: a base64 message's data is its bytes until then)
    validate_entry(e)
    msgs = e["_webSocketMessages"]
    assert msgs[0] == {"type": "send", "time": T0 / 1e9, "opcode": 1, "data": "hello"}
    assert msgs[1]["type"] == "receive" and msgs[1]["_encoding"] == "base64"
    assert base64.b64decode(msgs[1]["data"]) == b"\x00\x01"


def test_non_ip_server_address_is_omitted():
    conn = make_conn(server=("not-an-ip", 443))
    e = entry_of(request(headers=[]), response(), conn)
    assert "serverIPAddress" not in e


def test_invented_endpoints_are_not_given_as_facts():
    """gnutls/nspr/gotls events carry no tuple: the connection's addresses are invented (documentation ranges).
    The HAR wrote one as serverIPAddress, the address the client connected to, and as a URL's host without a
    word (the HAR audit's finding 2): no serverIPAddress, and a URL that needs the address says so."""
    from msgspec.structs import replace

    conn = replace(make_conn(7, server=("198.51.100.77", 443)), tuple_known=False,
                   synthetic_reason="eCapture's gnutls/nspr events carry no socket tuple")
    named = entry_of(request(headers=[("Host", "gnu.example")]), response(), conn)
    bare = entry_of(request(target="/nohost", headers=[]), response(), conn)
    assert "serverIPAddress" not in named and "serverIPAddress" not in bare
    assert named["request"]["url"] == "https://gnu.example/" and "comment" not in named
    assert bare["request"]["url"] == "https://198.51.100.77:443/nohost" and bare["comment"] == INVENTED_NOTE
    known = entry_of(request(target="/nohost", headers=[]), response(), make_conn(7, server=("198.51.100.77", 443)))
    assert known["serverIPAddress"] == "198.51.100.77" and "comment" not in known


def test_entries_load_in_haralyzer():
    entries = [
        entry_of(request(), response(body=b"x")),
        build_entry(Exchange(make_conn(2), None, response(), errors=[REQUEST_NOT_CAPTURED])),
        build_entry(Exchange(make_conn(3), request(), None, errors=[RESPONSE_NOT_CAPTURED])),
    ]
    doc = {"log": {"version": "1.2", "creator": {"name": "t", "version": "0"}, "pages": [], "entries": entries}}
    validate_har(doc)
    loaded = load_with_haralyzer(doc)
    assert [x.request.method for x in loaded] == ["GET", "UNKNOWN", "GET"]
    assert [x.response.status for x in loaded] == [200, 200, 0]
    assert loaded[0].startTime == datetime(2026, 11, 26, 17, 56, 41, 123000, tzinfo=timezone.utc)


def test_header_lookups_take_the_first_value_and_every_repeat_whatever_the_case():
    # build_entry reads each message's headers once, by lower-cased name: the first value of a name (what
    # HttpMessage.header gives) and all of them in order (Cookie, Set-Cookie)
    req = request("POST", "/f", headers=[("HOST", "first.test"), ("Cookie", "a=1"), ("host", "second.test"),
                                         ("cookie", "b=2; c=3"), ("content-TYPE", "application/x-www-form-urlencoded"),
                                         ("Content-Type", "text/plain")], body=b"x=1&y=2")
    resp = response(headers=[("Location", "/one"), ("LOCATION", "/two"), ("Set-Cookie", "s=1"),
                             ("set-cookie", "t=2; Path=/p"), ("Content-Type", "text/html; charset=latin-1"),
                             ("content-type", "text/plain")], body="é".encode("latin-1"))
    e = entry_of(req, resp)
    assert e["request"]["url"] == "https://first.test/f"
    assert [(c["name"], c["value"]) for c in e["request"]["cookies"]] == [("a", "1"), ("b", "2"), ("c", "3")]
    assert e["request"]["postData"]["mimeType"] == "application/x-www-form-urlencoded"
    assert e["request"]["postData"]["params"] == [{"name": "x", "value": "1"}, {"name": "y", "value": "2"}]
    assert e["response"]["redirectURL"] == "/one"
    assert [(c["name"], c["value"], c.get("path")) for c in e["response"]["cookies"]] == [("s", "1", None),
                                                                                         ("t", "2", "/p")]
    assert e["response"]["content"]["mimeType"] == "text/html; charset=latin-1"
    assert e["response"]["content"]["text"] == "é"  # (the first Content-Type's charset)


def test_kept_header_fields_read_as_the_first_time():
    """Each field's HAR dict and looked-up name are kept by field (entries._FIELDS): an entry made from kept fields
    is the one made the first time, and a field too large to keep is read as any other."""
    from ecq2pcap.sinks.har.entries import _FIELDS

    big = "v" * 300  # (over the memo's key size: read each time)
    headers = [("Host", "kept.test"), ("X-Big", big), ("Cookie", "a=1"), ("content-type", "text/plain")]
    _FIELDS.clear()
    first = entry_of(request("POST", headers=list(headers), body=b"b"), response(headers=list(headers)))
    assert ("Host", "kept.test") in _FIELDS and ("X-Big", big) not in _FIELDS
    again = entry_of(request("POST", headers=list(headers), body=b"b"), response(headers=list(headers)))
    assert again == first
    want = [{"name": n, "value": v} for n, v in headers]
    assert first["request"]["headers"] == want and first["response"]["headers"] == want
    assert first["request"]["url"] == "https://kept.test/" and first["request"]["cookies"] == [{"name": "a", "value": "1"}]
    assert first["request"]["postData"]["mimeType"] == first["response"]["content"]["mimeType"] == "text/plain"
    from ecq2pcap.memo import KEYS_KEPT
    from ecq2pcap.sinks.har.entries import _field_facts

    for i in range(KEYS_KEPT + 10):  # a flood of distinct fields keeps at most KEYS_KEPT
        assert _field_facts(("X", str(i))) == ({"name": "X", "value": str(i)}, None)
        assert len(_FIELDS) <= KEYS_KEPT


def test_what_a_capture_says_of_another_http2_stream_is_not_in_this_entry():
    """One HTTP/2 capture carries several streams, and each stream's entry takes that capture's notes: a note
    naming another stream ("stream 1: ...") was in every one of them. eCapture's loss is an error of its own."""
    ex = Exchange(make_conn(), http_version="HTTP/2", stream_id=3)
    ex.request, ex.response = request(http_version="HTTP/2"), response(http_version="HTTP/2")
    ex.notes += ["stream 1: body is eCapture's gunzipped copy", "stream 3: body lost by eCapture (it could not "
                 "gunzip it)", "eCapture type 4 (HTTP/2 response)", "stream 31: body lost by eCapture"]
    entry = build_entry(ex)
    assert entry["comment"] == ("stream 3: body lost by eCapture (it could not gunzip it); eCapture type 4 (HTTP/2 "
                                "response)")
    assert entry["_error"] == "stream 3: body lost by eCapture (it could not gunzip it)"


@pytest.mark.parametrize("body", [b"plain ascii", "caf\u00e9 \u2603".encode(), "caf\u00e9".encode()[:-1], b"\xff\xfe\x00bin",
                                  b"\xe9t\xe9"], ids=["ascii", "utf-8", "utf-8 cut", "binary", "latin-1"])
@pytest.mark.parametrize("mime", [None, "text/plain", "text/plain; charset=iso-8859-1"])
def test_a_body_decoded_in_place_reads_as_body_text_gives_it(body, mime):
    """_content and _post_data write a body as _body_text gives it (UTF-8, a charset, latin-1, base64)."""
    headers = [] if mime is None else [("Content-Type", mime)]
    text, is_base64, cut = _body_text(body, mime or UNKNOWN_MIME)
    e = entry_of(request("POST", headers=[("Host", "example.test"), *headers], body=body),
                 response(headers=headers, body=body))
    content, post = e["response"]["content"], e["request"]["postData"]
    assert content["text"] == post["text"] == text
    assert ("encoding" in content) == ("_encoding" in post) == is_base64
    assert (CUT_NOTE in content.get("comment", "")) == (CUT_NOTE in post.get("comment", "")) == cut
