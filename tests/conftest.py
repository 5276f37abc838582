"""Shared test helpers: paths to the shipped samples and the real consumers (tshark)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
# the realistic eCapture sample streams and their expectations live in fixtures/ (see its README)
SAMPLES = FIXTURES


def pytest_collection_modifyitems(items):
    for item in items:
        if "tshark" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.tshark)


@pytest.fixture(scope="session")
def tshark() -> str:
    """Path to tshark. The README's test command installs it; a missing tshark fails
    (set ECQ2PCAP_ALLOW_NO_TSHARK=1 to skip those tests instead)."""
    path = shutil.which("tshark")
    if path is None:
        if os.environ.get("ECQ2PCAP_ALLOW_NO_TSHARK") == "1":
            pytest.skip("tshark not installed")
        pytest.fail("tshark is not installed: run the README's test command (it installs Debian's tshark)")
    return path


def run_tshark(tshark: str, pcap: Path, *args: str) -> str:
    """Run tshark on a capture file and return stdout (fails the test on a tshark error)."""
    proc = subprocess.run(
        [tshark, "-n", "-r", str(pcap), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "LC_ALL": "C"},
    )
    if proc.returncode != 0:
        raise AssertionError(f"tshark failed ({proc.returncode}): {proc.stderr}")
    return proc.stdout


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    return SAMPLES


@pytest.fixture(scope="session")
def conversions(tmp_path_factory):
    """``conversions(*inputs, extra=(...))`` → Converted(pcap, har, code, stderr), each conversion done once."""
    from tests.support.conversions import Conversions

    return Conversions(tmp_path_factory.mktemp("conversions"))


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A fresh HOME with ecq2pcap installed into Wireshark (tests/support/wireshark_home.py)."""
    from tests.support.wireshark_home import installed_home

    return installed_home(tmp_path_factory.mktemp("home"))
