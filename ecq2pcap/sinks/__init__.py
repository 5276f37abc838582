"""Sinks consume flow events (:mod:`ecq2pcap.model` ``Opened``/``Chunk``/``Closed``).

Every sink has the same two methods::

    sink.handle(event)   # one FlowEvent, in the order the flow table emits them
    sink.finish()        # end of input: complete the output (no more events)

Sinks write through a binary file object given to them; they never open files.
"""

from __future__ import annotations

from typing import Protocol

from ..model import FlowEvent


class Sink(Protocol):
    def handle(self, event: FlowEvent) -> None: ...

    def finish(self) -> None: ...
