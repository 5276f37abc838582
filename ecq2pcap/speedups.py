"""The optional C part (``_speedups.c``: the TCP checksum's payload sum), and whether it runs.

``setup.py`` builds it when a C compiler is there; without one ecq2pcap uses its pure-Python code, which gives
the same bytes, slower. ``ECQ2PCAP_PURE_PYTHON=1`` in the environment makes ecq2pcap use the pure-Python code
even when it was built (the tests compare the two). ``ecq2pcap --version`` says which one runs. (A module of its
own, importing nothing, so that ``--version`` does not import the sinks.)"""

from __future__ import annotations

import os


def compiled():
    """The C module, or None when it was not built or the environment asks for the pure-Python code."""
    if os.environ.get("ECQ2PCAP_PURE_PYTHON", "") not in ("", "0"):
        return None
    try:
        from . import _speedups
    except ImportError:
        return None
    return _speedups


def describe() -> str:
    """Which code runs, for ``--version``."""
    if compiled() is not None:
        return "TCP checksums in C"
    why = "ECQ2PCAP_PURE_PYTHON is set" if os.environ.get("ECQ2PCAP_PURE_PYTHON", "") not in ("", "0") else (
        "its C part was not built")
    return f"pure Python: {why}"
