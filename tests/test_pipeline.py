import json
from contextlib import ExitStack

from ecq2pcap.dialects.v15_proto import encode_run_log
from ecq2pcap.model import Message, Opcode
from ecq2pcap.pipeline import V200_NOTICE, Pipeline
from ecq2pcap.report import Report
from ecq2pcap.sinks.annotations import AnnotationFile


def test_non_tls_events_go_to_the_annotation_file_not_tcp(tmp_path):
    path = tmp_path / "a.jsonl"
    report = Report()
    seen = []
    with ExitStack() as stack:
        ann = AnnotationFile(str(path), stack)
        pipeline = Pipeline([type("S", (), {"handle": lambda s, e: seen.append(e), "finish": lambda s: None})()],
                            report, on_annotation=ann.write)
        # a v1.5 bash line arrives as a raw text frame; an unknown v1.4 log_type as JSON
        pipeline.feed(Message(b"PID:42, UID:0, \tComm:bash\x00\x00, \tRetvalue:0, \tLine:\nls -la /etc", Opcode.BINARY, "x:1"))
        pipeline.feed(Message(b'{"log_type":7,"payload":{"a":1}}', Opcode.TEXT, "x:2"))
        pipeline.finish()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(l["kind"], l["origin"]) for l in lines] == [("bash", "x:1"), ("unknown log_type 7", "x:2")]
    assert "ls -la /etc" in lines[0]["text"]
    assert seen == []  # no connection, no packet
    assert report.counts["annotations"] == 2 and report.annotation_kinds["bash"] == 1


def test_no_annotation_file_when_there_is_nothing_to_write(tmp_path):
    path = tmp_path / "a.jsonl"
    with ExitStack() as stack:
        AnnotationFile(str(path), stack)
    assert not path.exists()


def test_v200_is_told_once():
    report = Report()
    pipeline = Pipeline([], report)
    for i in range(3):
        log = encode_run_log('{"level":"info","Version":"linux_amd64:v2.0.0-20260314-x:6.1","time":"t"}\n')
        pipeline.feed(Message(log, Opcode.BINARY, f"x:{i}"))
    assert report.warnings[V200_NOTICE] == 1


def test_a_bug_in_a_stage_skips_that_message_only(monkeypatch):
    import ecq2pcap.pipeline as pipeline_module

    report = Report()
    pipeline = Pipeline([], report)
    calls = []

    def flaky(message, state=None):
        calls.append(message.origin)
        if message.origin == "x:2":
            raise KeyError("boom")
        return []

    monkeypatch.setattr(pipeline_module.dialects, "decode", flaky)
    for i in (1, 2, 3):
        pipeline.feed(Message(b"{}", Opcode.TEXT, f"x:{i}"))
    assert calls == ["x:1", "x:2", "x:3"]
    assert report.counts["skipped"] == 1 and report.counts["internal_errors"] == 1


def test_a_bug_while_finishing_one_output_still_finishes_the_others():
    report = Report()
    finished = []

    class Sink:
        def __init__(self, name, fail=False):
            self.name, self.fail = name, fail

        def handle(self, event):
            pass

        def finish(self):
            if self.fail:
                raise KeyError("boom")
            finished.append(self.name)

    pipeline = Pipeline([Sink("a", fail=True), Sink("b")], report)
    pipeline.finish()
    assert finished == ["b"] and report.counts["internal_errors"] == 1
    assert any("internal error while finishing an output" in w for w in report.warnings)


