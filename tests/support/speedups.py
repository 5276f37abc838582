"""ecq2pcap's optional C part (``ecq2pcap/_speedups.c`` and the C files beside it) compiled from its source into a
folder, whatever the install did: for the tests that hold it to the pure-Python code."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted((ROOT / "ecq2pcap").glob("_*.c"))


def compile_speedups(out: Path):
    """The C module built into ``out`` and imported (as ``_speedups``); skipped without a C compiler or Python's
    headers (the C part is optional), a failed build fails the test."""
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(cc) is None or not (Path(sysconfig.get_paths()["include"]) / "Python.h").exists():
        pytest.skip(f"no C compiler ({cc}) or no Python headers: the C part is optional")
    script = ("import sys; from setuptools import Extension, setup; "
              "setup(name='speedups_test', script_args=sys.argv[1:], "
              f"ext_modules=[Extension('_speedups', {[str(s) for s in SOURCES]!r})])")
    done = subprocess.run([sys.executable, "-c", script, "build_ext", "--build-lib", str(out), "--build-temp",
                           str(out / "tmp")], capture_output=True, text=True, cwd=out)
    assert done.returncode == 0, done.stdout + done.stderr
    (built,) = out.glob("_speedups*" + sysconfig.get_config_var("EXT_SUFFIX"))
    spec = importlib.util.spec_from_file_location("_speedups", built)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pure_python(monkeypatch) -> None:
    """The pure-Python code in place of whatever C part the install built, wherever the package picked one at
    import (what ``ECQ2PCAP_PURE_PYTHON=1`` does for a new process): the sum, the packet blocks, the framing's
    quick answer."""
    from ecq2pcap.payloads import http1_render
    from ecq2pcap.sinks.pcapng import checksum, packets, sink, tcp

    for module in (tcp, packets):  # (the callers' own names for the sum)
        monkeypatch.setattr(module, "word_sum", checksum.word_sum_py)
        monkeypatch.setattr(module, "INLINE_UPTO", checksum.SUM_SHORT)
    monkeypatch.setattr(sink, "packet_blocks", packets.PacketBlocks)
    monkeypatch.setattr(http1_render, "AGREES", None)
