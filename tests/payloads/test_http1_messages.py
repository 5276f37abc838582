"""HTTP/1 header fields as text: the one-pass decode of all-UTF-8 heads gives what the per-field
reading (:func:`~ecq2pcap.payloads.http1.grammar.text`: UTF-8, else Latin-1) gives, on any bytes."""

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