def test_a_har_entry_that_cannot_be_built_is_an_internal_error(tmp_path, monkeypatch):
    import io

    import ecq2pcap.sinks.har.sink as har_sink
    from ecq2pcap.sinks.har import HarSink
    from ecq2pcap.summary import format_summary
    from tests.limits.support import Dump

    real = har_sink.build_entry
    monkeypatch.setattr(har_sink, "build_entry",
                        lambda ex, **kw: (_ for _ in ()).throw(KeyError("boom")) if "/bad" in ex.request.target
                        else real(ex, **kw))
    d = Dump()
    for path in ("/bad", "/good"):
        fd = d.open()
        d.send(fd, f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        d.recv(fd, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    from ecq2pcap.sources.recording import LineDecoder

    report, out, lines = Report(), io.BytesIO(), LineDecoder()
    pipeline = Pipeline([HarSink(out, report=report)], report)
    for i, line in enumerate(d.dump().splitlines(), 1):
        pipeline.feed(lines.message(line, f"d:{i}"))
    pipeline.finish()
    entries = json.loads(out.getvalue())["log"]["entries"]
    assert [e["request"]["url"] for e in entries] == ["https://x/good"]
    assert report.counts["internal_errors"] == 1 and "internal errors" in format_summary(report)


def test_counters_are_typed():
    import pytest

    from ecq2pcap.report import Count

    report = Report()
    report.count(Count.PACKETS, 3)
    assert report.counts[Count.PACKETS] == report.counts["packets"] == 3 and report.counts[Count.EVENTS] == 0
    with pytest.raises(KeyError, match="not a counter"):
        report.count("pakets")  # a misspelt counter fails loudly, where it is counted
    with pytest.raises(KeyError, match="not a counter"):
        report.counts["pakets"]  # and where it is read


def test_a_list_of_events_makes_the_pcapng_an_event_at_a_time_makes(tmp_path):
    """The pipeline hands the pcapng sink the flow table's lists at once (one write a list): the same
    bytes as the events one by one, host names (NRBs) included, also when a list mixes connections."""
    import io

    from ecq2pcap.flows import ConnectionTable
    from ecq2pcap.sinks.pcapng import PcapngSink
    from ecq2pcap.sources.recording import LineDecoder
    from tests.limits.support import Dump

    d = Dump()
    fds = [d.open() for _ in range(3)]
    for n, fd in enumerate(fds * 2):  # three connections interleaved, two exchanges each
        d.send(fd, f"GET /{n} HTTP/1.1\r\nHost: h{fd}.test\r\n\r\n".encode())
        d.recv(fd, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    lines = LineDecoder()
    messages = [lines.message(line, f"d:{i}") for i, line in enumerate(d.dump().splitlines(), 1)]

    def names(conn):
        return f"name-{conn.id}.test"

    at_once, one_by_one = io.BytesIO(), io.BytesIO()
    pipeline = Pipeline([PcapngSink(at_once, hosts=names)], Report())
    for m in messages:
        pipeline.feed(m)
    pipeline.finish()
    table, sink, sizes = ConnectionTable(Report()), PcapngSink(one_by_one, hosts=names), []
    state = Pipeline([], Report()).stream_state
    from ecq2pcap import dialects

    for m in messages:
        events = [e for rec in dialects.decode(m, state) for e in table.feed(rec)]
        sizes.append(len(events))
        for e in events:
            sink.handle(e)
    events = table.close_all()
    sizes.append(len(events))
    for e in events:
        sink.handle(e)
    sink.finish()
    assert max(sizes) > 1  # lists of several events were there to be written at once
    assert at_once.getvalue() == one_by_one.getvalue()
    assert b"name-1.test" in at_once.getvalue()  # (an NRB, in its place)


def test_what_a_list_made_before_a_bug_is_written():
    import io

    import pytest

    from ecq2pcap.model import Closed, Connection, Opened
    from ecq2pcap.sinks.pcapng import PcapngSink

    out = io.BytesIO()
    sink = PcapngSink(out)
    header = len(out.getvalue())
    conn = Connection(id=1, pid=1, comm="c", fd=3, client=("10.0.0.1", 40000), server=("10.0.0.2", 443))
    with pytest.raises(TypeError):
        sink.handle_events([Opened(conn, 10), object(), Closed(conn, 20, "end")])
    sink.finish()
    assert sink.packets == 3 and len(out.getvalue()) > header  # the handshake, written


def test_a_sink_of_several_outputs_gets_a_whole_list_after_one_of_them_fails():
    """A sink without handle_events (a ring's pcapng and HAR) is given every event of a list even after one
    raised OSError (its other output goes on); the error ends the run afterwards, once."""
    import pytest

    seen = []

    class TwoOutputs:
        def handle(self, event):
            seen.append(event)
            if event == 1:
                raise OSError(28, "No space left on device")

        def finish(self):
            pass

    class Other:
        def handle_events(self, events):
            seen.append(("other", list(events)))

        def handle(self, event):
            raise AssertionError("given the list at once")

        def finish(self):
            pass

    pipeline = Pipeline([TwoOutputs(), Other()], Report())
    with pytest.raises(OSError):
        pipeline.deliver([0, 1, 2])
    assert seen == [0, 1, 2, ("other", [0, 1, 2])]


def test_a_bug_in_one_sink_does_not_cost_another_sink_the_list():
    """Sinks take a list one after the other: a bug of ours in the first (any exception) leaves the second
    every event of it; the error is raised afterwards (an internal error for that message)."""
    import pytest

    other = _Other()
    pipeline = Pipeline([_Buggy(), other], Report())
    with pytest.raises(KeyError):
        pipeline.deliver([0, 1, 2])
    assert other.seen == [0, 1, 2]


class _Buggy:
    """A sink with a bug of ours: every list it is given raises."""

    def handle_events(self, events):
        raise KeyError("boom")

    def finish(self):
        pass


class _Other:
    """A sink that keeps what it is given."""

    def __init__(self):
        self.seen = []

    def handle(self, event):
        self.seen.append(event)

    def finish(self):
        pass


def test_a_bug_in_one_sink_at_the_end_of_input_does_not_cost_another_sink_the_later_batches():
    """The end of input comes out in batches (ConnectionTable.close_all_batches: the captures released, then the
    connections closed): a bug of ours in one sink on the first batch still leaves the other sink every later one,
    as it does within one list; then an internal error."""
    from ecq2pcap.model import Capture, Closed, DataType, PayloadForm, Tuple

    other, report = _Other(), Report()
    pipeline = Pipeline([_Buggy(), other], report)
    for i in range(10):  # (ten connections, all held in the reorder buffer until the end)
        tup = Tuple("10.0.0.1", 40000 + i, "10.0.0.2", 443)
        pipeline.table.feed(Capture(pid=1, tid=1, comm="curl", fd=5 + i, data_type=DataType.WRITE, tuple=tup,
                                    timestamp_ns=10**9, payload=b"GET / HTTP/1.1\r\n\r\n",
                                    form=PayloadForm.HTTP1_RENDERED, ectype=None, uuid=f"u{i}"))
    pipeline.finish()
    assert sum(isinstance(e, Closed) for e in other.seen) == 10 and report.counts["internal_errors"] >= 1
