"""Wire one message stream through dialects, the connection table and the sinks.

Sans-IO: the caller feeds messages (from a file or a WebSocket) and owns the sinks'
files; this object only routes records and keeps the counts for the summary.
"""

from __future__ import annotations

from collections.abc import Iterable

from . import dialects
from .flows import ConnectionTable
from .model import (
    Annotation,
    Capture,
    Chunk,
    ConnectInfo,
    DecodeError,
    FlowEvent,
    Heartbeat,
    Message,
    ProcessLog,
)
from .report import Report
from .sinks import Sink


class Pipeline:
    def __init__(self, sinks: Iterable[Sink], report: Report, table: ConnectionTable | None = None) -> None:
        self.sinks = list(sinks)
        self.report = report
        self.table = table or ConnectionTable(report)
        self.ecapture_version: str | None = None
        self.last_heartbeat_ns: int | None = None
        self.annotations: list[Annotation] = []  # small: bash/sql/unknown messages (cap below)
        self._seen_logs: set[bytes] = set()

    # -- input

    def feed(self, message: Message) -> None:
        report = self.report
        report.count("messages")
        try:
            records = dialects.decode(message)
        except DecodeError as exc:
            report.skip(message.origin, str(exc))
            return
        for rec in records:
            if isinstance(rec, Capture):
                report.count("events")
                report.count("payload_bytes", len(rec.payload))
                self._dispatch(self.table.feed(rec))
            elif isinstance(rec, Heartbeat):
                report.count("heartbeats")
                self.last_heartbeat_ns = message.recv_time_ns or rec.timestamp_ns
            elif isinstance(rec, ProcessLog):
                self._log(rec)
            elif isinstance(rec, ConnectInfo):
                report.count("connect_lines" if rec.kind == "connect" else "destroy_lines")
                self._dispatch(self.table.feed(rec))
            elif isinstance(rec, Annotation):
                report.count("annotations")
                report.warn(f"not TLS data, kept as annotation ({rec.kind})", rec.origin)
                if len(self.annotations) < 10_000:
                    self.annotations.append(rec)

    def tick(self, now_ns: int) -> None:
        """Live sources call this periodically with the wall clock."""
        self._dispatch(self.table.advance(now_ns))

    def finish(self) -> None:
        self._dispatch(self.table.close_all())
        for sink in self.sinks:
            sink.finish()

    # -- internals

    def _log(self, rec: ProcessLog) -> None:
        self.report.count("process_logs")
        fields = rec.fields or {}
        version = fields.get("Version")
        if isinstance(version, str) and self.ecapture_version is None:
            self.ecapture_version = version

    def _dispatch(self, events: list[FlowEvent]) -> None:
        if not events:
            return
        for event in events:
            if isinstance(event, Chunk):
                self.report.count("chunks")
            for sink in self.sinks:
                sink.handle(event)
