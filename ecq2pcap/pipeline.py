"""Wire one message stream through dialects, the connection table and the sinks.

Sans-IO: the caller feeds messages (from a file or a WebSocket) and owns the sinks'
files; this object only routes records and keeps the counts for the summary.

Hooks for a live caller: :attr:`Pipeline.clock` (the data's own clock, to let time pass
with :meth:`Pipeline.tick`) and :attr:`Pipeline.on_output_closed` (an output whose reader
went away stops that sink only).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial

from . import dialects
from .filters import ConnectionView
from .flows import ConnectionTable
from .model import (
    Annotation,
    Capture,
    ConnectInfo,
    DecodeError,
    FlowEvent,
    Heartbeat,
    Message,
    ProcessLog,
    Tick,
)
from .report import Count, Report
from .sinks import Sink


V200_NOTICE = "eCapture v2.0.0 sends no events over eCaptureQ (only heartbeats and logs); use v2.1 or later"
DROPPED_NOTICE = "eCapture dropped events: its perf buffer was full (it said so in its log)"
# the field of eCapture's log line on the events its perf buffer could not hold: v1.x's, v2's
# (gojue/ecapture v1.4.0 user/module/imodule.go, v2.5.1 internal/probe/base/base_probe.go: record.LostSamples)
_DROPPED_FIELDS = ("lostSamples", "lost_samples")


class Pipeline:
    def __init__(
        self,
        sinks: Iterable[Sink],
        report: Report,
        table: ConnectionTable | None = None,
        on_annotation: Callable[[Annotation], None] | None = None,
        view: ConnectionView | None = None,
        stream_state: dialects.StreamState | None = None,
    ) -> None:
        self.sinks = list(sinks)
        self.report = report
        self.table = table or ConnectionTable(report)
        # events that are not TLS data (bash, sql, master keys, unknown messages) go here
        self.on_annotation = on_annotation
        # between the table and the sinks: host names learned, connections kept or dropped (--pid, --host, ...)
        self.view = view if view is not None else ConnectionView(report=report)
        self.stream_state = stream_state if stream_state is not None else dialects.StreamState()
        self.ecapture_version: str | None = None
        # when set, a sink whose output pipe closed (BrokenPipeError) is stopped and this is
        # called; the other sinks go on. When None the error ends the run.
        self.on_output_closed: Callable[[], None] | None = None
        self.closed_sinks: set[int] = set()  # (ids of the sinks stopped so)
        # the file ``on_annotation`` writes to, when it has one to flush at the end (its error, as a sink's, is
        # raised after the sinks finished)
        self.annotations = None

    @property
    def clock(self) -> int:
        """The data's clock: the latest capture time seen (or given to :meth:`tick`), 0 before any."""
        return self.table.clock

    # -- input

    def feed(self, message: Message | Tick) -> None:
        if type(message) is Tick:  # (a recording's: live's clock moved here)
            self.tick(message.now_ns)
            return
        report = self.report
        report.counts[Count.MESSAGES] += 1  # (the per-message counters without Report.count's call: ~2 % of a run)
        try:
            records = dialects.decode(message, self.stream_state)
            for rec in records:
                if type(rec) is Capture:  # (most records: routed here, without _route's call)
                    counts = report.counts
                    counts[Count.EVENTS] += 1
                    counts[Count.PAYLOAD_BYTES] += len(rec.payload)
                    events = self.table.feed(rec)
                    if events:  # (most captures release nothing yet: v1.4's whole seconds, the reorder window)
                        self._dispatch(events)
                else:
                    self._route(rec)
        except DecodeError as exc:
            report.skip(message.origin, str(exc))
        except OSError:
            raise  # an output that cannot be written (disk full, reader gone) ends the run
        except Exception as exc:  # a bug of ours must not lose the rest of the input
            report.count(Count.INTERNAL_ERRORS)
            report.skip(message.origin, f"internal error while converting this message ({exc!r}); please report it")

    def _route(self, rec) -> None:
        """A record that is not a :class:`Capture` (those :meth:`feed` hands to the table itself)."""
        report = self.report
        if isinstance(rec, Heartbeat):
            report.count(Count.HEARTBEATS)
        elif isinstance(rec, ProcessLog):
            self._log(rec)
        elif isinstance(rec, ConnectInfo):
            report.count(Count.CONNECT_LINES if rec.kind == "connect" else Count.DESTROY_LINES)
            self._dispatch(self.table.feed(rec))
        elif isinstance(rec, Annotation):
            report.count(Count.ANNOTATIONS)
            report.annotation_kinds[rec.kind] += 1
            if rec.kind.startswith("unknown"):
                report.warn(f"unknown message kept as annotation ({rec.kind})", rec.origin)
            if self.on_annotation is not None:
                self.on_annotation(rec)

    def tick(self, now_ns: int) -> None:
        """Move the data's clock to ``now_ns``: ``live`` does by its wall clock, ``convert`` at a recording's
        :class:`~ecq2pcap.model.Tick`."""
        self._dispatch(self.table.advance(now_ns))

    def finish(self) -> None:
        """End every connection and finish every sink, also when one of them cannot write
        (its first write error is raised afterwards)."""
        error = None
        for step in (self._close_all, lambda: self.deliver(self.view.finish())):
            try:
                step()
            except OSError as exc:
                error = error or exc
            except Exception as exc:  # a bug of ours: the outputs are still completed
                self._internal_error("finishing the connections", exc)
        for sink in self.sinks:
            if id(sink) in self.closed_sinks:
                continue
            try:
                self._guarded(sink, sink.finish)
            except OSError as exc:
                error = error or exc
            except Exception as exc:
                self._internal_error("finishing an output", exc)
        if self.annotations is not None:
            try:
                self.annotations.flush()
            except OSError as exc:
                error = error or exc
        if error is not None:
            raise error

    # -- internals

    def _internal_error(self, what: str, exc: Exception) -> None:
        self.report.count(Count.INTERNAL_ERRORS)
        self.report.warn(f"internal error while {what}; please report it", detail=repr(exc))

    def _log(self, rec: ProcessLog) -> None:
        self.report.count(Count.PROCESS_LOGS)
        fields = rec.fields or {}
        version = fields.get("Version")
        if isinstance(version, str) and self.ecapture_version is None:
            self.ecapture_version = version
            if "v2.0.0" in version:
                self.report.warn(V200_NOTICE, rec.origin)
        for name in _DROPPED_FIELDS:
            if name in fields:
                self._dropped(fields[name], rec.origin)

    def _dropped(self, value, origin: str) -> None:
        """eCapture's log says its perf buffer dropped ``value`` events: what no output can hold, counted and said."""
        try:
            n = int(value)
        except (TypeError, ValueError):
            n = 0
        self.report.counts[Count.ECAPTURE_DROPPED] += max(n, 0)
        self.report.warn(DROPPED_NOTICE, origin, f"{value} event(s)")

    def _close_all(self) -> None:
        """The table's last events, a batch at a time; a sink that cannot write, or a bug of ours in one, raises once,
        after the other sinks got every batch (as :meth:`deliver` does for one)."""
        error = None
        for batch in self.table.close_all_batches():
            try:
                self._dispatch(batch)
            except Exception as exc:  # (what deliver raises after the other sinks: any exception)
                error = error or exc
        if error is not None:
            raise error

    def _dispatch(self, events: list[FlowEvent]) -> None:
        if events:
            self.deliver(self.view.process(events))
            table = self.table
            while table.cut:  # (a release stopped, the list full of bytes made up for frames' lost rests)
                more = table.more()
                if more:
                    self.deliver(self.view.process(more))

    def deliver(self, events: list[FlowEvent]) -> None:
        """Events of the view's to the sinks (``convert -j``'s dispatcher also hands on a list at once with it)."""
        # a sink that cannot write (disk full) raises once and then ignores events: the
        # others still get every event, then the error ends the run; likewise a bug of ours in
        # one sink (then an internal error, see feed). A sink takes the list at once when it can
        # (``handle_events``: the pcapng sink writes it as one unit)
        error = None
        for sink in self.sinks:
            handle = getattr(sink, "handle_events", None) or partial(_each, sink.handle)
            try:
                if self.on_output_closed is None:
                    handle(events)
                elif id(sink) not in self.closed_sinks:
                    self._guarded(sink, handle, events)
            except Exception as exc:
                error = error or exc
        if error is not None:
            raise error

    def _guarded(self, sink: Sink, fn: Callable, *args) -> None:
        try:
            fn(*args)
        except BrokenPipeError:  # the reader went away: this output stops, the others go on
            if self.on_output_closed is None:
                raise
            self.closed_sinks.add(id(sink))
            self.on_output_closed()


def _each(handle: Callable[[FlowEvent], None], events: list[FlowEvent]) -> None:
    """``handle`` every event, also after one raised OSError (raised at the end: a sink made of
    several outputs, a ring's pcapng and HAR, goes on with those that can still write)."""
    error = None
    for event in events:
        try:
            handle(event)
        except OSError as exc:
            error = error or exc
    if error is not None:
        raise error
