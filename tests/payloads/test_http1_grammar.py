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


@settings(max_examples=1000, deadline=None)
@given(line=lines | st.lists(pieces, max_size=10).map(b"".join)
       | st.builds(lambda name, value: name + b":" + value,
                   st.sampled_from([b"Host", b"HOST", b"content-length", b"Transfer-Encoding", b"upgrade", b"Cookie"]),
                   st.lists(pieces | st.sampled_from([b"12", b"0"]), max_size=6).map(b"".join)))
def test_the_fast_path_reads_a_field_line_as_field_line_does(line):
    """The HTTP/1 fast path reads a header line in two steps (its name kept by name, its value's bytes checked
    by deletion): it takes exactly the lines FIELD_LINE takes, with the same name and value, also the second
    time (from what it kept), and names what frames (Host, Content-Length and its number, Transfer-Encoding)."""
    from ecq2pcap.payloads.http1 import fast

    m = FIELD_LINE.fullmatch(line)
    for _ in range(2):
        got = fast._field(line)
        assert (got is None) == (m is None), line
        if m is not None:
            assert got[0] == m.groups(), line
            kind = {b"host": fast._HOST, b"content-length": fast._LENGTH}.get(m[1].lower())
            assert got[1] == kind or (got[1] == fast._H11 and m[1].lower() in (b"transfer-encoding", b"upgrade"))
    for line, length in ((b"Content-Length: 12 ", 12), (b"content-length:x", -1), (b"CONTENT-LENGTH:\t007", 7)):
        assert fast._field(line)[2] == length


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

