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
