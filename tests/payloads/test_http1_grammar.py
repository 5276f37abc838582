"""The strict HTTP/1 field-line pattern against RFC 9110/9112's ABNF written out literally."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from ecq2pcap.payloads.http1.grammar import FIELD_LINE, STATUS_LINE

# RFC 9112 §5: field-line = field-name ":" OWS field-value OWS; RFC 9110 §5.5: field-value = *field-content,
# field-content = field-vchar [ 1*( SP / HTAB / field-vchar ) field-vchar ], field-vchar = VCHAR / obs-text
_TCHAR = rb"[!#$%&'*+.^_`|~0-9A-Za-z-]"
_VCHAR = rb"[\x21-\x7e\x80-\xff]"
ABNF = re.compile(rb"(" + _TCHAR + rb"+):[ \t]*((?:" + _VCHAR + rb"(?:(?:[ \t]|" + _VCHAR + rb")+" + _VCHAR
                  + rb")?)*)[ \t]*")
ABNF_ONE_VALUE = re.compile(rb"(" + _TCHAR + rb"+):[ \t]*((?:" + _VCHAR + rb"(?:(?:[ \t]|" + _VCHAR + rb")*"
                            + _VCHAR + rb")?)?)[ \t]*")

# the bytes that decide: separators, whitespace, controls, obs-text, a colon, CR/LF
pieces = st.sampled_from([b" ", b"\t", b"  ", b"a", b"Z", b"-", b":", b"\x7f", b"\x80", b"\xff", b"\x00", b"\r",
                          b"\n", b"\"", b"(", b"/"])
lines = st.builds(lambda name, value: name + b":" + value,
                  st.lists(st.sampled_from([b"A", b"x-y", b" ", b"\x80", b"a"]), max_size=3).map(b"".join),
                  st.lists(pieces, max_size=12).map(b"".join))


@settings(max_examples=1000, deadline=None)
@given(line=lines)
def test_field_line_is_the_abnf(line):
    got, expected = FIELD_LINE.fullmatch(line), ABNF_ONE_VALUE.fullmatch(line)
    assert (got is None) == (expected is None), line
    if got is not None:
        assert got.groups() == expected.groups(), line
        assert ABNF.fullmatch(line) is not None  # (*field-content: one run of field-content covers any value)


def test_examples():
    ua = b"User-Agent: Mozilla/5.0 (X11; Linux x86_64)  Chrome/126.0 \t"
    assert FIELD_LINE.fullmatch(ua).groups() == (b"User-Agent", b"Mozilla/5.0 (X11; Linux x86_64)  Chrome/126.0")
    assert FIELD_LINE.fullmatch(b"Empty:  ").groups() == (b"Empty", b"")
    for bad in (b"Bad Name: x", b"X: a\rb", b"X: a\x00", b"X: a\x7fb", b": x", b"X:\r\n y"):
        assert FIELD_LINE.fullmatch(bad) is None, bad


# RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ], reason-phrase = 1*( HTAB / SP / VCHAR
# / obs-text ) (the SP before an empty reason may be missing, as most parsers allow)
ABNF_STATUS = re.compile(rb"HTTP/([0-9]\.[0-9]) ([0-9]{3})(?: ((?:[ \t]|" + _VCHAR + rb")*))?")


@settings(max_examples=1000, deadline=None)
@given(reason=st.lists(pieces, max_size=8).map(b"".join), code=st.sampled_from([b"200", b"404", b"20", b"2000"]),
       sep=st.sampled_from([b" ", b"", b"  "]))
def test_status_line_is_the_abnf(reason, code, sep):
    line = b"HTTP/1.1 " + code + sep + reason
    got, expected = STATUS_LINE.fullmatch(line), ABNF_STATUS.fullmatch(line)
    assert (got is None) == (expected is None), line
    assert got is None or got.groups() == expected.groups(), line

