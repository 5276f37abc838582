"""Sinks consume flow events (:mod:`ecq2pcap.model` ``Opened``/``Chunk``/``Closed``).

Every sink has the same two methods::

    sink.handle(event)   # one FlowEvent, in the order the flow table emits them
    sink.finish()        # end of input: complete the output (no more events)

and may have a third, which the pipeline then calls instead of ``handle`` for each::

    sink.handle_events(events)   # a list the flow table emitted, at once (the pcapng sink: one write)

Sinks write through a binary file object given to them; they never open files.
"""

from __future__ import annotations

from typing import Protocol

from ..model import FlowEvent


class Sink(Protocol):
    def handle(self, event: FlowEvent) -> None: ...

    def finish(self) -> None: ...
