"""HarSink end to end: flow events in, a HAR file out that validates and loads; the real v1.4.2 sample."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json

from ecq2pcap.model import Closed, Connection, Direction, Opened, PayloadForm, Protocol
from ecq2pcap.payloads.http1_render import repair_rendered
from ecq2pcap.report import Report
from ecq2pcap.sinks.har import HarSink
from ecq2pcap.sinks.har.exchange import Exchange, HttpResponse
from ecq2pcap.sinks.har.sink import H2_NOT_DECODED

from . import load_with_haralyzer, make_chunk, make_conn, validate_har

C, S = Direction.C2S, Direction.S2C
MS = 1_000_000
T0 = 1_795_715_800 * 1_000_000_000

GET = b"GET /a HTTP/1.1\r\nHost: example.test\r\n\r\n"
OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi"


def har_of(out: io.BytesIO) -> dict:
    doc = json.loads(out.getvalue().decode("utf-8"))
    validate_har(doc)
    load_with_haralyzer(doc)
    return doc


def test_zero_entries_is_a_valid_har():
    out = io.BytesIO()
    sink = HarSink(out, report=Report())
    sink.finish()
    doc = har_of(out)
    assert doc["log"]["entries"] == [] and doc["log"]["version"] == "1.2"
    assert doc["log"]["creator"]["name"] == "ecq2pcap"
    assert doc["log"].get("pages", []) == []


def test_entries_are_streamed_as_they_complete():
    out = io.BytesIO()
    report = Report()
    sink = HarSink(out, report=report, commit_interval=0)
    conn = make_conn(1)
    sink.handle(Opened(conn, T0))
    sink.handle(make_chunk(conn, C, T0, GET))
    before = len(out.getvalue())
    sink.handle(make_chunk(conn, S, T0 + MS, OK))
    assert len(out.getvalue()) > before and b'"url":"https://example.test/a"' in out.getvalue()
    assert report.counts["har_entries"] == 1
    sink.handle(Closed(conn, T0 + 2 * MS, "end of input"))
    sink.finish()
    sink.finish()  # idempotent
    doc = har_of(out)
    (e,) = doc["log"]["entries"]
    assert e["request"]["method"] == "GET" and e["response"]["content"]["text"] == "hi"
    assert e["connection"] == "1" and "_error" not in e


def test_text_stream_output():
    out = io.StringIO()
    sink = HarSink(out)
    conn = make_conn(1)
    sink.handle(make_chunk(conn, C, T0, GET))  # no Opened: the sink copes
    sink.handle(make_chunk(conn, S, T0 + MS, OK))
    sink.finish()  # closes the connection itself
    doc = json.loads(out.getvalue())
    validate_har(doc)
    assert len(doc["log"]["entries"]) == 1


def test_writer_survives_lone_surrogates():
    # decoders that keep undecodable header bytes with surrogateescape must not break the file
    from ecq2pcap.sinks.har.writer import HarWriter

    out = io.BytesIO()
    w = HarWriter(out)
    w.write({"name": "caf\udce9", "ok": ["\ud800", 1]})
    w.close()
    entries = json.loads(out.getvalue())["log"]["entries"]
    assert entries == [{"name": "caf\\xe9", "ok": ["\\xed\\xa0\\x80", 1]}]


def test_errors_are_in_the_entry_and_in_the_report():
    out = io.BytesIO()
    report = Report()
    sink = HarSink(out, report=report)
    conn = make_conn(2)
    sink.handle(Opened(conn, T0))
    sink.handle(make_chunk(conn, S, T0, OK, notes=("Content-Length 1 → 2",)))  # response only
    sink.handle(make_chunk(conn, C, T0 + 5 * MS, GET))  # request only
    sink.handle(Closed(conn, T0 + 9 * MS, "end of input", notes=("1 event(s) placed out of time order",)))
    sink.finish()
    doc = har_of(out)
    entries = doc["log"]["entries"]
    assert [e["request"]["method"] for e in entries] == ["UNKNOWN", "GET"]
    assert entries[0]["_error"] == "request not captured by eCapture"
    assert "Content-Length 1 → 2" in entries[0]["comment"]
    assert entries[1]["_error"] == "response not captured" and entries[1]["response"]["status"] == 0
    assert "1 event(s) placed out of time order" in entries[1]["comment"]
    assert report.warnings["HAR: request not captured by eCapture"] == 1
    assert report.warnings["HAR: response not captured"] == 1
    assert report.counts["har_entries"] == 2


def test_garbage_is_reported_even_without_an_entry():
    report = Report()
    sink = HarSink(io.BytesIO(), report=report)
    conn = make_conn(3)
    sink.handle(make_chunk(conn, S, T0, b"\x00\x01 random bytes"))
    sink.finish()
    assert any("unparsable server→client data skipped" in k for k in report.warnings)


def test_a_parser_s_diagnostics_are_reported_whether_or_not_a_chunk_or_close_ends_an_exchange():
    # (the sink takes them without _emit when nothing ended: the same reports)
    class Talky:
        def __init__(self, conn, options):
            self.conn, self.fed = conn, 0

        def feed(self, direction, data, time_ns, meta=None):
            self.fed += 1
            self.said = [f"HTTP/2: said at feed {self.fed}"]
            return [Exchange(self.conn)] if self.fed == 2 else []

        def close(self, time_ns):
            self.said = ["HTTP/2: said at close"]
            return []

        def take_diagnostics(self):
            out, self.said = self.said, []
            return out

    report = Report()
    sink = HarSink(io.BytesIO(), report=report, h2_parser=Talky)
    conn = make_conn(5)
    for i in range(3):
        sink.handle(make_chunk(conn, C, T0 + i, b"x", protocol=Protocol.HTTP2))
    sink.finish()
    assert [k for k in report.warnings if k.startswith("HAR: HTTP/2: said")] == \
        ["HAR: HTTP/2: said at feed", "HAR: HTTP/2: said at close"]
    assert report.warnings["HAR: HTTP/2: said at feed"] == 3


def test_h2_text_dump_is_counted_when_http2_is_turned_off():
    report = Report()
    out = io.BytesIO()
    sink = HarSink(out, report=report, h2_parser=None)
    conn = make_conn(4)
    dump = b"\nFrame Type\t=>\tHEADERS\nFrame StreamID\t=>\t1\nFrame Length\t=>\t10\n"
    for i in range(3):
        sink.handle(make_chunk(conn, S, T0 + i, dump, form=PayloadForm.H2_DUMP))
    sink.finish()
    assert report.warnings[H2_NOT_DECODED] == 3
    assert har_of(out)["log"]["entries"] == []


def test_raw_http2_connection_is_not_fed_to_http1_when_http2_is_turned_off():
    for first_dir, first in [
        (C, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"),
        (S, b"\x00\x00\x06\x04\x00\x00\x00\x00\x00\x00\x03\x00\x00\x00\x64"),  # server SETTINGS first
    ]:
        report = Report()
        out = io.BytesIO()
        sink = HarSink(out, report=report, h2_parser=None)
        conn = make_conn(5)
        h2 = Protocol.HTTP2  # as the flows decide it (tests/flows)
        sink.handle(make_chunk(conn, first_dir, T0, first, protocol=h2))
        sink.handle(make_chunk(conn, first_dir.other, T0 + 1, b"\x00\x00\x00\x04\x01\x00\x00\x00\x00", protocol=h2))
        sink.finish()
        assert report.warnings[H2_NOT_DECODED] == 2
        assert set(report.warnings) == {H2_NOT_DECODED}  # no HTTP/1 garbage errors
        assert har_of(out)["log"]["entries"] == []


def test_http2_parser_factory_plugs_in():
    class FakeH2:
        def __init__(self, conn: Connection):
            self.conn = conn
            self.fed = 0

        def feed(self, direction, data, time_ns, meta=None):
            self.fed += len(data)
            return []

        def close(self, time_ns):
            resp = HttpResponse(status=200, http_version="HTTP/2", start_ns=time_ns, end_ns=time_ns, complete=True)
            errors = ["request not captured by eCapture"]
            return [Exchange(self.conn, None, resp, http_version="HTTP/2", stream_id=1, errors=errors)]

        def take_diagnostics(self):
            return []

    made = []
    out = io.BytesIO()
    sink = HarSink(out, h2_parser=lambda c, o: made.append(FakeH2(c)) or made[-1])
    conn = make_conn(6)
    sink.handle(make_chunk(conn, S, T0, b"dump text", form=PayloadForm.H2_DUMP))
    sink.finish()
    assert made and made[0].fed == 9
    (e,) = har_of(out)["log"]["entries"]
    assert e["response"]["httpVersion"] == "HTTP/2" and e["_streamId"] == 1


def test_interleaved_connections():
    out = io.BytesIO()
    sink = HarSink(out)
    a, b = make_conn(1), make_conn(2)
    sink.handle(make_chunk(a, C, T0, b"GET /from-a HTTP/1.1\r\nHost: a\r\n\r\n"))
    sink.handle(make_chunk(b, C, T0 + 1, b"GET /from-b HTTP/1.1\r\nHost: b\r\n\r\n"))
    sink.handle(make_chunk(b, S, T0 + 2, b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nB"))
    sink.handle(make_chunk(a, S, T0 + 3, b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA"))
    sink.finish()
    entries = har_of(out)["log"]["entries"]
    got = {(e["connection"], e["request"]["url"], e["response"]["content"]["text"]) for e in entries}
    assert got == {("1", "https://a/from-a", "A"), ("2", "https://b/from-b", "B")}


# -- the real v1.4.2 sample -------------------------------------------------------------


def sample_events(samples_dir):
    """Flow events for v140_client.dump.jsonl.gz built by hand (no dialect or flow table)."""
    caps = []
    with gzip.open(samples_dir / "v140_client.dump.jsonl.gz", "rt") as f:
        for n, line in enumerate(f, 1):
            msg = json.loads(line)
            if msg.get("log_type") == 2:
                caps.append((n, msg["payload"]))
    conns: dict[tuple[int, int], Connection] = {}
    chunks = []
    rendered: set = set()
    for n, p in caps:
        key = (p["pid"], p["src_port"])
        if key not in conns:
            fd = int(p["uuid"].split("_")[3])
            conns[key] = Connection(len(conns) + 1, p["pid"], p["pname"], fd, (p["src_ip"], p["src_port"]),
                                    (p["dst_ip"], p["dst_port"]), uuids=[p["uuid"]])  # fmt: skip
        conn = conns[key]
        direction = C if p["uuid"].split("_")[4] == "1" else S  # dataType 1: the client wrote it
        data = base64.b64decode(p["payload_base64"])
        form = PayloadForm.H2_DUMP if p["type"] in (2, 4) else PayloadForm.HTTP1_RENDERED
        notes: tuple[str, ...] = ()
        if form is PayloadForm.HTTP1_RENDERED:
            # eCapture's stale header re-emits (dropped by the flow table in the real pipeline)
            head = data[: data.find(b"\r\n\r\n") + 4]
            if head == data and (key, direction, head) in rendered:
                continue
            rendered.add((key, direction, head))
            data, notes = repair_rendered(data)
        chunk = make_chunk(conn, direction, p["timestamp"] * 1_000_000_000, data, form=form,
                           uuid=p["uuid"], notes=notes, origin=f"v140:{n}")  # fmt: skip
        chunks.append(chunk)
    chunks.sort(key=lambda c: (c.time_ns, c.direction))  # ties: client→server first, as the flow table does
    events = []
    opened = set()
    for c in chunks:
        if id(c.conn) not in opened:
            opened.add(id(c.conn))
            events.append(Opened(c.conn, c.time_ns))
        events.append(c)
    end = max(c.time_ns for c in chunks) + 1
    events += [Closed(conn, end, "end of input") for conn in conns.values()]
    return events


def test_real_v140_sample(samples_dir):
    expected = json.loads((samples_dir / "v140_client.expected.json").read_text())
    out = io.BytesIO()
    report = Report()
    # the HTTP/2 dumps reach the HAR sink re-encoded by the connection table (tested end to
    # end); fed here as text, they are only counted
    sink = HarSink(out, report=report, h2_parser=None)
    for ev in sample_events(samples_dir):
        sink.handle(ev)
    sink.finish()
    doc = har_of(out)
    entries = doc["log"]["entries"]
    assert report.counts["har_entries"] == len(entries)
    assert report.warnings[H2_NOT_DECODED] == 1

    def body_of(entry) -> bytes:
        c = entry["response"]["content"]
        text = c.get("text", "")
        return base64.b64decode(text) if c.get("encoding") == "base64" else text.encode("utf-8")

    matched = set()
    for ex in expected["exchanges"]:
        found = [
            i for i, e in enumerate(entries)
            if e["request"]["method"] == ex["method"] and e["request"]["url"] == ex["url"]
            and e["response"]["status"] == ex["status"]
        ]  # fmt: skip
        assert len(found) == 1, f"{ex['truth_id']}: {len(found)} entries"
        e = entries[found[0]]
        matched.add(found[0])
        assert "_error" not in e, e.get("_error")
        assert e["response"]["content"]["size"] == ex["response_body_length"]
        if ex["response_body_sha256"]:
            assert hashlib.sha256(body_of(e)).hexdigest() == ex["response_body_sha256"]
        if ex["content_type"]:
            assert e["response"]["content"]["mimeType"].startswith(ex["content_type"])
        assert e["request"]["bodySize"] == ex["request_body_length"]
        assert e["_ecapture"]["comm"] in ("curl", "python") and e["_ecapture"]["uuids"]
    # nothing else: the HTTP/2 dump is not decoded here and the re-emits were left out
    assert len(entries) == len(matched)


def test_a_warnings_grouping_key_reads_at_most_300_characters_of_its_phrase():
    """The key drops numbers with a regex that is quadratic in a long run of whitespace: it looks at the
    leading phrase's first 300 characters only."""
    from ecq2pcap.sinks.har.sink import _reason

    assert _reason("request body truncated after 12 bytes (eof): 5 more") == "HAR: request body truncated after bytes"
    assert _reason("x" * 290 + "y" * 20 + ": detail") == "HAR: " + "x" * 290 + "y" * 10
    # (a number with its thousands grouped went with its digits only: "header block over , , bytes")
    assert _reason("header block over 1,048,576 bytes not decoded") == "HAR: header block over bytes not decoded"


