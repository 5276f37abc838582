"""What bytes cost as JSON text: the escapes counted are those JSON writes as \\u00XX, in a large body too."""

from __future__ import annotations

import msgspec

from ecq2pcap.sinks.har.costs import LARGE_BODY, costly_as_text, escapes_added


def test_escapes_added_are_what_json_adds():
    data = bytes(range(128)) + b'"\\' * 3
    two_bytes = 5 + 8  # \b \t \n \f \r, and 4 '"' and 4 '\\' (not counted)
    assert escapes_added(data) == len(msgspec.json.encode(data.decode())) - 2 - len(data) - two_bytes == 27 * 5
    assert escapes_added(b"line\nend\r\n\t\"q\"") == 0  # (2 bytes each at most, as in any JSON text)


def test_a_large_body_is_counted_in_slices_as_a_small_one():
    data = (b"a" * 14 + b"\x00") * (LARGE_BODY // 15 * 3)
    assert len(data) > 2 * LARGE_BODY and escapes_added(data) == 5 * len(data) // 15
    assert not costly_as_text(data) and costly_as_text(data + b"\x00" * 1000) and costly_as_text(data + "é".encode())
