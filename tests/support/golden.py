"""Differential check: the sha256 of every output the converter writes for every fixture.

``fixtures/golden_outputs.json`` holds these digests as produced by the code *before* an
optimisation (the straightforward paths); ``tests/test_differential.py`` converts every
fixture again and requires byte-identical outputs. When an output change is intended
(a fidelity fix), regenerate the file and say so in the commit::

    PYTHONPATH=$PWD python3 -m tests.support.golden --write

``--check`` says which outputs differ from the recorded ones (exit 1), without a test run.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
FIXTURES = ROOT / "fixtures"
GOLDEN = FIXTURES / "golden_outputs.json"

# option sets: the defaults, and the other pcapng paths (raw payload, raw IP, small segments, real ports,
# no reordering, connections ended by a short idle timeout)
VARIANTS = {
    "default": ["-w", "{d}/out.pcapng", "--har", "{d}/out.har"],
    "raw": ["-w", "{d}/out.pcapng", "--raw-payload", "--link-type", "raw", "--mss", "700", "--keep-ports",
            "--reorder-window", "0", "--idle-timeout", "1"],
}


def inputs() -> list[Path]:
    return sorted(p for p in FIXTURES.iterdir() if p.name.endswith((".jsonl", ".jsonl.gz")))


def digests(path: Path, variant: str, extra: list[str] | None = None) -> dict[str, str]:
    """{output name: sha256} of one conversion, run in-process through the CLI."""
    from ecq2pcap.cli import main

    with tempfile.TemporaryDirectory() as d:
        # relative input name: packet comments and HAR entries name it ("origin FILE:LINE")
        argv = ["convert", path.name, *(a.format(d=d) for a in VARIANTS[variant]), "-q", *(extra or [])]
        with contextlib.redirect_stderr(io.StringIO()), contextlib.chdir(path.parent):
            rc = main(argv)
        if rc not in (0, 1):
            raise AssertionError(f"convert {path.name} ({variant}) exited {rc}")
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(Path(d).iterdir())}


def compute() -> dict[str, dict[str, str]]:
    return {f"{p.name} {v}": digests(p, v) for p in inputs() for v in VARIANTS}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help=f"write {GOLDEN.relative_to(ROOT)}")
    ap.add_argument("--check", action="store_true", help=f"exit 1 when an output differs from {GOLDEN.name}")
    args = ap.parse_args()
    result = compute()
    text = json.dumps(result, indent=1, sort_keys=True) + "\n"
    if args.write:
        GOLDEN.write_text(text)
    elif args.check:
        recorded = json.loads(GOLDEN.read_text())
        differ = sorted(k for k in recorded.keys() | result.keys() if recorded.get(k) != result.get(k))
        for key in differ:
            print(f"differs: {key}")
        sys.exit(1 if differ else 0)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