def test_a_parsers_warnings_are_grouped_by_their_phrase_under_the_parsers_label():
    """"HTTP/2: s2c: frame on stream 1 ..." was grouped as "HAR: HTTP/" (the label's digit dropped, the
    phrase lost): the summary said nothing of what happened."""
    from ecq2pcap.sinks.har.sink import _reason

    assert _reason("HTTP/2: s2c: frame on stream 1 after it ended (ignored)") == \
        "HAR: HTTP/2: frame on stream after it ended"
    assert _reason("HTTP/2: c2s: not HTTP/2 (frame length 5263945 exceeds 1048576); stopped") == "HAR: HTTP/2: not HTTP/2"
    assert _reason("WebSocket: c2s: bad frame") == "HAR: WebSocket: bad frame"


def test_a_chunk_fed_in_pieces_is_one_capture_to_the_http1_decoder():
    """A chunk over 256 KiB goes to its parser in pieces (else every exchange it completes exists at once); a
    piece is not a new capture: its body bytes that start like a status line, while a later request waits for
    its answer, do not end the body as if eCapture had lost its end."""
    from ecq2pcap.sinks.har.sink import _FEED_PIECE

    out = io.BytesIO()
    report = Report()
    sink = HarSink(out, report=report, commit_interval=0)
    conn = make_conn(1)
    sink.handle(Opened(conn, T0))
    sink.handle(make_chunk(conn, C, T0, GET + b"GET /b HTTP/1.1\r\nHost: example.test\r\n\r\n"))
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n"
    body = b"x" * (_FEED_PIECE - len(head % 300000)) + b"HTTP/1.1 200 OK\r\n"
    body += b"y" * (300000 - len(body))
    sink.handle(make_chunk(conn, S, T0 + MS, head % len(body) + body + OK))
    sink.handle(Closed(conn, T0 + 2 * MS, "end of input"))
    sink.finish()
    a, b = har_of(out)["log"]["entries"]
    assert a["response"]["bodySize"] == 300000 and "_error" not in a
    assert b["response"]["content"]["text"] == "hi" and "_error" not in b
