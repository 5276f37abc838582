"""HTTP/1 header fields as text: what the per-field reading (:func:`~ecq2pcap.payloads.http1.grammar.text`:
UTF-8, else Latin-1) gives, on any bytes, read afresh or kept from before."""

from __future__ import annotations

from hypothesis import given, strategies as st

from ecq2pcap.payloads.http1.grammar import text
from ecq2pcap.payloads.http1.messages import _headers

field = st.binary(max_size=12) | st.text(max_size=6).map(lambda s: s.encode("utf-8", "surrogatepass"))


@given(st.lists(st.tuples(field, field), max_size=6))
def test_headers_read_each_field_as_text_reads_it(fields):
    assert _headers(fields) == [(text(n), text(v)) for n, v in fields]


def test_one_latin_1_field_leaves_the_utf_8_ones_utf_8():
    assert _headers([(b"X", b"caf\xe9"), (b"Y", "é".encode())]) == [("X", "café"), ("Y", "é")]


def test_fields_kept_as_text_are_bounded_and_read_as_the_first_time():
    # fields read before are kept as text (the fast path hands the same ones again); a flood of distinct
    # fields keeps at most its max_entries, none longer than its max_size, and a kept one reads as afresh
    from ecq2pcap.payloads.http1 import messages

    messages._TEXTS.known.clear()
    for i in range(3 * messages._TEXTS.max_entries // 8):
        _headers([(b"X-%d-%d" % (i, j), b"v" * (j * 40)) for j in range(8)])
        assert len(messages._TEXTS.known) <= messages._TEXTS.max_entries
    assert max(len(n) + len(v) for n, v in messages._TEXTS.known) <= messages._TEXTS.max_size
    fields = [(b"Host", b"caf\xc3\xa9"), (b"X-Latin", b"caf\xe9"), (b"caf\xe9", b"x")]
    first = _headers(fields)
    assert _headers(list(fields)) == first == [(text(n), text(v)) for n, v in fields]
    assert all(f in messages._TEXTS.known for f in fields)


_HEAD_BYTES = st.lists(st.sampled_from([b"a", b"B", b" ", b"\t", b":", b"\r", b"\n", b"\r\n", b"\xc3\xa9", b"\xff"]),
                       max_size=30).map(b"".join)


@given(_HEAD_BYTES)
def test_rendered_head_fields_are_those_the_pattern_finds_in_the_whole_head(lines):
    # (rendered_into reads the head a line at a time, each line kept: what findall over the head found)
    from types import SimpleNamespace

    from ecq2pcap.payloads.http import HttpResponse
    from ecq2pcap.payloads.http1.messages import _RENDERED_FIELD, rendered_into

    head = b"HTTP/1.1 200 OK" + lines + b"\r\n\r\n"
    end = head.find(b"\r\n\r\n")
    for _ in range(2):  # read afresh, then kept
        msg = HttpResponse(status=200)
        rendered_into(msg, SimpleNamespace(original=head))
        assert msg.rendered_headers == _headers(_RENDERED_FIELD.findall(head, 0, end + 2))
        assert msg.header_size == end + 4


@given(field, field, st.sampled_from([b"1.1", b"1.0", b"0.9", b"2"]))
def test_start_line_texts_are_what_text_gives(target, reason, version):
    # new_request and new_response read the target and the reason as text() does (written out there) and the
    # version as "HTTP/" and its bytes, the usual ones from a table
    from ecq2pcap.payloads.http1.events import RequestHead, ResponseHead
    from ecq2pcap.payloads.http1.messages import new_request, new_response

    req = new_request(RequestHead(b"GET", target, version, []), 0, 10)
    resp = new_response(ResponseHead(200, reason, version, []), 0, 10, [])
    assert (req.target, resp.reason) == (text(target), text(reason))
    assert req.http_version == resp.http_version == "HTTP/" + version.decode("ascii", "replace")


@given(st.booleans(), st.lists(st.sampled_from([100, 102, 103]), max_size=2))
def test_messages_made_field_by_field_are_what_the_dataclasses_make(widened, interim):
    # new_request and new_response set every field themselves (not through the dataclasses' __init__): the same
    # messages as HttpRequest(...) and HttpResponse(...) with the fields they read, every other field its default
    import dataclasses

    from ecq2pcap.payloads.http import HttpRequest, HttpResponse
    from ecq2pcap.payloads.http1.events import RequestHead, ResponseHead
    from ecq2pcap.payloads.http1.messages import WIDENED_NOTE, new_request, new_response

    def every_field(msg):
        return {f.name: getattr(msg, f.name) for f in dataclasses.fields(msg)}

    texts = [("Host", "h")]
    req = new_request(RequestHead(b"POST", b"/p", b"1.0", []), 5, 90, 3 if widened else 0, list(texts))
    assert every_field(req) == every_field(HttpRequest(
        method="POST", target="/p", http_version="HTTP/1.0", headers=texts, body=bytearray(), start_ns=5,
        header_size=87 if widened else 90, notes=[WIDENED_NOTE] if widened else []))
    resp = new_response(ResponseHead(200, b"OK", b"1.1", []), 7, 80, [(c, "") for c in interim], list(texts))
    assert every_field(resp) == every_field(HttpResponse(
        status=200, reason="OK", http_version="HTTP/1.1", headers=texts, body=bytearray(), start_ns=7,
        header_size=80, interim=interim))
    assert resp.notes is not req.notes and new_response(ResponseHead(200, b"", b"1.1", []), 0, 1, []).interim == []
