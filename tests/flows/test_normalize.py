import hpack
import pytest
from hyperframe.frame import Frame

from ecq2pcap.flows.normalize import DUMP_PREFACE_NOTE, Normalizer, Normalizing
from ecq2pcap.model import Capture, Chunk, DataType, Direction, PayloadForm
from ecq2pcap.payloads.h2 import PREFACE
from tests.support.flows import table_events
from tests.support.golden import inputs

RENDERED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nhello"
DUMP = (b'\nFrame Type\t=>\tHEADERS\nFrame StreamID\t=>\t1\nFrame Length\t=>\t20\n'
        b'header field ":status" = "200"\nheader field "content-length" = "2"\n'
        b"\nFrame Type\t=>\tDATA\nFrame StreamID\t=>\t1\nFrame Length\t=>\t2\nhi\n")


def cap(payload, form, ectype=None):
    return Capture(pid=1, tid=1, comm="c", fd=3, data_type=DataType.READ, tuple=None, timestamp_ns=1,
                   payload=payload, form=form, ectype=ectype, uuid="u")


def test_rendered_http1_repaired_or_kept():
    preface, wire, notes = Normalizer().wire(cap(RENDERED, PayloadForm.HTTP1_RENDERED, 3), Direction.S2C)
    assert preface == b"" and b"Content-Length: 5" in wire and b"chunked" not in wire and notes
    assert Normalizer(repair_http1=False).wire(cap(RENDERED, PayloadForm.HTTP1_RENDERED, 3), Direction.S2C) == (
        b"", RENDERED, ())


def test_h2_dump_becomes_frames_with_one_preface():
    n = Normalizer()
    preface, wire, notes = n.wire(cap(DUMP, PayloadForm.H2_DUMP, 4), Direction.S2C)
    assert preface.startswith(PREFACE) and notes[0] == DUMP_PREFACE_NOTE
    head, length = Frame.parse_frame_header(memoryview(wire[:9]))
    assert head.type == 0x1 and head.stream_id == 1  # HEADERS, no padding or priority
    assert hpack.Decoder().decode(wire[9 : 9 + length]) == [(":status", "200"), ("content-length", "2")]
    assert wire.endswith(b"hi")
    assert n.wire(cap(DUMP, PayloadForm.H2_DUMP, 4), Direction.S2C)[0] == b""  # never twice


def test_what_the_dump_parser_notes_reaches_the_packet_comment():
    """The dump parser's notes (a field line it did not read, a dump cut inside a frame) were dropped: the packet
    said nothing of a header that went missing."""
    long_line = b'header field "x-big" = "' + b"a" * (1 << 20) + b'"\n'
    dump = DUMP.replace(b'header field "content-length"', long_line + b'header field "content-length"')
    _, wire, notes = Normalizer().wire(cap(dump + b"\nFrame Type\t=>\tDATA\nFrame Str", PayloadForm.H2_DUMP, 4),
                                       Direction.S2C)
    assert hpack.Decoder().decode(wire[9 : 9 + Frame.parse_frame_header(memoryview(wire[:9]))[1]]) == [
        (":status", "200"), ("content-length", "2")]
    assert any("header field line of 1,048,601 bytes" in n and "not read" in n for n in notes)
    assert any("dump truncated inside" in n for n in notes)


