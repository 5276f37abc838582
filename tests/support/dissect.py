"""tshark, once per pcapng: the fields the tests look at, for every frame, filtered in Python.

Each tshark start costs ~0.3 s and the suite used to ask the same capture four or five questions, each with its own
display filter. ``dissect(tshark, pcap)`` runs tshark once with every field below (cached for the session by path,
size and modification time) and returns the frames; tests select with ordinary Python. ``tshark -Y`` semantics are
kept where it matters: a frame "has" a protocol field when tshark printed at least one occurrence of it.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

FIELDS = (
    "frame.number",
    "frame.time_epoch",
    "frame.comment",
    "_ws.expert.message",
    "ip.src",
    "ipv6.src",
    "tcp.stream",
    "tcp.srcport",
    "tcp.dstport",
    "tcp.flags.syn",
    "tcp.flags.ack",
    "tcp.flags.fin",
    "tcp.flags.reset",
    "tcp.checksum.status",
    "ip.checksum.status",
    "tcp.len",
    "http",
    "http.request.method",
    "http.request.uri",
    "http.response.code",
    "http2.type",
    "http2.streamid",
    "http2.headers.method",
    "http2.headers.path",
    "http2.headers.status",
    "http2.header.name",
    "websocket",
    "websocket.opcode",
    "websocket.mask",
)
_SEP = "\x1e"  # between occurrences of one field: never in tshark's text of these fields


@dataclass(frozen=True)
class Frame:
    values: dict[str, list[str]]

    def __getitem__(self, field: str) -> list[str]:
        return self.values[field]

    def first(self, field: str) -> str:
        got = self.values[field]
        return got[0] if got else ""

    def has(self, field: str) -> bool:
        return bool(self.values[field])

    def flag(self, field: str) -> bool:
        """A boolean field as tshark 4.0 ("1") and later ("True") print it."""
        return self.first(field) in ("1", "True")


_cache: dict[tuple, list[Frame]] = {}


def dissect(tshark: str, pcap: Path) -> list[Frame]:
    st = os.stat(pcap)
    key = (str(pcap), st.st_size, st.st_mtime_ns)
    if key not in _cache:
        cmd = [tshark, "-n", "-r", str(pcap), "-T", "fields", "-E", f"aggregator={_SEP}", "-E", "occurrence=a"]
        for f in FIELDS:
            cmd += ["-e", f]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env={**os.environ, "LC_ALL": "C"})
        if proc.returncode != 0:
            raise AssertionError(f"tshark failed ({proc.returncode}): {proc.stderr}")
        frames = []
        for line in proc.stdout.split("\n")[:-1]:  # (splitlines would also split at _SEP)
            cells = line.split("\t")
            assert len(cells) == len(FIELDS), line
            frames.append(Frame({f: (c.split(_SEP) if c else []) for f, c in zip(FIELDS, cells)}))
        _cache[key] = frames
    return _cache[key]


# expert items that mean the synthesized TCP is inconsistent or a dissector choked
BAD_EXPERT = (
    "Previous segment",
    "ACKed segment that wasn't captured",
    "retransmission",
    "out-of-order",
    "Duplicate ACK",
    "window specified by the receiver is now completely full",
    "Malformed",
    "overlaps",
    # the rest of what tshark's tcp.analysis.flags covers
    "Zero window",
    "ZeroWindow",
    "Keep-Alive",
    "ports as an earlier session",
    "spurious",
)


def bad_expert(frames: list[Frame]) -> list[str]:
    """tshark's expert messages that say our TCP or a payload is broken (empty on a clean capture)."""
    return [m for m in expert_messages(frames) if any(b in m for b in BAD_EXPERT)]


def expert_messages(frames: list[Frame]) -> list[str]:
    return [m for fr in frames for m in fr["_ws.expert.message"]]


def syns(frames: list[Frame]) -> list[Frame]:
    """Connection openings (SYN without ACK)."""
    return [fr for fr in frames if fr.flag("tcp.flags.syn") and not fr.flag("tcp.flags.ack")]


def assert_exchanges_dissected(frames: list[Frame], exchanges: list[dict]) -> None:
    """Every expected exchange (fixtures' *.expected.json) is an HTTP/1 or HTTP/2 message tshark dissects."""
    h1 = [(m, u, "") for f in frames for m, u in zip(f["http.request.method"], f["http.request.uri"])]
    h1 += [("", "", code) for f in frames for code in f["http.response.code"]]
    h2 = [(f["http2.streamid"], f["http2.headers.method"], f["http2.headers.path"], f["http2.headers.status"])
          for f in frames if "1" in f["http2.type"]]
    for ex in exchanges:
        if ex["http_version"] == "HTTP/2":
            sid = str(ex["h2_stream_id"])
            assert any(sid in sids and str(ex["status"]) in statuses for sids, _, _, statuses in h2), ex
            if ex.get("has_request", True):
                assert any(sid in sids and ex["method"] in methods and ex["path"] in paths
                           for sids, methods, paths, _ in h2), ex
        else:
            if ex.get("has_request", True):
                assert (ex["method"], ex["path"], "") in h1, ex
            assert ("", "", str(ex["status"])) in h1, ex


def websocket_data_frames(frames: list[Frame]) -> int:
    """WebSocket text and binary frames (a packet may carry several)."""
    return sum(op in ("1", "2") for f in frames for op in f["websocket.opcode"])
