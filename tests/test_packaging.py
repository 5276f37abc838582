"""What `pip install .` (not editable) ships: setuptools' find_packages only takes folders with an
__init__.py, so a folder of modules without one is silently left out of the installed package."""

from setuptools import find_packages

from tests.conftest import ROOT


def test_every_source_folder_is_a_package_that_gets_installed():
    installed = set(find_packages(str(ROOT), include=["ecq2pcap*"]))
    folders = {p.parent.relative_to(ROOT).as_posix().replace("/", ".")
               for p in (ROOT / "ecq2pcap").rglob("*.py")}
    assert folders <= installed, sorted(folders - installed)
