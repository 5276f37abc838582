import os

import pytest

from ecq2pcap.payloads.hexdump import GO, looks_like_go_dump, reverse


def go_hex_dump(data: bytes) -> bytes:
    """An independent re-implementation of Go's encoding/hex.Dump layout."""
    lines = []
    for off in range(0, len(data), 16):
        chunk = data[off : off + 16]
        hexpart = ""
        for i, b in enumerate(chunk):
            hexpart += f"{b:02x} "
            if i == 7:
                hexpart += " "
        ascii_ = "".join(chr(b) if 32 <= b <= 126 else "." for b in chunk)
        lines.append(f"{off:08x}  {hexpart:<49} |{ascii_}|\n")
    return "".join(lines).encode()


@pytest.mark.parametrize("n", [1, 7, 8, 9, 15, 16, 17, 31, 32, 1000])
def test_roundtrip_lengths(n):
    data = os.urandom(n)
    dump = go_hex_dump(data)
    assert looks_like_go_dump(dump) == (n >= 1)
    assert reverse(dump, GO) == data


def test_ascii_column_with_pipes():
    data = b"\x81\x05|||||abc|def|ghi"
    assert reverse(go_hex_dump(data), GO) == data


def test_known_go_output():
    # literal output of Go's hex.Dump([]byte("\x81\x85#'20NTU\x10\x13"))
    dump = b"00000000  81 85 23 27 32 30 4e 54  55 10 13                 |..#'20NTU..|\n"
    assert reverse(dump, GO) == b"\x81\x85#'20NTU\x10\x13"


def test_not_a_dump():
    assert not looks_like_go_dump(b"GET / HTTP/1.1\r\n")
    with pytest.raises(ValueError):
        reverse(b"00000000  zz\n", GO)
    with pytest.raises(ValueError):  # offsets must continue
        reverse(go_hex_dump(b"a" * 16) + go_hex_dump(b"b" * 16), GO)


@pytest.mark.parametrize("lines", [2, 64])  # the per-line path, and the fast path of many full lines
def test_the_printable_column_must_show_the_bytes(lines):
    data = b"GET /abc HTTP/1." * lines
    dump = go_hex_dump(data)
    assert reverse(dump, GO) == data
    at = dump.index(b"|GET /abc") + 2  # the "E" of the first line's printable column
    with pytest.raises(ValueError):
        reverse(dump[:at] + b"X" + dump[at + 1 :], GO)


def test_a_bar_in_the_printable_column_is_data():
    # Go's hex.Dump shows "|" bytes as themselves inside its |...| column (protocol doc §4.3)
    data = b"a|b||c|" * 3
    assert reverse(go_hex_dump(data), GO) == data


def test_a_v1_dump_ends_at_its_colour_reset():
    from fixtures.encoders import go_v1_dump

    from ecq2pcap.payloads.hexdump import ECAPTURE_V1

    dump = go_v1_dump(b"GET / HTTP/1.1\r\n\r\n", "\x1b[32m") + b"\x1b[0m,"
    assert reverse(dump, ECAPTURE_V1) == b"GET / HTTP/1.1\r\n\r\n"
    with pytest.raises(ValueError, match="after the end of the dump"):
        reverse(dump + b"\n" + go_v1_dump(b"more"), ECAPTURE_V1)
