"""Events that are not TLS data (bash, zsh, SQL, master keys, unknown messages): never
turned into TCP, never dropped — written as JSON lines, one per event, as they arrive.

The file is opened on the first annotation, so a stream without any leaves no file. Lines
are written whole (a full disk cuts the file back to the last whole line) and flushed when
``stack`` closes, or by :meth:`AnnotationFile.flush`.
"""

from __future__ import annotations

from contextlib import ExitStack
from datetime import datetime, timezone

import msgspec

from ..model import Annotation
from ..outputs import OutputFile
from ..report import Report
from .units import UnitWriter


def annotation_line(rec: Annotation) -> bytes:
    when = None
    if rec.timestamp_ns:
        when = datetime.fromtimestamp(rec.timestamp_ns / 1e9, timezone.utc).isoformat(timespec="microseconds")
    return msgspec.json.encode({"time": when, "kind": rec.kind, "pid": rec.pid, "comm": rec.comm,
                                "origin": rec.origin, "text": rec.text}) + b"\n"


class AnnotationFile:
    def __init__(self, path: str, stack: ExitStack, report: Report | None = None) -> None:
        self.path, self._stack, self._out = path, stack, None
        self.written = 0
        self.report = report  # (its annotations_failed: the run ends at the error; the summary says so)

    def write(self, rec: Annotation) -> None:
        try:
            if self._out is None:
                self._out = UnitWriter(self._stack.enter_context(OutputFile(self.path)))
                self._stack.callback(self.flush)  # runs before the file is closed
            self._out.write(annotation_line(rec))
        except OSError:
            self._failed()
            raise
        self.written += 1

    def flush(self) -> None:
        if self._out is not None:
            try:
                self._out.flush()
            except OSError:
                self._failed()
                raise

    def _failed(self) -> None:
        if self.report is not None:
            self.report.annotations_failed = True
