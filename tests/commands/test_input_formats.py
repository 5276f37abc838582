"""Inputs as users have them: a dump compressed with zstd, xz or bzip2 converts as the plain one does (and one cut
short says so, as a cut gzip does); a file that is no eCapture dump (a pcap or pcapng, a HAR, a zip) is refused at
once, naming what it is, with nothing written: it gave a skipped line for each of its millions of "lines", an empty
output and exit 0."""

from __future__ import annotations

import bz2
import gzip
import lzma
import subprocess
import sys
import tarfile
import zipfile

import pytest
import zstandard

from tests.conftest import FIXTURES, ROOT
from tests.support.cli import run_main
from tests.support.pcapng import epbs

SAMPLE = FIXTURES / "v140_client.dump.jsonl.gz"
COMPRESSORS = {"zst": zstandard.compress, "xz": lzma.compress, "bz2": bz2.compress, "gz": gzip.compress}


def _convert(folder, name: str = "dump", *extra: str):
    """convert ``folder/name`` into ``folder/o.pcapng`` and ``folder/o.har`` (run there: the packet comments name
    the input as given, the same name for each compression)."""
    return run_main("convert", "-q", name, "-w", "o.pcapng", "--har", "o.har", *extra, text=True, cwd=folder)


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    folder = tmp_path_factory.mktemp("plain")
    (folder / "dump").write_bytes(gzip.decompress(SAMPLE.read_bytes()))
    assert _convert(folder).returncode == 0
    return folder


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_a_compressed_dump_converts_as_the_plain_one(tmp_path, plain, kind):
    (tmp_path / "dump").write_bytes(COMPRESSORS[kind]((plain / "dump").read_bytes()))
    assert _convert(tmp_path).returncode == 0
    for out in ("o.pcapng", "o.har"):
        assert (tmp_path / out).read_bytes() == (plain / out).read_bytes(), out


def test_zstd_frames_back_to_back_and_a_skippable_one_read_as_one_stream(tmp_path, plain):
    """What ``zstd`` writes for files concatenated (``cat a.zst b.zst``) and what tools put beside the data."""
    data = (plain / "dump").read_bytes()
    half = len(data) // 2
    skippable = (0x184D2A50).to_bytes(4, "little") + (3).to_bytes(4, "little") + b"abc"
    (tmp_path / "dump").write_bytes(zstandard.ZstdCompressor(write_checksum=True).compress(data[:half]) + skippable
                                    + zstandard.compress(data[half:]))
    assert _convert(tmp_path).returncode == 0
    assert (tmp_path / "o.pcapng").read_bytes() == (plain / "o.pcapng").read_bytes()


@pytest.mark.parametrize("kind", ["zst", "xz", "gz"])
def test_a_compressed_dump_cut_short_says_so_and_keeps_what_came_before(tmp_path, plain, kind):
    packed = COMPRESSORS[kind]((plain / "dump").read_bytes())
    (tmp_path / "dump").write_bytes(packed[: len(packed) * 2 // 3])
    result = _convert(tmp_path)
    assert result.returncode == 1
    assert "dump:" in result.stderr and "cannot read further: Compressed file ended before the end-of-stream" \
        in result.stderr
    assert 0 < len(epbs(tmp_path / "o.pcapng")) < len(epbs(plain / "o.pcapng"))


def _foreign_inputs(folder, plain) -> dict[str, str]:
    """Files taken for a dump that are not one, and what the message names."""
    (folder / "cap.pcapng").write_bytes((plain / "o.pcapng").read_bytes())
    (folder / "cap.pcapng.gz").write_bytes(gzip.compress((plain / "o.pcapng").read_bytes()))
    (folder / "cap.pcap").write_bytes(b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00" + bytes(16))  # a pcap header, no packet
    (folder / "o.har").write_bytes((plain / "o.har").read_bytes())
    with zipfile.ZipFile(folder / "dump.zip", "w") as z:
        z.write(plain / "dump", "dump")
    with tarfile.open(folder / "dumps.tar.gz", "w:gz") as t:  # (a folder of dumps, as people send them)
        t.add(plain / "dump", "dumps/dump")
    return {"cap.pcapng": "a pcapng capture file", "cap.pcapng.gz": "a pcapng capture file",
            "cap.pcap": "a pcap capture file", "o.har": "a HAR file", "dump.zip": "a zip archive",
            "dumps.tar.gz": "a tar archive"}


def test_a_file_that_is_no_dump_is_refused_before_anything_is_written(tmp_path, plain):
    for name, said in _foreign_inputs(tmp_path, plain).items():
        # (a good input before it: still nothing written, as for an input that cannot be opened)
        result = run_main("convert", str(plain / "dump"), name, "-w", "new.pcapng", "--har", "new.har", text=True,
                          cwd=tmp_path)
        assert result.returncode == 2, name
        [line] = result.stderr.splitlines()  # (one line: what the file is, and what to do with it)
        assert line.startswith(f"ecq2pcap: error: {name}: cannot read: {said}, not an eCapture dump (") and \
            line.endswith(")"), line
        assert not (tmp_path / "new.pcapng").exists() and not (tmp_path / "new.har").exists(), name


@pytest.mark.parametrize("command", [
    ["convert", "cap.pcapng", "-w", "new.pcapng", "-j", "2"],
    ["convert", "cap.pcapng", "-w", "new_{}.pcapng"],  # (each input into its own outputs)
    ["summary", "cap.pcapng"],
])
def test_every_command_reading_dumps_refuses_it(tmp_path, plain, command):
    _foreign_inputs(tmp_path, plain)
    result = run_main(*command, text=True, cwd=tmp_path)
    assert result.returncode == 2
    assert "cap.pcapng: cannot read: a pcapng capture file, not an eCapture dump" in result.stderr
    assert not list(tmp_path.glob("new*"))


def test_stdin_that_is_no_dump_says_so_when_read(tmp_path, plain):
    _foreign_inputs(tmp_path, plain)
    with open(tmp_path / "cap.pcapng", "rb") as stdin:
        result = subprocess.run([sys.executable, "-m", "ecq2pcap", "convert", "-q", "-", "-w", "new.pcapng"],
                                stdin=stdin, capture_output=True, text=True, cwd=tmp_path,
                                env={"PYTHONPATH": str(ROOT)}, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip() == "ecq2pcap: <stdin>: cannot read: a pcapng capture file, not an eCapture dump " \
                                    "(open it in Wireshark)"
    assert epbs(tmp_path / "new.pcapng") == []  # (opened before stdin was read: a valid pcapng of no packet)
