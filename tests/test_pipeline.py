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
