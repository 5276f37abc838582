"""Parsing eCapture's HTTP/2 text dump (types 2/4): format from
gojue/ecapture pkg/event_processor/http2_{request,response}.go, hpack.HeaderField.String().
Here the dump builders, Go's %q unquoting and the frames; the samples' real streams, big dumps
and the lazy parse are in test_h2dump_samples.py."""

from __future__ import annotations

import base64
import gzip
import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecq2pcap.payloads import h2dump
from ecq2pcap.payloads.h2dump import go_unquote, parse_h2_dump

# ---------------------------------------------------------------------------
# builders: exactly what eCapture prints (also used by test_h2encode)

_NAMED = {7: "\\a", 8: "\\b", 12: "\\f", 10: "\\n", 13: "\\r", 9: "\\t", 11: "\\v"}


def goq(raw: bytes | str) -> bytes:
    """Go's %q (strconv.Quote) of a byte string."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogateescape")
    out = ['"']
    for ch in raw.decode("utf-8", "surrogateescape"):
        o = ord(ch)
        if 0xDC80 <= o <= 0xDCFF:  # a byte that is not UTF-8
            out.append(f"\\x{o - 0xDC00:02x}")
        elif ch in '"\\':
            out.append("\\" + ch)
        elif o in _NAMED:
            out.append(_NAMED[o])
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\x{o:02x}")
        elif ch.isprintable():  # same classes as Go's unicode.IsPrint
            out.append(ch)
        elif o < 0x10000:
            out.append(f"\\u{o:04x}")
        else:
            out.append(f"\\U{o:08x}")
    out.append('"')
    return "".join(out).encode("utf-8", "surrogateescape")


def frame_head(ftype: str, sid: int, length: int | None = None) -> bytes:
    out = b"\nFrame Type\t=>\t%s\nFrame StreamID\t=>\t%d\n" % (ftype.encode(), sid)
    return out if length is None else out + b"Frame Length\t=>\t%d\n" % length


def headers_block(sid: int, fields, sensitive=(), length: int = 99) -> bytes:
    lines = b"".join(b"header field %s = %s%s\n" % (goq(k), goq(v), b" (sensitive)" if i in sensitive else b"")
                     for i, (k, v) in enumerate(fields))
    return frame_head("HEADERS", sid, length) + lines


def data_block(sid: int, data: bytes, length: int | None = None) -> bytes:
    return frame_head("DATA", sid, len(data) if length is None else length) + data + b"\n"


def gzip_placeholder_block(sid: int, length: int = 8192) -> bytes:
    return frame_head("DATA", sid, length) + b"Partial entity body with gzip encoding ... \n"


def merged_block(sid: int, body: bytes) -> bytes:
    return (b"\nMerged Data Frame, StreamID\t=>\t%d\nMerged Data Frame, Final Length\t=>\t%d\n\n" % (sid, len(body))
            + body + b"\n")


def hpack_failed_block(sid: int, side: str = "response") -> bytes:
    return frame_head("HEADERS", sid, 40) + \
        b"[http2 %s] Incorrect HPACK context, Please use PCAP mode to get correct header fields ...\n" % side.encode()


def continuation_block(sid: int, side: str = "request") -> bytes:
    return frame_head("HEADERS", sid, 16384) + \
        b"[http2 %s] Not Supported HEADERS Frame with CONTINUATION frames\n" % side.encode()


def sample_dumps(samples_dir, name: str) -> list[bytes]:
    """Type 2/4 payloads of a sample: v1.4 JSON lines, or v1.5 protobuf frames decoded by hand
    (LogEntry field 2 = event; event field 9 = type, 11 = payload)."""
    out = []
    with gzip.open(samples_dir / name, "rt") as fh:
        for line in fh:
            msg = json.loads(line)
            if "data_b64" not in msg:
                if msg.get("log_type") == 2 and msg["payload"]["type"] in (2, 4):
                    out.append(base64.b64decode(msg["payload"]["payload_base64"]))
                continue
            if msg["opcode"] != "binary":
                continue
            event = dict(_pb_fields(base64.b64decode(msg["data_b64"]))).get(2)
            if isinstance(event, bytes):
                fields = dict(_pb_fields(event))
                if fields.get(9) in (2, 4):
                    out.append(fields.get(11, b""))
    return out


def _pb_fields(buf: bytes):
    def varint(i):
        value = shift = 0
        while True:
            b = buf[i]
            i += 1
            value |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                return value, i
    i = 0
    while i < len(buf):
        key, i = varint(i)
        wire = key & 7
        if wire == 0:
            value, i = varint(i)
        elif wire == 2:
            n, i = varint(i)
            value, i = buf[i:i + n], i + n
        elif wire in (1, 5):
            n = 8 if wire == 1 else 4
            value, i = buf[i:i + n], i + n
        else:
            raise ValueError("unsupported protobuf wire type")
        yield key >> 3, value


# ---------------------------------------------------------------------------
# Go %q unquoting

@pytest.mark.parametrize(("quoted", "expected"), [
    # strings exactly as Go's strconv.Quote prints them
    (rb'"plain"', b"plain"),
    (rb'"a\"b"', b'a"b'),
    (rb'"C:\\dir\\"', b"C:\\dir\\"),
    (rb'"\a\b\f\n\r\t\v"', b"\a\b\f\n\r\t\v"),
    (rb'"\x00\x01\x7f\xff\xfe"', b"\x00\x01\x7f\xff\xfe"),
    ('"é 日本 😀"'.encode(), "é 日本 😀".encode()),
    (rb'"\u200b\u00a0"', "\u200b\u00a0".encode()),
    (rb'"\U000e0001"', "\U000e0001".encode()),
    (rb'"\101\102\000"', b"AB\x00"),  # octal (Unquote accepts it, Quote never emits it)
    (rb'"a\x22b"', b'a"b'),
    (rb'"\'"', b"'"),
    (rb'""', b""),
])
def test_go_unquote(quoted, expected):
    assert go_unquote(quoted) == expected


# the header-line pattern written the straightforward way (a quoted string: any byte but a quote or backslash,
# or a backslash and any byte); the module's is unrolled for speed and must match the same lines alike
_PLAIN_QUOTED = rb'"((?:[^"\\]|\\.)*)"'
_PLAIN_HEADER_LINE = re.compile(rb"header field " + _PLAIN_QUOTED + rb" = " + _PLAIN_QUOTED + rb"( \(sensitive\))?\Z",
                                re.S)


@settings(max_examples=1000, deadline=None)
@given(name=st.lists(st.sampled_from([b'"', b"\\", b"a", b" ", b"\\\"", b"\\\\", b"\n", b"=", b"\xff"]), max_size=6),
       value=st.lists(st.sampled_from([b'"', b"\\", b"a", b" ", b"\\\"", b"\\\\", b"\n", b"=", b"\xff"]), max_size=6),
       tail=st.sampled_from([b"", b" (sensitive)", b" x", b'"']))
def test_header_line_pattern_is_the_plain_one(name, value, tail):
    line = b'header field "' + b"".join(name) + b'" = "' + b"".join(value) + b'"' + tail
    got, expected = h2dump._HEADER_LINE.match(line), _PLAIN_HEADER_LINE.match(line)
    assert (got is None) == (expected is None), line
    assert got is None or got.groups() == expected.groups(), line


@pytest.mark.parametrize("bad", [rb'"\q"', rb'"abc', rb'abc"', rb'"a"b"', rb'"\xZZ"', rb'"\ud800"', rb'"\U00110000"',
                                 rb'"\400"', rb'"trailing\"', b'"new\nline"', b'"', b""])
def test_go_unquote_rejects(bad):
    with pytest.raises(ValueError):
        go_unquote(bad)


@pytest.mark.parametrize("value", [
    b'a" = "b', b"back\\slash\\", b'ends with quote"', b"nul\x00byte", b"\xff\xfe not utf-8 \xc3",
    "ünïcødé 日本 😀".encode(), "zero\u200bwidth\u00a0nbsp".encode(), "\U000e0001 tag".encode(),
    b"tab\tnewline\ncr\rbell\a", b"x (sensitive)", b"", b"\x7f\x1b[0m",
])
def test_header_values_round_trip(value):
    dump = headers_block(1, [(b"x-v", value), (b"x-after", b"ok")])
    parsed = parse_h2_dump(dump)
    assert parsed.notes == []
    (frame,) = parsed.frames
    assert [(k, v.encode("utf-8", "surrogateescape")) for k, v in frame.headers] == [("x-v", value), ("x-after", b"ok")]
    assert frame.sensitive == set()


def test_goq_matches_known_go_output():
    # guards the test builder itself against Go's real output
    assert goq(b'a"\\\x00\xff\t') == rb'"a\"\\\x00\xff\t"'
    assert goq("é\u200b😀\U000e0001".encode()) == '"é\\u200b😀\\U000e0001"'.encode()


# ---------------------------------------------------------------------------
# frames

def test_headers_sensitive_and_order():
    fields = [(":method", "GET"), (":path", "/"), ("authorization", "Bearer x"), ("cookie", "a=b"), ("accept", "*/*")]
    parsed = parse_h2_dump(headers_block(3, fields, sensitive={2, 3}, length=57))
    assert parsed.notes == []
    (f,) = parsed.frames
    assert (f.type, f.stream_id, f.length) == ("HEADERS", 3, 57)
    assert f.headers == fields and f.sensitive == {2, 3}
    assert f.header(":path") == "/" and f.header("missing") is None
    assert not (f.hpack_failed or f.continuation_unsupported or f.truncated or f.gzip_placeholder)


def test_data_containing_block_markers():
    evil = (b"start\nFrame Type\t=>\tHEADERS\nFrame StreamID\t=>\t9\nFrame Length\t=>\t3\n"
            b'header field "x" = "y"\n\nMerged Data Frame, StreamID\t=>\t1\nMerged Data Frame, Final Length\t=>\t2\n\nzz\n'
            b"Partial entity body with gzip encoding ... \n\n\n")
    dump = data_block(1, evil) + data_block(1, b"\nFrame Type\t=>\t") + headers_block(3, [(":status", "200")])
    parsed = parse_h2_dump(dump)
    assert parsed.notes == [] and parsed.merged == {}
    assert [(f.type, f.stream_id) for f in parsed.frames] == [("DATA", 1), ("DATA", 1), ("HEADERS", 3)]
    assert parsed.frames[0].data == evil and parsed.frames[1].data == b"\nFrame Type\t=>\t"
    assert parsed.frames[2].headers == [(":status", "200")]


def test_empty_and_newline_data():
    dump = data_block(1, b"") + data_block(1, b"\n\n") + data_block(3, b"x\n") + frame_head("SETTINGS", 0)
    parsed = parse_h2_dump(dump)
    assert parsed.notes == []
    assert [f.data for f in parsed.frames[:3]] == [b"", b"\n\n", b"x\n"]
    assert parsed.frames[3].type == "SETTINGS" and parsed.frames[3].data is None


def test_other_frame_types():
    names = ["SETTINGS", "WINDOW_UPDATE", "PING", "RST_STREAM", "GOAWAY", "PRIORITY", "PUSH_PROMISE",
             "CONTINUATION", "UNKNOWN_FRAME_TYPE_12"]
    dump = b"".join(frame_head(n, i * 2 + 1) for i, n in enumerate(names))
    parsed = parse_h2_dump(dump)
    assert parsed.notes == []
    assert [(f.type, f.stream_id, f.length, f.headers, f.data) for f in parsed.frames] == \
        [(n, i * 2 + 1, None, None, None) for i, n in enumerate(names)]


def test_gzip_placeholders_and_merged_blocks_in_reverse_order():
    body1 = b"first body\nMerged Data Frame, StreamID\t=>\t7\n" * 100
    body3 = b"\nFrame Type\t=>\tDATA\n third"
    dump = (headers_block(1, [(":status", "200"), ("content-encoding", "gzip")])
            + gzip_placeholder_block(1) + headers_block(3, [(":status", "200"), ("content-encoding", "gzip")])
            + gzip_placeholder_block(3, 20) + gzip_placeholder_block(1, 0)
            + merged_block(3, body3) + merged_block(1, body1))
    parsed = parse_h2_dump(dump)
    assert parsed.notes == []
    assert [(f.type, f.stream_id, f.gzip_placeholder, f.data) for f in parsed.frames] == [
        ("HEADERS", 1, False, None), ("DATA", 1, True, None), ("HEADERS", 3, False, None),
        ("DATA", 3, True, None), ("DATA", 1, True, None)]
    assert parsed.merged == {1: body1, 3: body3} and parsed.merged_truncated == set()


@pytest.mark.parametrize("side", ["request", "response"])
def test_hpack_failure_and_continuation_lines(side):
    dump = hpack_failed_block(5, side) + data_block(5, b"body") + continuation_block(7, side) + frame_head("CONTINUATION", 7)
    parsed = parse_h2_dump(dump)
    assert parsed.notes == []
    h5, d5, h7, c7 = parsed.frames
    assert h5.hpack_failed and h5.headers == [] and not h5.continuation_unsupported
    assert d5.data == b"body"
    assert h7.continuation_unsupported and h7.headers == [] and not h7.hpack_failed
    assert c7.type == "CONTINUATION"


def test_padded_data_frame():
    # Frame Length counts the pad-length octet and padding; eCapture prints f.Data() only
    dump = data_block(1, b"abc\ndef", length=7 + 1 + 10) + headers_block(3, [(":status", "204")])
    parsed = parse_h2_dump(dump)
    assert [f.data for f in parsed.frames if f.type == "DATA"] == [b"abc\ndef"]
    assert parsed.frames[1].headers == [(":status", "204")]
    assert len(parsed.notes) == 1 and "padded" in parsed.notes[0]


def test_leading_newline_missing_and_trailing_newline():
    dump = data_block(1, b"x")[1:] + frame_head("PING", 0) + b"\n"
    parsed = parse_h2_dump(dump)
    assert parsed.notes == []
    assert [(f.type, f.data) for f in parsed.frames] == [("DATA", b"x"), ("PING", None)]


def test_garbage_is_skipped_with_a_note():
    dump = headers_block(1, [(":status", "200")]) + b"\nwhat is this\n" + data_block(1, b"ok") + b"junk at end"
    parsed = parse_h2_dump(dump)
    assert [(f.type, f.data) for f in parsed.frames] == [("HEADERS", None), ("DATA", b"ok")]
    assert len(parsed.notes) == 2 and all("unexpected" in n for n in parsed.notes)


def test_never_raises_on_random_bytes():
    import random
    rng = random.Random(7)
    pieces = [frame_head("DATA", 1, 5), frame_head("HEADERS", 3), b"Frame Length\t=>\t", b"header field ",
              b'"', b"\\", b"\n", b"\nMerged Data Frame, StreamID\t=>\t", b"Merged Data Frame, Final Length\t=>\t9\n",
              b"Partial entity body with gzip encoding ... \n", b"12", b"x" * 7, b"\xff"]
    for _ in range(2000):
        dump = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        parsed = parse_h2_dump(dump)
        for f in parsed.frames:  # what comes out is well formed, whatever went in
            assert f.type in ("DATA", "HEADERS") and f.stream_id in (1, 3) and f.offset <= len(dump)
            assert f.data is None or f.type == "DATA"
        assert all(isinstance(n, str) and n for n in parsed.notes)
        if not parsed.frames and dump.strip(b"\n"):  # bytes that made no frame are said
            assert parsed.notes


def test_truncated_at_every_offset():
    full_dump = (frame_head("SETTINGS", 0) + headers_block(1, [(":status", "200"), ("content-encoding", "gzip")])
                 + gzip_placeholder_block(1) + headers_block(3, [(":status", "200"), ("x", 'q"\\')], sensitive={1})
                 + data_block(3, b"0123456789\n" * 3) + data_block(3, b"") + merged_block(1, b"decoded body"))
    full = parse_h2_dump(full_dump)
    assert full.notes == [] and len(full.frames) == 6

    def key(f):
        return (f.type, f.stream_id, f.length, f.headers, f.sensitive, f.data, f.gzip_placeholder)

    data_start = full_dump.index(b"0123456789")
    for cut in range(len(full_dump)):
        parsed = parse_h2_dump(full_dump[:cut])
        for got, want in zip(parsed.frames[:-1], full.frames):
            assert key(got) == key(want), cut
        if parsed.frames:
            last, want = parsed.frames[-1], full.frames[len(parsed.frames) - 1]
            assert (last.type, last.stream_id) == (want.type, want.stream_id)
            if last.headers:
                assert last.headers == want.headers[:len(last.headers)] or last.truncated
            if last.data:
                assert want.data.startswith(last.data)
        if data_start < cut < data_start + 33:  # inside the DATA bytes
            last = parsed.frames[-1]
            assert last.truncated and last.data == full_dump[data_start:cut], cut
            assert any("truncated" in n for n in parsed.notes)
        merged_at = full_dump.index(b"decoded body")
        if merged_at < cut < merged_at + 12:
            assert parsed.merged == {1: full_dump[merged_at:cut]} and parsed.merged_truncated == {1}


def test_a_field_line_seen_before_reads_the_same_and_a_bad_escape_is_noted_every_time():
    """What a plain field line says is kept for its next time (h2dump._PLAIN_FIELDS); one with escapes is read
    each time, so what it notes is noted in every dump that holds it."""
    dump = frame_head("HEADERS", 1, 40) + (b'header field ":status" = "200"\n'
                                           b'header field "x-bad" = "a\\qb"\n'
                                           b'header field "x-esc" = "tab\\there"\n')
    first, second = parse_h2_dump(dump), parse_h2_dump(dump)
    for parsed in (first, second):
        assert parsed.frames[0].headers == [(":status", "200"), ("x-bad", "a\\qb"), ("x-esc", "tab\there")]
        assert sum("cannot unquote" in n for n in parsed.notes) == 1, parsed.notes
