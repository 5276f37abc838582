"""A HOME with ecq2pcap installed into Wireshark (``ecq2pcap wireshark install``), for the tests that run the real
tshark with its extcap interface and Lua fields (the ``home`` fixture of tests/conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "LC_ALL": "C"}
ENV.pop("XDG_CONFIG_HOME", None)


def ecq2pcap(*args, env=None, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ecq2pcap", *args], capture_output=True, text=True, timeout=60,
                          env=env or ENV, **kw)


def henv(home) -> dict:
    return {**ENV, "HOME": str(home)}


def installed_home(home: Path) -> Path:
    """``home`` with ecq2pcap installed into Wireshark."""
    p = ecq2pcap("wireshark", "install", env=henv(home))
    assert p.returncode == 0, p.stderr
    return home
