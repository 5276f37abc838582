"""Counters, warnings and skipped-input diagnostics shared by all stages.

Stages never print: they tell a :class:`Report`, and the CLI decides what the user
sees (the ``FILE:LINE: reason`` lines and the end-of-run summary).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

from .limits import limits_in


@dataclass
class Report:
    counts: Counter = field(default_factory=Counter)
    # "things we could not represent or chose to change", grouped by reason
    warnings: Counter = field(default_factory=Counter)
    # events that are not TLS data, by kind (bash, sql, masterkey, ...)
    annotation_kinds: Counter = field(default_factory=Counter)
    # resource limits that bit, by flag (--max-body-size, ...): see ecq2pcap.limits
    limits: Counter = field(default_factory=Counter)
    annotations_path: str | None = None  # where they were written, for the summary
    # called for each diagnostic line (origin: reason); the CLI prints to stderr
    emit: Callable[[str], None] | None = None
    max_lines_per_reason: int = 20
    _lines_per_reason: Counter = field(default_factory=Counter)

    def count(self, name: str, n: int = 1) -> None:
        self.counts[name] += n

    def count_limits(self, text: str) -> None:
        """Count the limits a note made with :func:`~ecq2pcap.limits.limit_note` says bit
        (:meth:`skip` and :meth:`warn` do it for their text)."""
        for flag in limits_in(text):
            self.limits[flag] += 1

    def skip(self, origin: str, reason: str) -> None:
        """A message that could not be used at all: counted and shown."""
        self.counts["skipped"] += 1
        self.count_limits(reason)
        self._say(origin, reason, reason)

    def warn(self, reason: str, origin: str = "", detail: str = "") -> None:
        """Something kept but changed, incomplete or unrepresentable."""
        self.warnings[reason] += 1
        self.count_limits(f"{reason} {detail}")
        self._say(origin, f"{reason}{': ' + detail if detail else ''}", reason, prefix="warning: ")

    def _say(self, origin: str, text: str, key: str, prefix: str = "") -> None:
        if self.emit is None:
            return
        self._lines_per_reason[key] += 1
        n = self._lines_per_reason[key]
        if n <= self.max_lines_per_reason:
            self.emit(f"{origin + ': ' if origin else ''}{prefix}{text}")
        elif n == self.max_lines_per_reason + 1:
            self.emit(f"{prefix}(further '{key}' messages are counted in the summary only)")
