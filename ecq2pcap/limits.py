"""Resource limits on hostile input: one frozen :class:`Limits` that reaches every stage.

eCapture's plaintext comes from arbitrary programs and servers, so every place that could
grow without bound on crafted bytes has a limit here, with a safe default and a
command-line flag. Where a limit bites, the stage says so in the output (packet comment,
HAR ``_error``/``comment``) with :func:`limit_note`, whose text names the flag; the
:class:`~ecq2pcap.report.Report` counts each limit that bit (:func:`limits_in` finds them in
a note), and the end-of-run summary lists them.

Defaults keep the peak memory of a run under ~300 MB on any input (the limits compose:
one connection may hold ``connection_buffer`` bytes, a decoded body ``body_size`` more).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields

__all__ = ["Limits", "DEFAULT_LIMITS", "HELD_COST", "LIMIT_FLAGS", "limit_note", "limits_in", "parse_size", "format_size",
           "shortened"]

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
# what a capture held by the connection table (to order it, for its role, for its connection) is counted beside its
# payload: the objects that hold it and its connection (its Capture, uuid and origin strings, a heap entry, the
# connection's state: ~1.2-2.5 KiB traced, about twice that resident). Payload bytes alone let a flood of tiny
# captures in one second grow memory without bound (300k 1-byte ones in connections of their own: 700 MB and more)
HELD_COST = 2048


def _limit(default: int, flag: str | None, help: str, unit: str = "bytes"):
    return field(default=default, metadata={"flag": flag, "help": help, "unit": unit})


@dataclass(frozen=True, slots=True)
class Limits:
    """Every resource limit; sizes in bytes. ``flag`` metadata is the command-line option
    (``None``: not yet settable from the command line)."""

    body_size: int = _limit(
        64 * MiB, "--max-body-size",
        "largest HTTP body kept and largest body decoded from its Content-Encoding "
        "(gzip, deflate, br, zstd); decoding stops there")
    websocket_message_size: int = _limit(
        64 * MiB, "--max-ws-message-size",
        "largest WebSocket message kept (after permessage-deflate); inflating stops there")
    message_size: int = _limit(
        32 * MiB, "--max-message-size",
        "largest single eCapture message (dump line, recording line, WebSocket message); "
        "a bigger one is skipped without being read into memory")
    connection_buffer: int = _limit(
        64 * MiB, "--max-connection-buffer",
        "bytes one connection may hold while its exchanges are incomplete (bodies in flight, "
        "unparsed bytes, WebSocket messages of the entry); beyond it the connection is no longer "
        "decoded into HAR. Also bounds its open HTTP/2 streams and HTTP/1 requests waiting for answers "
        "(2 KiB each: past it the oldest ends early) and its captures waiting for a tuple (placed at once)")
    reorder_buffer: int = _limit(
        32 * MiB, "--max-reorder-buffer",
        "bytes of captures held to put them in capture-time order (--reorder-window; v1.4 times are whole "
        "seconds), each counted with 2 KiB for the objects that hold it; beyond it the oldest go on early, and "
        "one that comes later still is placed out of order (said). Also the bound of those that wait for their "
        "connection's role, and of those of several connections waiting for their tuple (the oldest are placed)")
    made_up_ratio: int = _limit(
        1024, "--max-made-up-ratio",
        "zero bytes made up for the lost rests of HTTP/2 and WebSocket frames, each way of a connection: at most N "
        "times the bytes captured that way (1024 lets a 16 MiB frame whose first 16 KiB eCapture kept be completed); "
        "past it nothing is made up (said), and the frames that follow may be misread. Bounds what a hostile stream "
        "writes to disk", unit="times")
    open_connections: int = _limit(
        4096, "--max-connections",
        "connections open at once; beyond it the one idle longest is ended (FIN, HAR entries)",
        unit="connections")
    named_addresses: int = _limit(
        65_536, "--max-names",
        "server addresses a pcapng names (host-name blocks, each kept for the rest of the file); later ones "
        "are shown as addresses", unit="addresses")
    # HTTP header limits, enforced by the HTTP/1 and HTTP/2 parsers
    header_line_size: int = _limit(
        64 * KiB, "--max-header-line",
        "longest HTTP/1 start line or header line; a head with a longer one is skipped up to the next message")
    header_section_size: int = _limit(
        1 * MiB, "--max-header-size",
        "largest HTTP/1 header section (Go's default); a bigger head is skipped up to the next message")
    hpack_table_size: int = _limit(
        64 * KiB, "--max-hpack-table",
        "largest HPACK dynamic table kept per direction; a peer's bigger table is clipped (its oldest "
        "entries become unknown)")
    header_list_size: int = _limit(
        1 * MiB, "--max-header-list",
        "largest decoded HTTP/2 header list; a bigger header block is not decoded")

    @classmethod
    def from_args(cls, args) -> "Limits":
        """The limits given on the command line (attributes named like the fields; missing = default)."""
        return cls(**{f.name: getattr(args, f.name) for f in fields(cls) if getattr(args, f.name, None) is not None})


DEFAULT_LIMITS = Limits()
LIMIT_FLAGS = {f.name: f.metadata["flag"] or f"limit {f.name}" for f in fields(Limits)}

_NOTE = re.compile(r"\(limit: ([a-z0-9 _-]+)\)")


def limit_note(name: str, text: str) -> str:
    """``text`` marked as the work of limit ``name`` (a :class:`Limits` field), naming its flag."""
    return f"{text} (limit: {LIMIT_FLAGS[name]})"


NOT_KEPT = "(not in the outputs)"  # ends a note on a part of a capture the outputs do not hold
ECAPTURE_CAP = 16384  # eCapture keeps at most this much of one SSL call (protocol doc §10.16): a capture cut there
CONTINUES = "continues connection "  # starts the note of a connection a straggler reopens after a limit ended it
LOST_BY_ECAPTURE = "lost by eCapture"  # in a note on a part of a message eCapture never gave (a summary warning)


def lost_note(text: str) -> str:
    """``text``, on a part of what eCapture gave that the outputs do not hold, marked so (the run's summary
    counts such notes as warnings: :func:`ecq2pcap.flows.normalize.normalized`)."""
    return f"{text} {NOT_KEPT}"


def limits_in(text: str) -> list[str]:
    """The flags of the limits a note (from :func:`limit_note`) says bit."""
    # (most texts say none: "(limit: " looked for first, a C search of ~0.8k instructions against the regex's ~3.5k)
    return _NOTE.findall(text) if "(limit: " in text else []


_SIZE = re.compile(r"\s*(\d+)\s*([kmg]?)(i?b?)\s*", re.I)


def parse_size(text: str) -> int:
    """``"64M"``, ``"64MiB"``, ``"512k"``, ``"1048576"`` → bytes (binary multiples). ValueError if not a size."""
    m = _SIZE.fullmatch(text)
    if m is None:
        raise ValueError(f"not a size: {text!r} (e.g. 1048576, 512K, 64M, 1G)")
    return int(m.group(1)) * {"": 1, "k": KiB, "m": MiB, "g": GiB}[m.group(2).lower()]


def format_size(n: int) -> str:
    for unit, size in (("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} bytes"


def shortened(text: str, limit: int) -> str:
    """``text``, or its first ``limit`` characters and how long it was: what a hostile input puts in a message (h11
    quoting a 100 KB line, a warning's detail) is bounded."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"
