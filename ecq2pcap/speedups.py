"""The optional C part (``_speedups.c``, the module: the TCP checksum's payload sum, ``_checksum.c``; a
connection's packets as pcapng blocks, ``_blocks.c`` and ``_segment.c``; whether a rendered HTTP/1 message's framing
already agrees, ``_rendered.c``), and whether it runs.

``setup.py`` builds it when a C compiler is there; without one ecq2pcap uses its pure-Python code, which gives
the same bytes, slower. ``ECQ2PCAP_PURE_PYTHON=1`` in the environment makes ecq2pcap use the pure-Python code
even when it was built (the tests compare the two). ``ecq2pcap --version`` says which one runs, and why not the C
one: not built (for this Python), or built but not loadable (a file truncated, or built against another Python
that left it under this one's name, or one built from an older source, without what this version calls: a
source tree's in-place build after an update). (A module of its own, importing nothing, so that ``--version`` does
not import the sinks.)"""

from __future__ import annotations

import importlib
import os

NAMES = ("word_sum", "blocks", "rendered_agrees")  # what the code calls in it


def _pure_asked() -> bool:
    return os.environ.get("ECQ2PCAP_PURE_PYTHON", "") not in ("", "0")


def _load():
    """(the C module, None) or (None, why the pure-Python code runs)."""
    if _pure_asked():
        return None, "ECQ2PCAP_PURE_PYTHON is set"
    try:
        module = importlib.import_module(f"{__package__}._speedups")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__package__}._speedups":  # (something it imports: not a missing build)
            return None, f"its C part did not load: {exc}"
        return None, "its C part was not built"
    except ImportError as exc:  # (the file is there and could not be loaded: said, not taken for a missing build)
        return None, f"its C part did not load: {exc}"
    missing = [name for name in NAMES if not hasattr(module, name)]
    if missing:  # (built from an older source: rebuilt by pip install)
        return None, f"its C part is out of date (it has no {', '.join(missing)}): rebuild it with pip install"
    return module, None


def compiled():
    """The C module, or None when it was not built, did not load, or the environment asks for the pure-Python
    code."""
    return _load()[0]


def describe() -> str:
    """Which code runs, for ``--version``."""
    module, why = _load()
    return "packets and checksums in C" if module is not None else f"pure Python: {why}"
