"""Each conversion once per test session: many tests read the outputs of the same fixture and options."""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

from ecq2pcap.cli import main


@dataclass(frozen=True)
class Converted:
    pcap: Path
    har: Path
    code: int
    stderr: str

    def doc(self) -> dict:
        """The HAR, parsed afresh (callers may change it)."""
        return json.loads(self.har.read_text(encoding="utf-8"))


class Conversions:
    """``conversions(*inputs, extra=(...))``: ``ecq2pcap convert`` in-process, once per distinct call."""

    def __init__(self, root: Path):
        self.root = root
        self._done: dict[tuple, Converted] = {}

    def __call__(self, *inputs: Path | str, extra: tuple[str, ...] = ()) -> Converted:
        key = (tuple(map(str, inputs)), tuple(extra))
        if key not in self._done:
            out = self.root / f"c{len(self._done)}"
            out.mkdir()
            pcap, har = out / "out.pcapng", out / "out.har"
            err = io.StringIO()
            with contextlib.redirect_stderr(err):
                code = main(["convert", *key[0], "-w", str(pcap), "--har", str(har), *extra])
            self._done[key] = Converted(pcap, har, code, err.getvalue())
        return self._done[key]
