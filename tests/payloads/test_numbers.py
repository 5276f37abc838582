"""ascii_number: lengths, ids and window bits read from captured bytes."""

from __future__ import annotations

import pytest

from ecq2pcap.payloads.h2.encoder import _content_length
from ecq2pcap.payloads.h2dump import parse_h2_dump
from ecq2pcap.payloads.http1_render import repair_rendered
from ecq2pcap.payloads.numbers import MAX_DIGITS, ascii_number

HUGE = "9" * 5000  # int() refuses more than 4,300 digits with a ValueError


@pytest.mark.parametrize("text, value", [
    ("0", 0), ("42", 42), (b"0042", 42), ("9" * MAX_DIGITS, int("9" * MAX_DIGITS)),
    ("", None), ("9" * (MAX_DIGITS + 1), None), (HUGE, None), (HUGE.encode(), None),
    ("²", None), ("١٢", None), ("-1", None), ("+1", None), (" 1", None), ("1_000", None), ("0x10", None),
])
def test_ascii_number(text, value):
    assert ascii_number(text) == value


def test_a_huge_content_length_is_an_invalid_one_and_gets_repaired():
    wire, notes = repair_rendered(b"HTTP/1.1 200 OK\r\nContent-Length: " + HUGE.encode() + b"\r\n\r\nok")
    assert bytes(wire) == b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    assert notes == ("Content-Length " + "9" * 40 + "… (5000 bytes) → 2",)  # (the note quotes 40 bytes of it)


def test_an_http2_dump_with_huge_numbers_is_noted_not_raised():
    huge = HUGE.encode()
    dump = (b"\nFrame Type\t=>\tDATA\nFrame StreamID\t=>\t" + huge + b"\nFrame Length\t=>\t2\nok\n"
            b"\nFrame Type\t=>\tDATA\nFrame StreamID\t=>\t1\nFrame Length\t=>\t" + huge + b"\nok\n"
            b"\nMerged Data Frame, StreamID\t=>\t" + huge + b"\nMerged Data Frame, Final Length\t=>\t2\n\nok\n")
    parsed = parse_h2_dump(dump)
    assert any("bad number" in n for n in parsed.notes) and any("bad stream id" in n for n in parsed.notes)
    assert _content_length(HUGE) is None and _content_length(" 12 ") == 12
