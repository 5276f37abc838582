"""PcapngSink's own behaviour, beyond what the files it writes dissect as: the raw link type and --raw-payload,
times that never go back within a connection, a handshake made up for a chunk without an open, empty chunks,
its counts, flushes and option checks, unusable addresses reported, interleaved connections, big payloads written
as their parts (writev), and name blocks not asked again for an address already named. The connections and
exchanges are built by test_sink.py's helpers."""

from __future__ import annotations

import io
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecq2pcap.model import Closed, Opened
from ecq2pcap.report import Report
from ecq2pcap.sinks.pcapng import PcapngSink
from ecq2pcap.sinks.pcapng.names import NameBook
from tests.support.dissect import dissect, follow

from .test_sink import (BODY, C2S, REQUEST, RESPONSE, S2C, T0, chunk, comment, connection, exchange, expert_problems,
                        write)


# -- sink behaviour -------------------------------------------------------------------------


def test_raw_link_type(tshark, tmp_path):
    path = write(tmp_path, exchange(connection(), [(C2S, REQUEST), (S2C, RESPONSE)]), link_type="raw")
    frames = dissect(tshark, path, payload=True)
    assert frames[0]["frame.protocols"] == ["raw:ip:tcp"]
    http = [[f.first("http.request.method"), f.first("http.response.code")] for f in frames if f.has("http")]
    assert ["", "200"] in http
    assert follow(frames) == (REQUEST, RESPONSE)


def test_raw_payload_writes_chunk_raw(tshark, tmp_path):
    conn = connection()
    rendered = REQUEST.replace(b"\r\n", b"\n")
    events = [Opened(conn, T0), chunk(conn, C2S, REQUEST, T0 + 1, raw=rendered), Closed(conn, T0 + 2, "idle")]
    assert follow(dissect(tshark, write(tmp_path, events, "a.pcapng"), payload=True))[0] == REQUEST
    assert follow(dissect(tshark, write(tmp_path, events, "b.pcapng", raw_payload=True), payload=True))[0] == rendered


def test_times_never_go_back_within_a_connection(tshark, tmp_path):
    conn = connection()
    events = [
        Opened(conn, T0),
        chunk(conn, C2S, b"a" * 3000, T0 + 5000),
        chunk(conn, S2C, b"b" * 10, T0 + 100),  # earlier than the previous chunk
        Closed(conn, T0 + 50, "idle"),
    ]
    path = write(tmp_path, events, mss=1000)
    times = [int(f.first("frame.time_epoch").replace(".", "")) for f in dissect(tshark, path)]
    assert times == sorted(times)
    assert times[:3] == [T0, T0, T0]  # the handshake at the open time
    assert times[3:6] == [T0 + 5000] * 3  # (an event's segments at its time)
    assert times[6:] == [T0 + 5000] * (len(times) - 6)  # (the earlier chunk and the close: not before the last)


def test_handshake_not_after_first_data(tshark, tmp_path):
    conn = connection()
    path = write(tmp_path, [Opened(conn, T0), chunk(conn, C2S, b"x", T0)])
    times = [int(f.first("frame.time_epoch").replace(".", "")) for f in dissect(tshark, path)]
    assert times[2] <= times[3] == T0


def test_chunk_without_open_synthesizes_handshake(tshark, tmp_path):
    conn = connection()
    path = write(tmp_path, [chunk(conn, C2S, REQUEST, T0), Closed(conn, T0 + 1, "idle")])
    frames = dissect(tshark, path)
    assert "no open event seen" in comment(frames[0])
    assert expert_problems(frames) == []


def test_zero_length_chunk_writes_nothing():
    conn = connection()
    out = io.BytesIO()
    sink = PcapngSink(out)
    sink.handle(Opened(conn, T0))
    before = out.getvalue()
    sink.handle(chunk(conn, C2S, b"", T0 + 1))
    assert out.getvalue() == before and sink.packets == 3


def test_report_counts_packets_and_header_written_at_once():
    out, report = io.BytesIO(), Report()
    sink = PcapngSink(out, report=report)
    assert out.getvalue()[:4] == b"\x0a\x0d\x0d\x0a"
    for e in exchange(connection(), [(C2S, b"ping"), (S2C, b"pong")]):
        sink.handle(e)
    sink.finish()
    assert report.counts["packets"] == sink.packets == 3 + 1 + 1 + 3  # (each data acked by the next packet)


class CountingIO(io.BytesIO):
    flushes = 0

    def flush(self):
        self.flushes += 1
        super().flush()


@pytest.mark.parametrize("each", [True, False])
def test_flush_each_event(each):
    out = CountingIO()
    sink = PcapngSink(out, flush_each_event=each)
    events = exchange(connection(), [(C2S, b"ping"), (S2C, b"")])
    for e in events:
        sink.handle(e)
    assert out.flushes == (1 + len(events) if each else 1)  # the header is flushed at once in both cases
    sink.finish()
    assert out.flushes == (2 + len(events) if each else 2)


def test_unusable_addresses_are_reported_not_fatal():
    """(The dialects give such a tuple's connection invented endpoints, tests/test_noted_tuples_e2e.py: none is known
    to come here.) Said where the connection opened, as every message about an input is."""
    said: list[str] = []
    report = Report(emit=said.append)
    out = io.BytesIO()
    sink = PcapngSink(out, report=report)
    bad = connection(client=("10.0.0.1", 1), server=("::1", 2))
    for e in exchange(bad, [(C2S, b"x")]):
        sink.handle(Opened(e.conn, e.time_ns, "dump.jsonl:3") if type(e) is Opened else e)
    assert sink.packets == 0 and report.warnings["connection not written to pcapng"] == 1
    assert said == ["dump.jsonl:3: warning: connection not written to pcapng: connection 1: mixed IPv4/IPv6 "
                    "endpoints: 10.0.0.1 and ::1"]
    other = connection(2, client=("999.0.0.1", 1))  # (no open event: said at its first chunk's origin)
    sink.handle(chunk(other, C2S, b"x", T0 + 7))
    assert said[1].startswith("dump.jsonl:7: warning: connection not written to pcapng: connection 2: ")


