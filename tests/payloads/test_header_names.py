"""A header line's name, read once per name: the same answer as reading the line afresh, also from what was kept."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from ecq2pcap.payloads.header_names import field_name

_NAME_LINE = re.compile(rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+):")  # RFC 9110: field-name = token, then the colon

pieces = st.sampled_from([b"Host", b"COOKIE", b"x-y", b" ", b"\t", b":", b"\x00", b"\xe9", b"a", b"(", b"v=1"])


@settings(max_examples=800, deadline=None)
@given(line=st.lists(pieces, max_size=6).map(b"".join))
def test_a_name_is_read_as_a_token_before_the_first_colon(line):
    m = _NAME_LINE.match(line)
    for _ in range(2):  # the second time from what was kept
        got = field_name(line)
        if m is None:
            assert got is None, line
        else:
            assert got == (m[1], m[1].lower(), m.end() - 1), line
