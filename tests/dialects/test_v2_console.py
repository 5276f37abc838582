"""eCapture v2's console records (``dialects/v2_console.py``), written by the test's own port of eCapture's and
zerolog's rules (``tests/support/zerolog_console.py``), read back: the bytes the events held, or a note saying why
not."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from ecq2pcap.dialects.state import StreamState
from ecq2pcap.dialects.v2_console import V1_EVENT_KIND, decode, unescape
from ecq2pcap.limits import LOST_BY_ECAPTURE
from ecq2pcap.model import Annotation, Capture, ConnectInfo, DataType, ProcessLog
from tests.support.cli import run_main
from tests.support.zerolog_console import event_record, record

TIME = "2026-12-07T10:00:01+08:00"
HEAD = b"[2026-12-07 10:00:01.250] PID:4242 TID:4243 Comm:curl FD:5 WRITE (%d bytes):\n"


def data_event(data: bytes, **kw) -> bytes:
    return event_record(HEAD % len(data) + data, TIME, **kw)


def read(raw: bytes, state: StreamState | None = None) -> Capture:
    [cap] = decode(raw, "capture.log:7", state)
    assert type(cap) is Capture
    return cap


REQUEST = b"GET /api?q=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n"


def test_an_http1_request_comes_back_byte_for_byte_in_colour_and_without():
    for colour in (True, False):
        raw = data_event(REQUEST, colour=colour)
        assert b"\r" not in raw and b"\\r\n" in raw  # (what the console printed: escapes, not CRs)
        cap = read(raw)
        assert cap.payload == REQUEST and cap.notes == ()
        assert (cap.pid, cap.tid, cap.comm, cap.fd, cap.data_type) == (4242, 4243, "curl", 5, DataType.WRITE)
        assert cap.origin == "capture.log:7"


def test_the_host_zone_the_console_gives_makes_the_local_header_time_utc():
    state = StreamState()
    cap = read(data_event(REQUEST), state)
    assert state.utc_offset_ns == 8 * 3600 * 10**9
    assert cap.timestamp_ns == 1796608801_250_000_000  # 2026-12-07 02:00:01.250 UTC
    told = StreamState(utc_offset_ns=-5 * 3600 * 10**9)  # (--utc-offset wins over the console's zone)
    assert read(data_event(REQUEST), told).timestamp_ns == 1796608801_250_000_000 + 13 * 3600 * 10**9


def test_data_without_a_final_newline_loses_none_of_its_bytes():
    body = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    assert read(data_event(body)).payload == body
    assert read(data_event(b"x\n")).payload == b"x\n"  # (its own newline: nothing was added)
    assert read(data_event(b"")).payload == b""


def test_json_backslash_sequences_of_the_data_are_told_by_the_header_length():
    # JSON's "\r\n" and "\b" in a body are backslashes of the data, which the console does not escape
    body = b'HTTP/1.1 200 OK\r\nContent-Length: 26\r\n\r\n{"t":"a\\r\\nb","u":"\\b\\f"}'
    cap = read(data_event(body))
    assert cap.payload == body
    assert cap.notes  # (how it was read is said)
    one = b'{"path":"C:\\\\repo"}'  # (a single \r of the data, before no newline: the two readings differ by one)
    assert read(data_event(one)).payload == one


def test_control_bytes_of_the_data_come_back():
    data = bytes(range(32)) + b"\x7f plain \t tab \n"
    assert read(data_event(data)).payload == data
    for data in (b"ab\x1b[0mc\x00", b"a\rb\x0b", b"\x07"):
        cap = read(data_event(data))
        assert cap.payload == data and cap.notes == ()
    # ends in a newline: "\v" may as well be the data's own, the newline the console's: the reading taken is said
    cap = read(data_event(b"a\rb\x0b\n"))
    assert cap.payload == b"a\rb\x0b\n" and "another reading" in cap.notes[0]


def test_bytes_that_were_not_utf8_are_said_lost_and_keep_their_places():
    data = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n\x89PNG"
    cap = read(data_event(data))
    assert len(cap.payload) == len(data)  # (one "?" a lost byte: HTTP's framing holds)
    assert cap.payload == data.replace(b"\x89", b"?")
    [note] = cap.notes
    assert LOST_BY_ECAPTURE in note and "1 byte(s)" in note


def test_a_u_fffd_of_the_data_and_lost_bytes_are_said_apart():
    data = "café �".encode() + b"\xff\xfe"
    cap = read(data_event(data))
    assert len(cap.payload) == len(data)
    assert LOST_BY_ECAPTURE in cap.notes[0] and "2 byte(s)" in cap.notes[0] and "3 in the data" in cap.notes[0]


def test_v200_printed_the_bytes_unescaped():
    body = b'HTTP/1.1 200 OK\r\n\r\n{"a":"\\r"}\x07'
    cap = read(data_event(body, escape=False))
    assert cap.payload == body


def test_hex_renderings_are_read_as_hex():
    """Under --hex the renderings are hex text, which the console prints as it is."""
    data = bytes(range(256))
    hexed = b"[2026-12-07 10:00:01.250] PID:4242 TID:4243 Comm:curl FD:5 READ (256 bytes, hex):\n" + data.hex().encode()
    cap = read(event_record(hexed, TIME))
    assert cap.payload == data and cap.data_type is DataType.READ


def test_gotls_events_and_connect_lines():
    gotls = (b"PID:77, TID:78, Comm:server, FD:9, Tuple:[10.0.0.2]:443->[10.0.0.1]:50000, Type:READ, Len:%d\n"
             b"Data:\n%s" % (len(REQUEST), REQUEST))
    [cap] = decode(event_record(gotls, TIME, probe="gotls"), "c:1", StreamState())
    assert cap.payload == REQUEST and cap.module == "gotls" and cap.tuple is not None
    assert cap.timestamp_ns == 1796608801 * 10**9  # (no time of its own: the console line's)
    connect = b"PID:4242, Comm:curl, TID:4243, FD:5, Tuple: [10.0.0.1]:50000->[10.0.0.2]:443\n"
    [info] = decode(event_record(connect, TIME), "c:2")
    assert type(info) is ConnectInfo and info.fd == 5 and info.tuple.dst_port == 443


def test_a_shell_line_keeps_its_backslashes():
    line = b'grep -P "\\bword\\b" C:\\x01\\temp | sed "s/\\r//"'
    bash = b"PID:77, UID:0, Comm:bash, Retvalue:0, Line:\n" + line
    [ann] = decode(event_record(bash, TIME, probe="bash"), "c:1")
    assert ann.kind == "bash" and ann.text == line.decode()


def test_logs_are_process_logs_with_their_fields():
    for colour in (True, False):
        [log] = decode(record("", "2026-12-07T10:00:00Z", {"Version": "linux_amd64:v2.5.1-20260621-e28d4c5:6.1.0"},
                              colour=colour, escape=False), "c:1")
        assert type(log) is ProcessLog and log.fields["Version"] == "linux_amd64:v2.5.1-20260621-e28d4c5:6.1.0"
        [log] = decode(record("probe started successfully.", "2026-12-07T10:00:00Z",
                              {"isReload": "false", "probeName": "OpenSSL", "Author": "CFC4N <cfc4ncs@gmail.com>"},
                              colour=colour, escape=False, bold=True), "c:2")
        assert log.text == "probe started successfully."
        assert log.fields["probeName"] == "OpenSSL" and log.fields["Author"] == "CFC4N <cfc4ncs@gmail.com>"
        [log] = decode(record("Probe started", "2026-12-07T10:00:00Z", {"probe": "openssl"}, colour=colour), "c:3")
        assert type(log) is ProcessLog and log.fields["probe"] == "openssl"


def test_a_v1_console_event_is_kept_and_said_not_converted(tmp_path):
    """eCapture v1.4.3+ print "PID:…, Comm:…, Src:…, Dest:…," and the bytes: no level, no length, no direction."""
    line = record("PID:4242, Comm:curl, Src:10.0.0.1:50000, Dest:10.0.0.2:443,\nGET / HTTP/1.1\r\n\r", TIME, {},
                  level="???", escape=False)
    [ann] = decode(line, "c:1")
    assert type(ann) is Annotation and ann.kind == V1_EVENT_KIND and ann.pid == 4242 and "GET / HTTP/1.1" in ann.text
    log = tmp_path / "v1.log"
    log.write_bytes(record("", TIME, {"Version": "linux_amd64:v1.5.2-20250412-0a7e4d3:6.1.0"}, escape=False) + line)
    run = run_main("convert", str(log), "-w", str(tmp_path / "out.pcapng"), text=True)
    assert run.returncode == 0
    assert f"v1.log:2: warning: unknown message kept as annotation ({V1_EVENT_KIND})" in run.stderr


def test_unescape_reads_only_what_the_console_writes():
    assert unescape(b"a\\rb\\x1bc\\x07\\x41\\n") == b"a\rb\x1bc\\x07\\x41\\n"  # (\x07 is written \a; \x41 never)


# any text, and text made of what the console's escapes are made of (backslashes, their letters, control bytes)
_TEXT = st.one_of(st.text(st.characters(blacklist_categories=("Cs",)), max_size=200),
                  st.lists(st.sampled_from(list("\\rnabfvx01ef7A\r\n\t\x07\x08\x0b\x0c\x1b\x00\x7f")),
                           max_size=40).map("".join))


@settings(max_examples=300, deadline=None)
@given(_TEXT, st.booleans())
def test_any_text_comes_back_or_is_said_otherwise(text, colour):
    data = text.encode()
    cap = read(data_event(data, colour=colour))
    plain = re.sub(rb"\r\n|[\n\t]", b"", data)
    if b"\\" not in data and not re.search(rb"[\x00-\x1f\x7f]", plain):  # (no escape but CR LF's: one reading)
        assert cap.payload == data and cap.notes == ()
    elif cap.payload != data and not re.search(rb"\\r(\n|\Z)", data):
        # (the data's own backslashes, or its control bytes, read otherwise: said; but by the rule the README gives,
        # a "\\r" before a newline, or at the end where the console adds one, is CR LF's CR, unsaid)
        assert cap.notes, (data, cap.payload)