@pytest.mark.parametrize("first, ectype", [
    (b"\x00\x00\x04\x08\x00\x00\x00\x00\x00\x00\x0f\x00\x01", 1),  # frames without their preface: one is made
    (PREFACE + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00", 0),  # the captured preface, raw (a type 0 event)
])
def test_one_preface_when_raw_http2_comes_before_a_dump(first, ectype):
    """v1 HTTP/2: the client's first bytes in a type 0/1 event as raw frames, then the frames as dumps (protocol
    doc §10.14, §11.8). The dumps' re-encoder made a second preface, which broke the client's direction for
    tshark and the HAR (its bytes read as a frame header of 5 MB)."""
    n = Normalizer()
    raw = Capture(pid=1, tid=1, comm="c", fd=3, data_type=DataType.WRITE, tuple=None, timestamp_ns=1,
                  payload=first, form=PayloadForm.RAW, ectype=ectype, uuid="u")
    prefaces = [n.wire(raw, Direction.C2S)[0]]
    prefaces.append(n.wire(cap(DUMP, PayloadForm.H2_DUMP, 4), Direction.S2C)[0])
    sent = b"".join(prefaces) + first
    assert sent.count(PREFACE) == 1


def test_raw_bytes_pass_through():
    assert Normalizer().wire(cap(b"GET / HTTP/1.1\r\n\r\n", PayloadForm.RAW), Direction.C2S) == (
        b"", b"GET / HTTP/1.1\r\n\r\n", ())


@pytest.mark.parametrize("path", inputs(), ids=lambda p: p.name)
def test_normalizing_after_the_table_makes_the_chunks_the_table_makes(path):
    """convert -j: a table that hands on Captured, then Normalizing (one per process, each seeing whole
    connections), gives every event a normalising table gives, field for field."""
    here = table_events(path)
    normalizing = Normalizing()
    later = [made for event in table_events(path, normalize=False) for made in normalizing.take(event)]
    assert [repr(e) for e in later] == [repr(e) for e in here]
    assert any(e.wire != e.raw for e in here if type(e) is Chunk) or "v2" in path.name  # (v2 sends raw bytes)


@pytest.mark.parametrize("payload", [
    b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    b"PRI * HTTP/1.1\r\n\r\n",
    b"not http at all\r\n\r\n",
    b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nhello",
    b"\r\n\r\n",
])
@pytest.mark.parametrize("direction", [Direction.C2S, Direction.S2C])
def test_a_rendered_first_message_decides_the_protocol_as_its_wire_bytes_do(payload, direction):
    # the normalizer takes the protocol from the repair (which read the start line); it is what the
    # connection's first wire bytes say by the general rule
    from ecq2pcap.model import PayloadForm, Protocol
    from ecq2pcap.payloads.h2 import starts_h2_connection
    from ecq2pcap.payloads.http1_render import starts_http1_message

    norm = Normalizer()
    _, wire, _ = norm.wire_of(payload, PayloadForm.HTTP1_RENDERED, 1, direction)
    expected = (Protocol.HTTP2 if starts_h2_connection(direction, wire) else
                Protocol.HTTP1 if starts_http1_message(wire) else Protocol.UNKNOWN)
    assert norm.protocol_of(PayloadForm.HTTP1_RENDERED, direction, wire) == expected


@pytest.mark.parametrize("parallel", [False, True])
def test_a_limit_that_bites_while_normalizing_is_a_warning_the_summary_counts(parallel):
    """A rendered head over --max-header-size is left as eCapture rendered it: that was said in the packet
    comment only, and a run writing only a pcapng ended with no 'limits reached' line."""
    from ecq2pcap.flows.normalize import normalized
    from ecq2pcap.limits import Limits
    from ecq2pcap.model import Captured, ChunkInfo, Connection
    from ecq2pcap.report import Report

    report = Report()
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n" + b"a: b\r\n" * 100 + b"\r\nhello"
    c = cap(head, PayloadForm.HTTP1_RENDERED, 3)
    conn = Connection(1, 1, "c", 3, ("10.0.0.1", 40000), ("10.0.0.2", 80))
    info = ChunkInfo.of(c, ())
    limits = Limits(header_section_size=256)
    if parallel:
        [chunk] = Normalizing(limits=limits, report=report).take(Captured(conn, Direction.S2C, 1, head, info))
    else:
        [chunk] = normalized(Normalizer(limits=limits), conn, Direction.S2C, 1, head, info, report)
    assert chunk.wire == head and any("--max-header-size" in n for n in chunk.info.notes)
    assert dict(report.limits) == {"--max-header-size": 1}


def test_a_part_of_a_dump_left_out_of_the_outputs_is_a_warning_the_summary_counts():
    """Bytes of a dump the re-encoder could not place (garbage between frames, a merged body with no DATA
    frame, a field line too long to read) were said in the packet comment only."""
    from ecq2pcap.flows.normalize import NOT_REBUILT, normalized
    from ecq2pcap.model import ChunkInfo, Connection
    from ecq2pcap.report import Report

    report = Report()
    dump = DUMP + b"garbage between frames" + b"\nMerged Data Frame, StreamID\t=>\t9\nMerged Data Frame, Final " \
        b"Length\t=>\t3\n\nabc\n"
    c = cap(dump, PayloadForm.H2_DUMP, 4)
    conn = Connection(1, 1, "c", 3, ("10.0.0.1", 40000), ("10.0.0.2", 80))
    chunks = normalized(Normalizer(), conn, Direction.S2C, 1, dump, ChunkInfo.of(c, ()), report)
    notes = chunks[-1].info.notes
    assert any("unexpected byte(s): b'garbage between frames" in n and n.endswith("(not in the outputs)")
               for n in notes)
    assert any("stream 9: merged body without DATA frames in this dump (not in the outputs)" in n for n in notes)
    assert report.warnings[NOT_REBUILT] == 2


def test_a_body_ecapture_could_not_gunzip_is_a_warning_the_summary_counts():
    """eCapture prints a placeholder instead of a gzip body it could not gunzip: the packet comment and the HAR
    entry said so, the run's summary did not."""
    from ecq2pcap.flows.normalize import ECAPTURE_LOSS, NOT_REBUILT, normalized
    from ecq2pcap.model import ChunkInfo, Connection
    from ecq2pcap.report import Report

    report = Report()
    dump = (b'\nFrame Type\t=>\tHEADERS\nFrame StreamID\t=>\t1\nFrame Length\t=>\t20\n'
            b'header field ":status" = "200"\nheader field "content-encoding" = "gzip"\n'
            b'\nFrame Type\t=>\tDATA\nFrame StreamID\t=>\t1\nFrame Length\t=>\t57\n'
            b'Partial entity body with gzip encoding ... \n')
    c = cap(dump, PayloadForm.H2_DUMP, 4)
    conn = Connection(1, 1, "c", 3, ("10.0.0.1", 40000), ("10.0.0.2", 80))
    chunks = normalized(Normalizer(), conn, Direction.S2C, 1, dump, ChunkInfo.of(c, ()), report)
    assert "stream 1: body lost by eCapture (it could not gunzip it)" in chunks[-1].info.notes
    assert report.warnings[ECAPTURE_LOSS] == 1 and NOT_REBUILT not in report.warnings and not report.limits


def test_a_head_responses_content_length_is_kept_and_no_loss_said():
    """A response to HEAD carries the Content-Length of what a GET would get, and no body (RFC 9110 §9.3.2):
    the repair rewrote it to 0, saying the body was not captured. A GET's bodiless response still is."""
    head_resp = b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n"
    n = Normalizer()
    n.wire(cap(b"HEAD /b HTTP/1.1\r\nHost: h\r\n\r\n", PayloadForm.HTTP1_RENDERED, 1), Direction.C2S)
    assert n.wire(cap(b"HTTP/1.1 100 Continue\r\n\r\n", PayloadForm.HTTP1_RENDERED, 3), Direction.S2C)[1:] == (
        b"HTTP/1.1 100 Continue\r\n\r\n", ())
    assert n.wire(cap(head_resp, PayloadForm.HTTP1_RENDERED, 3), Direction.S2C) == (b"", head_resp, ())
    n.wire(cap(b"GET /b HTTP/1.1\r\nHost: h\r\n\r\n", PayloadForm.HTTP1_RENDERED, 1), Direction.C2S)
    _, wire, notes = n.wire(cap(head_resp, PayloadForm.HTTP1_RENDERED, 3), Direction.S2C)
    assert b"Content-Length: 0\r\n" in wire and any("body not captured" in x for x in notes)
    _, wire, _ = n.wire(cap(head_resp, PayloadForm.HTTP1_RENDERED, 3), Direction.S2C)  # (no request: as before)
    assert b"Content-Length: 0\r\n" in wire


def test_after_a_rendered_101_the_websocket_frames_of_raw_captures_are_followed():
    """v1.4/1.5 (protocol doc §11.9): the 101 comes as eCapture's rendering, the frames as raw captures (Go hex
    dumps reversed). A frame eCapture cut at its 16 KiB per call is completed there too, as after a raw 101."""
    from tests.support.frames import ws_frame

    n = Normalizer()
    n.wire(cap(b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
               PayloadForm.HTTP1_RENDERED, 1), Direction.C2S)
    n.wire(cap(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
               PayloadForm.HTTP1_RENDERED, 3), Direction.S2C)
    big = ws_frame(b"A" * 40000, masked=True)
    assert n.wire(cap(big[:16384], PayloadForm.RAW, 0), Direction.C2S) == (b"", big[:16384], ())
    fill, wire, notes = n.wire(cap(ws_frame(b"after", masked=True), PayloadForm.RAW, 0), Direction.C2S)
    assert len(fill) == len(big) - 16384 and notes[0].startswith("a WebSocket text frame: its last 23,624 bytes lost")