def test_options_are_validated():
    with pytest.raises(ValueError, match="link type"):
        PcapngSink(io.BytesIO(), link_type="ppp")
    with pytest.raises(ValueError, match="mss"):
        PcapngSink(io.BytesIO(), mss=70000)


def test_several_connections_interleaved(tshark, tmp_path):
    a, b = connection(1), connection(2, client=("10.1.1.1", 51001), server=("10.2.2.3", 443))
    events = [
        Opened(a, T0), Opened(b, T0 + 1),
        chunk(a, C2S, REQUEST, T0 + 2), chunk(b, C2S, REQUEST, T0 + 3),
        chunk(b, S2C, RESPONSE, T0 + 4), chunk(a, S2C, RESPONSE, T0 + 5),
        Closed(b, T0 + 6, "idle"), Closed(a, T0 + 7, "end of input"),
    ]  # fmt: skip
    path = write(tmp_path, events)
    frames = dissect(tshark, path, payload=True)
    assert follow(frames, 0) == (REQUEST, RESPONSE)
    assert follow(frames, 1) == (REQUEST, RESPONSE)
    assert expert_problems(frames) == []
    assert len([f for f in frames if "200" in f["http.response.code"]]) == 2


@pytest.mark.parametrize("taken", [None, 1, 100, 70_000, "no writev"])
def test_big_payloads_written_as_their_parts_are_the_same_bytes(tmp_path, monkeypatch, taken):
    """Blocks of payloads of 4 KiB and more go to an OutputFile as their parts (writev, no copy of the payload):
    the file is what a BytesIO gets from the blocks joined, also when writev takes only part of them (``taken``
    bytes: a full disk, a signal), more parts than one writev takes, or there is no writev (Windows)."""
    from ecq2pcap.outputs import OutputFile
    import ecq2pcap.outputs as outputs

    calls, writev = [], os.writev
    def some_of(fd, parts):
        calls.append(len(parts))
        return writev(fd, parts if taken is None else [b"".join(parts)[:taken]])
    if taken == "no writev":
        monkeypatch.delattr(outputs.os, "writev")
    else:
        monkeypatch.setattr(outputs.os, "writev", some_of)
    monkeypatch.setattr(outputs, "_IOV_MAX", 7)

    def events():
        for i in range(0, 40, 3):  # (batches of three connections, small and big payloads)
            batch = []
            for c in (connection(id=k + 1, client=("10.1.1.1", 51000 + k)) for k in range(i, i + 3)):
                t = T0 + c.id * 1_000_000
                batch += [Opened(c, t), chunk(c, C2S, REQUEST, t + 1), chunk(c, S2C, RESPONSE[: 2000 + 1500 * c.id],
                          t + 2), chunk(c, S2C, BODY[:c.id * 37], t + 3), Closed(c, t + 4, "end of input")]
            yield batch

    with OutputFile(str(tmp_path / "parts.pcapng")) as out:
        sink = PcapngSink(out)
        for batch in events():
            sink.handle_events(batch)
        sink.finish()
    joined = io.BytesIO()
    plain = PcapngSink(joined)
    for batch in events():
        plain.handle_events(batch)
    plain.finish()
    assert (tmp_path / "parts.pcapng").read_bytes() == joined.getvalue()
    assert sink.bytes_written == plain.bytes_written == len(joined.getvalue()) and sink.packets == plain.packets
    assert max(calls, default=7) == 7 and bool(calls) == (taken != "no writev")  # (batches over 64 KiB went out
    # so, in several calls)


class _NoShortcut(NameBook):
    """A NameBook whose ``names`` the sink's shortcut reads is always empty: every connection asks for its name."""

    def __init__(self, max_names: int) -> None:
        super().__init__(max_names)
        self.kept, self.names = self.names, {}

    def block(self, address: str, name: str) -> bytes | None:
        self.names = self.kept
        try:
            return super().block(address, name)
        finally:
            self.names = {}


@settings(max_examples=200, deadline=None)
@given(plan=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 2), st.lists(st.sampled_from(["a.test", "b.test",
                                                                                              None]), max_size=4)),
                     max_size=12),
       max_names=st.integers(1, 3))
def test_a_connection_to_a_named_address_asks_no_name_and_writes_the_same(plan, max_names):
    """The sink asks no name of a connection whose server address the file names already (PcapngSink.handle_events):
    the same bytes and counts as when every connection asks (the name asked for may change from event to event)."""
    events, answers = [], {}
    for i, (server, chunks, names) in enumerate(plan, 1):
        conn = connection(id=i, client=("10.1.1.1", 40000 + i), server=(f"10.2.2.{server}", 443))
        answers[i] = names
        events += exchange(conn, [(C2S, REQUEST), (S2C, b"HTTP/1.1 204 No Content\r\n\r\n")][:chunks])

    def run(shortcut: bool) -> tuple[bytes, dict, dict]:
        out, report, asked = io.BytesIO(), Report(), {k: iter(list(v)) for k, v in answers.items()}
        sink = PcapngSink(out, report=report, max_names=max_names,
                          hosts=lambda conn: next(asked[conn.id], None))
        if not shortcut:
            sink._names = _NoShortcut(max_names)
        for i in range(0, len(events), 3):
            sink.handle_events(events[i:i + 3])
        sink.finish()
        return out.getvalue(), dict(report.counts), dict(report.warnings)

    assert run(True) == run(False)
