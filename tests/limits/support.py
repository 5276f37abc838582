"""Hostile inputs built at run time (never committed) and a convert that reports its peak memory."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import brotli
import zstandard

from tests.conftest import ROOT
from tests.support.v2_stream import V2Stream

MiB = 1 << 20
RSS_BUDGET_MB = 300  # the promise: peak RSS under 300 MB on any input with the default limits
_ZEROS = b"\0" * MiB

# run `ecq2pcap ARGS` as the only child of a fresh interpreter: its ru_maxrss is the convert's
_MEASURE = (
    "import resource, subprocess, sys\n"
    "p = subprocess.run([sys.executable, '-m', 'ecq2pcap', *sys.argv[1:]], stderr=subprocess.PIPE)\n"
    "sys.stderr.buffer.write(p.stderr)\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    "sys.exit(p.returncode)\n"
)


def convert_measured(*args: str) -> tuple[int, float, str]:
    """(exit code, peak RSS in MB, stderr) of ``ecq2pcap ARGS`` in a subprocess."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.run([sys.executable, "-c", _MEASURE, *args], capture_output=True, timeout=300, env=env)
    kb = int(p.stdout.split()[-1])
    return p.returncode, kb / 1024, p.stderr.decode("utf-8", "replace")


def raw_deflate_zeros(mib: int) -> bytes:
    """Raw DEFLATE of ``mib`` MiB of zeros, ending in a sync flush (``00 00 ff ff``).

    One compressed MiB after a full flush depends on nothing before it, so it is repeated
    instead of compressing every MiB again (fast at run time)."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return (c.compress(_ZEROS) + c.flush(zlib.Z_FULL_FLUSH)) * mib


def bomb(coding: str, mib: int) -> bytes:
    """``mib`` MiB of zeros encoded with Content-Encoding ``coding`` (a valid, complete stream)."""
    if coding in ("gzip", "deflate"):
        last = zlib.compressobj(9, zlib.DEFLATED, -15).flush()  # an empty final block
        body = raw_deflate_zeros(mib) + last
        if coding == "gzip":
            crc = 0
            for _ in range(mib):
                crc = zlib.crc32(_ZEROS, crc)
            return b"\x1f\x8b\x08\x00\0\0\0\0\0\xff" + body + struct.pack("<II", crc, (mib * MiB) & 0xFFFFFFFF)
        adler = 1
        for _ in range(mib):
            adler = zlib.adler32(_ZEROS, adler)
        return b"\x78\xda" + body + struct.pack(">I", adler)
    if coding == "br":
        c = brotli.Compressor(quality=5)
        return b"".join(c.process(_ZEROS) for _ in range(mib)) + c.finish()
    if coding == "zstd":
        c = zstandard.ZstdCompressor(level=3).compressobj()
        return b"".join(c.compress(_ZEROS) for _ in range(mib)) + c.flush()
    raise ValueError(coding)


class Dump(V2Stream):
    """A v2 stream of one client (pid 7) and its connections; ``write`` saves it."""

    def __init__(self) -> None:
        super().__init__()
        self.fds = 0

    def open(self, port: int = 443) -> int:
        self.fds += 1
        fd = 100 + self.fds
        self.connect(7, fd, "client", ("10.0.0.1", 40000 + self.fds), ("10.0.0.2", port))
        return fd

    def send(self, fd: int, data: bytes, dt: float = 0.001) -> None:
        self.call(7, fd, "client", True, data, dt)

    def recv(self, fd: int, data: bytes, dt: float = 0.001) -> None:
        self.call(7, fd, "client", False, data, dt)

    def write(self, path: Path) -> Path:
        path.write_bytes(self.dump())
        return path


def load_har(path: Path) -> list[dict]:
    return json.loads(path.read_bytes())["log"]["entries"]
