"""HTTP/2 sniffing: looks_like_h2's shortcut for client bytes that are no HTTP/2 held to the whole reading."""

from __future__ import annotations

import random

import pytest

from ecq2pcap.payloads.h2.sniff import PREFACE, looks_like_h2, plausible_frames


def _whole_reading(c2s: bytes, s2c: bytes) -> bool:
    """looks_like_h2 as its docstring puts it: the preface's start, else plausible frames each way that has bytes."""
    c2s, s2c = bytes(c2s), bytes(s2c)
    if len(c2s) >= 3 and PREFACE.startswith(c2s[:24]):
        return True
    if not c2s:
        return len(s2c) >= 9 and s2c[3] == 0x4 and plausible_frames(s2c[:4096])
    return plausible_frames(c2s[:4096]) and (not s2c or plausible_frames(s2c[:4096]))


SETTINGS = b"\x00\x00\x06\x04\x00\x00\x00\x00\x00\x00\x03\x00\x00\x00\x64"
HEADERS = b"\x00\x00\x01\x01\x04\x00\x00\x00\x01\x82"
_rng = random.Random(3)
C2S = [b"", b"G", b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", b"POST /x HTTP/1.0\r\n\r\n", b"P", b"PR", b"PRI", b"PRI * HTTP/2",
       PREFACE, PREFACE + SETTINGS, b"PUT / HTTP/1.1\r\n\r\n", b"PRX", b"\x00", SETTINGS, HEADERS, SETTINGS + HEADERS,
       b"\x01\x00\x00\x00\x00\x00\x00\x00\x01", b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", b"\xff" * 20,
       *(_rng.randbytes(_rng.randrange(1, 30)) for _ in range(200)),
       *(bytes([_rng.choice((0, 0x50, 0x47))]) + _rng.randbytes(_rng.randrange(0, 30)) for _ in range(200))]
S2C = [b"", SETTINGS, b"HTTP/1.1 200 OK\r\n\r\n", HEADERS, b"\x00\x00\x00\x04\x01\x00\x00\x00\x00"]


@pytest.mark.parametrize("s2c", S2C)
@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_client_bytes_that_are_no_http2_are_told_at_once_as_by_the_whole_reading(s2c, kind):
    """Client bytes whose first byte starts neither the preface nor a frame HTTP/2 allows are refused at once: the
    same answer as the whole reading, for HTTP/1 text, the preface and its starts, frames and random bytes."""
    for c2s in C2S:
        assert looks_like_h2(kind(c2s), kind(s2c)) == _whole_reading(c2s, s2c), (c2s[:12], s2c[:12])
