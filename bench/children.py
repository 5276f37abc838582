"""How the benchmarks run ecq2pcap in a child process: as an installed copy runs, from bytecode compiled once.

pip compiles a package's modules at install; a child of a shell with ``PYTHONDONTWRITEBYTECODE=1`` (as this
project's own test machines set) instead compiled every module again each run, ~0.2 s of CPU a run, which a figure
that does not subtract a start-up charged to the conversion (5–8 % of a 100k-event run, more of a short one;
``run.py`` subtracts an empty conversion's).
"""

from __future__ import annotations

import compileall
import os
from pathlib import Path


def child_env(tree: Path, **extra: str) -> dict[str, str]:
    """The environment of a child that imports ``tree``'s ecq2pcap (``tree`` first on ``PYTHONPATH``), its modules'
    bytecode compiled now if it is not yet (``__pycache__``, which git ignores) and read from there."""
    compileall.compile_dir(str(tree / "ecq2pcap"), quiet=1)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(tree), os.environ.get("PYTHONPATH", "")) if p)
    env.update(extra)
    return env
