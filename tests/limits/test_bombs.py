"""Decompression bombs for every content coding and for permessage-deflate, end to end through
`convert` in a subprocess: peak RSS stays under the budget with the default limits, and the
HAR says where the body was cut. The bombs are built at run time (see support.py)."""

from __future__ import annotations

import base64
import json

import pytest

from tests.limits.support import RSS_BUDGET_MB, Dump, bomb, convert_measured, load_har, raw_deflate_zeros
from tests.support.har import load_with_haralyzer, validate_har

LIMIT = 64 << 20  # the default --max-body-size / --max-ws-message-size
BOMB_MIB = 160  # 2.5 × the limit


@pytest.mark.parametrize("coding,limit", [
    ("gzip", None),  # the default limits, as the RSS promise says
    # the other codings cut at a smaller limit (decoding and writing 64 MiB three more times cost ~6 s): what
    # differs between codings is their decoder's cut, and the bomb is still 160 MiB, so RSS is still measured
    ("deflate", 8 << 20), ("br", 8 << 20), ("zstd", 8 << 20),
])
def test_content_encoding_bomb(tmp_path, coding, limit):
    body = bomb(coding, BOMB_MIB)
    d = Dump()
    fd = d.open()
    d.send(fd, b"GET /bomb HTTP/1.1\r\nHost: bomb.example\r\nAccept-Encoding: gzip, deflate, br, zstd\r\n\r\n")
    d.recv(fd, b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Encoding: %s\r\n"
               b"Content-Length: %d\r\n\r\n" % (coding.encode(), len(body)) + body)
    har = tmp_path / "o.har"
    flags = ["--max-body-size", str(limit)] if limit else []
    code, rss, err = convert_measured("convert", str(d.write(tmp_path / "in.jsonl")), "--har", str(har),
                                      "-w", str(tmp_path / "o.pcapng"), *flags)
    assert code == 0, err
    assert rss < RSS_BUDGET_MB, f"peak RSS {rss:.0f} MB"
    [entry] = load_har(har)
    content = entry["response"]["content"]
    limit = limit or LIMIT
    assert content["size"] == limit and content["encoding"] == "base64"
    assert base64.b64decode(content["text"][:4096]) == bytes(3072)
    assert f"{coding} body decodes to more than {limit} bytes: cut at {limit} (limit: --max-body-size)" \
        in entry["_error"]
    assert "limits reached: --max-body-size 1" in err


def test_permessage_deflate_bomb(tmp_path):
    payload = raw_deflate_zeros(BOMB_MIB)[:-4]  # RFC 7692: the sync flush tail is left off
    frame = bytes([0x80 | 0x40 | 2, 127]) + len(payload).to_bytes(8, "big") + payload  # FIN, RSV1, binary
    d = Dump()
    fd = d.open()
    d.send(fd, b"GET /chat HTTP/1.1\r\nHost: ws.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
               b"Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n")
    d.recv(fd, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n")
    d.recv(fd, frame)
    d.recv(fd, bytes([0x81, 5]) + b"after")  # the connection goes on after the bomb
    har = tmp_path / "o.har"
    code, rss, err = convert_measured("convert", str(d.write(tmp_path / "in.jsonl")), "--har", str(har))
    assert code == 0, err
    assert rss < RSS_BUDGET_MB, f"peak RSS {rss:.0f} MB"
    [entry] = load_har(har)
    [big] = entry["_webSocketMessages"]
    assert len(base64.b64decode(big["data"])) == LIMIT
    assert f"message truncated at {LIMIT} bytes (limit: --max-ws-message-size)" in entry["_error"]
    # parsing went on: the next message was seen, and not kept since the connection holds 64 MiB already
    assert "1 later WebSocket message(s) not kept" in entry["_error"] and "(limit: --max-connection-buffer)" in err
    assert "--max-ws-message-size 1" in err


_SIZE = 16000 - 4  # a text message in each 16,000-byte call


@pytest.mark.parametrize("payload", [bytes(_SIZE), "\U0001F600".encode() + b"a" * (_SIZE - 4),
                                     (b'"' * 15 + b"\0") * 999 + b'"' * 12],
                         ids=["NUL bytes", "one wide character", "quotes"])
def test_text_messages_of_an_entry(tmp_path, payload):
    """4,200 text messages of 15,996 bytes (67 MB of input, the connection's 64 MiB kept), held as the entry's
    texts while it is written (found by an audit of hostile inputs). NUL bytes: JSON escapes each as \\u0000, which
    made a 403 MB HAR and 555 MB of memory to write it (565 MB for summary); past the entry's allowance of escapes
    they are written as base64, as binary ones are. One emoji among ASCII: a str of 4 bytes a character, 490 MB; the
    JSON of a non-ASCII text is held instead. Quotes and a NUL byte in 16 (too few for base64; JSON makes 2.25
    times as many bytes): 319 MB for summary, every message's bytes held beside its text; let go of once written."""
    from ecq2pcap.sinks.har.websocket import ESCAPES_KEPT

    d = Dump()
    fd = d.open()
    d.send(fd, b"GET /ws HTTP/1.1\r\nHost: ws.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    d.recv(fd, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
    for _ in range(4200):
        d.recv(fd, b"\x81\x7e" + _SIZE.to_bytes(2, "big") + payload, dt=0.0001)
    dump, har = d.write(tmp_path / "in.jsonl"), tmp_path / "o.har"
    code, rss, err = convert_measured("convert", str(dump), "--har", str(har))
    assert code == 0, err
    assert rss < RSS_BUDGET_MB, f"peak RSS {rss:.0f} MB"
    code, rss, err = convert_measured("summary", str(dump))
    assert code == 0, err
    assert rss < RSS_BUDGET_MB, f"summary: peak RSS {rss:.0f} MB"
    code, rss, err = convert_measured("convert", str(dump), "--har", str(tmp_path / "j2.har"), "-j", "2")
    assert code == 0, err
    assert rss < RSS_BUDGET_MB, f"-j 2: peak RSS {rss:.0f} MB"  # (its worker's copies of the entry: 337-369 MB)
    assert (tmp_path / "j2.har").read_bytes() == har.read_bytes()
    doc = json.loads(har.read_bytes())
    validate_har(doc)
    load_with_haralyzer(doc)
    [entry] = doc["log"]["entries"]
    got = entry["_webSocketMessages"]
    assert "5 later WebSocket message(s) not kept" in entry["_error"] and len(got) == 4195  # (64 MiB kept)
    as_text = ESCAPES_KEPT // (_SIZE * 5) if payload == bytes(_SIZE) else len(got)
    assert [m.get("_encoding") for m in got] == [None] * as_text + ["base64"] * (len(got) - as_text)
    assert all(m["data"] == payload.decode() for m in got[:as_text])
    assert all(base64.b64decode(m["data"]) == payload for m in got[as_text:])


def test_escaped_text_body_is_written_as_base64():
    """A large body JSON would escape six-fold (control bytes) is written as base64."""
    from ecq2pcap.sinks.har.entries import LARGE_BODY, _body_text

    data = b"\x01" * (LARGE_BODY + 1)
    text, is_b64, cut = _body_text(data, "text/plain")
    assert is_b64 and bytes(text) == data and not cut  # left as bytes: the JSON encoder writes them as base64
    assert _body_text(b"\x01" * 10, "text/plain") == ("\x01" * 10, False, False)
