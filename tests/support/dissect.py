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
    "frame.len",
    "frame.comment",
    "frame.protocols",
    "frame.packet_flags_direction",
    "_ws.expert.message",
    "_ws.expert.severity",
    "ip.src",
    "ipv6.src",
    "tcp.stream",
    "tcp.srcport",
    "tcp.dstport",
    "tcp.flags.syn",
    "tcp.flags.ack",
    "tcp.flags.fin",
    "tcp.flags.push",
    "tcp.ack",  # relative
    "tcp.checksum.status",
    "ip.checksum.status",
    "tcp.len",
    "tcp.window_size",
    "http",
    "http.request.method",
    "http.request.uri",
    "http.response.code",
    "http2.magic",
    "http2.type",
    "http2.streamid",
    "http2.headers.method",
    "http2.headers.path",
    "http2.headers.status",
    "http2.header.name",
    "http2.header.value",
    "websocket",
    "websocket.opcode",
    "websocket.mask",
)
PAYLOAD_FIELDS = ("tcp.payload", "http2.data.data")  # hex; only with payload=True (they make the dump large)
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


def dissect(tshark: str, pcap: Path, *, payload: bool = False, opts: tuple[str, ...] = ()) -> list[Frame]:
    """Every frame of ``pcap`` with FIELDS; ``payload=True`` adds PAYLOAD_FIELDS (for ``follow``), ``opts``
    are extra tshark arguments such as ``("-o", "tcp.check_checksum:TRUE")``. Both are part of the cache key."""
    st = os.stat(pcap)
    key = (str(pcap), st.st_size, st.st_mtime_ns, payload, tuple(opts))
    if key not in _cache:
        fields = FIELDS + (PAYLOAD_FIELDS if payload else ())
        cmd = [tshark, "-n", "-r", str(pcap), *opts, "-T", "fields", "-E", f"aggregator={_SEP}", "-E", "occurrence=a"]
        for f in fields:
            cmd += ["-e", f]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env={**os.environ, "LC_ALL": "C"})
        if proc.returncode != 0:
            raise AssertionError(f"tshark failed ({proc.returncode}): {proc.stderr}")
        frames = []
        for line in proc.stdout.split("\n")[:-1]:  # (splitlines would also split at _SEP)
            cells = line.split("\t")
            assert len(cells) == len(fields), line
            frames.append(Frame({f: (c.split(_SEP) if c else []) for f, c in zip(fields, cells)}))
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


WARN = 0x00600000  # tshark's PI_WARN; PI_ERROR is 0x00800000 (what ``-z expert`` lists as Warns and Errors)


def warnings(frames: list[Frame]) -> list[str]:
    """Expert messages of severity Warning or Error (``-z expert``'s "Warns (n)" and "Errors (n)" groups)."""
    return [m for fr in frames for m, sev in zip(fr["_ws.expert.message"], fr["_ws.expert.severity"], strict=True)
            if int(sev) >= WARN]


def follow(frames: list[Frame], stream: int = 0) -> tuple[bytes, bytes]:
    """Bytes of each direction of TCP stream ``stream`` (client first), from ``dissect(..., payload=True)``.

    Unlike ``-z follow,tcp,raw`` this does not reassemble: it concatenates segments in frame order, which is the
    byte order only for in-order captures without retransmissions, such as the ones our sink synthesizes (so it is
    the stricter check there). The client is the sender of the stream's SYN, else of its first frame."""
    mine = [f for f in frames if f.first("tcp.stream") == str(stream)]
    assert mine, f"no TCP stream {stream}"
    opener = next((f for f in syns(mine)), mine[0])
    client = (opener.first("ip.src") or opener.first("ipv6.src"), opener.first("tcp.srcport"))
    c2s, s2c = bytearray(), bytearray()
    for f in mine:
        data = bytes.fromhex(f.first("tcp.payload"))
        assert len(data) == int(f.first("tcp.len") or 0), f"frame {f.first('frame.number')}: payload not shown"
        sender = (f.first("ip.src") or f.first("ipv6.src"), f.first("tcp.srcport"))
        (c2s if sender == client else s2c).extend(data)
    return bytes(c2s), bytes(s2c)


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
