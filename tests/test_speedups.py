"""Whether the C checksum runs, as ``ecq2pcap --version`` says it: a built file that does not load (truncated, or
one another Python left under this one's name) was said "not built" (its loader's error swallowed), so a user
who had built it was told to build it; the pure-Python sum runs either way, the same bytes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig

import pytest

from ecq2pcap import __version__
from tests.conftest import FIXTURES, ROOT


def _package_copy(tmp_path, so: bytes | None):
    """A copy of the package, with ``so`` as its C part's file (None: none)."""
    shutil.copytree(ROOT / "ecq2pcap", tmp_path / "ecq2pcap",
                    ignore=shutil.ignore_patterns("__pycache__", "_speedups*.so", "_speedups*.pyd"))
    if so is not None:
        (tmp_path / "ecq2pcap" / f"_speedups{sysconfig.get_config_var('EXT_SUFFIX')}").write_bytes(so)
    return tmp_path


def _run(where, *argv: str, site: bool = True) -> subprocess.CompletedProcess:
    """``ecq2pcap ARGV`` from the copy; without ``site``, Python's ``-S``: no site-packages, so no finder of an
    editable install (``pip install -e``, as scripts/test.sh does), which would find the source tree's built C
    part for a copy that has none (``--version`` imports nothing from site-packages)."""
    env = {k: v for k, v in os.environ.items() if k != "ECQ2PCAP_PURE_PYTHON"}
    env["PYTHONPATH"] = str(where)
    return subprocess.run([sys.executable, *([] if site else ["-S"]), "-m", "ecq2pcap", *argv], capture_output=True,
                          text=True, cwd=where, env=env)


@pytest.mark.parametrize("so, why", [
    (None, "its C part was not built"),
    (b"", "its C part did not load: "),  # (a truncated file: the loader's error follows)
    (b"\x7fELF" + bytes(60), "its C part did not load: "),
])
def test_version_says_why_the_c_sum_does_not_run(tmp_path, so, why):
    where = _package_copy(tmp_path, so)
    p = _run(where, "--version", site=False)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith(f"ecq2pcap {__version__} (pure Python: {why}"), p.stdout
    if so is not None:  # (the loader's own words, naming the file)
        assert "_speedups" in p.stdout and len(p.stdout) > len(f"ecq2pcap {__version__} (pure Python: {why})\n")
        out = tmp_path / "o.pcapng"  # (and the pure-Python sum runs: the conversion goes on)
        done = _run(where, "convert", str(FIXTURES / "v140_client.dump.jsonl.gz"), "-w", str(out), "-q")
        assert done.returncode == 0 and out.stat().st_size > 0, done.stderr


_OLD_SOURCE = """
#define PY_SSIZE_T_CLEAN
#include <Python.h>
static PyObject *word_sum(PyObject *module, PyObject *arg) { return PyLong_FromLong(0); }
static PyMethodDef methods[] = {{"word_sum", word_sum, METH_O, NULL}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "ecq2pcap._speedups", NULL, -1, methods};
PyMODINIT_FUNC PyInit__speedups(void) { return PyModule_Create(&module); }
"""


def test_a_c_part_built_from_an_older_source_is_not_used(tmp_path):
    """A source tree's in-place build left from before an update (here: a module with ``word_sum`` alone, as
    before its packet blocks): said, and the pure-Python code runs (an AttributeError ended every conversion)."""
    if shutil.which((sysconfig.get_config_var("CC") or "cc").split()[0]) is None:
        pytest.skip("no C compiler")
    build = tmp_path / "build"
    build.mkdir()
    (build / "_speedups.c").write_text(_OLD_SOURCE)
    script = ("import sys; from setuptools import Extension, setup; setup(name='old', script_args=sys.argv[1:], "
              "ext_modules=[Extension('_speedups', ['_speedups.c'])])")
    done = subprocess.run([sys.executable, "-c", script, "build_ext", "--inplace"], cwd=build, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    (built,) = build.glob("_speedups*" + sysconfig.get_config_var("EXT_SUFFIX"))
    where = _package_copy(tmp_path / "tree", built.read_bytes())
    p = _run(where, "--version", site=False)
    assert p.stdout == (f"ecq2pcap {__version__} (pure Python: its C part is out of date (it has no blocks, "
                        "rendered_agrees): rebuild it with pip install)\n"), p.stdout + p.stderr
    out = tmp_path / "o.pcapng"
    done = _run(where, "convert", str(FIXTURES / "v140_client.dump.jsonl.gz"), "-w", str(out), "-q")
    assert done.returncode == 0 and out.stat().st_size > 0, done.stderr
