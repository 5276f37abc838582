"""What the pcapng sink's packet comments say of a sender and of eCapture's event type, kept by value: a thread and
its fd send again and again (two lookups, ~1.5k instructions, instead of formatting four numbers, ~6k); and what a
SYN's comment says of its connection (:func:`open_facts`)."""

from __future__ import annotations

from ...memo import Memo
from ...model import ECTYPE_NAMES


# the words of a comment that a process name holding them would be read as (the Lua fields, a reader's split): such a
# name is written quoted, with \ and " escaped (prctl takes any bytes but NUL: a thread named "y uuid z" gave
# ecapture.comm "y", no fd, and a uuid that began inside the name)
_OWN_WORDS = (" uuid ", "; connection ", "; eCapture ", "; module ", "; captured process ", "; uuid ")


def shown_comm(comm: str) -> str:
    """``comm`` as a comment writes it: as it is, or quoted when it holds one of the comments' own words (asked only
    of a name that holds a space, which each of them begins with, or starts with a quote: :func:`_who`)."""
    padded = comm + " "  # (a name that ends in "; module" is followed by " fd 5")
    if comm[:1] == '"' or any(w in padded for w in _OWN_WORDS):
        return '"' + comm.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return comm


def _who(key: tuple[int | None, int | None, str, int | None]) -> str:
    """A chunk's or a connection's sender in its comment: (pid, tid, comm, fd) as text."""
    pid, tid, comm, fd = key
    tid_text = "" if tid is None else f" tid {tid}"
    fd_text = "" if fd is None else f" fd {fd}"
    if " " in comm or comm[:1] == '"':  # (most names have neither: no call)
        comm = shown_comm(comm)
    return f"pid {pid}{tid_text} comm {comm}{fd_text}"


def _what(key: tuple[int | None, str, str]) -> str:
    """A chunk comment's eCapture type and payload form: (ectype, the form's value, the module) as text. (gotls's
    type is the Go event's, 0 write and 1 read, not the parser's: protocol doc §4.1.)"""
    ectype, form, module = key
    if ectype is None:
        return f"payload {form}"
    name = _GOTLS_TYPES.get(ectype, "unknown") if module == "gotls" else ECTYPE_NAMES.get(ectype, "unknown")
    return f"eCapture type {ectype} ({name}); payload {form}"


_GOTLS_TYPES = {0: "gotls write", 1: "gotls read"}


def open_facts(port_map, key: tuple[str | None, str, str, int, int, bool]) -> str:
    """A SYN comment's middle: eCapture's version, the module, the captured end, the port shown (a real one, or
    one invented with the addresses: no --keep-ports hint for that). ``port_map``: the sink's
    (:class:`~.ports.PortMap`)."""
    version, module, role, real_port, shown_port, real = key
    parts = []
    if version:
        parts.append(f"eCapture {version}")
    if module:
        parts.append(f"module {module}")
    parts.append(f"captured process is the {role} (its sends are marked outbound)")
    if shown_port != real_port:
        if not real:
            parts.append(f"server port {real_port}, invented, shown as {shown_port}")
        elif real_port in port_map.mapping:
            parts.append(f"server port {real_port} shown as {shown_port} (--port-map)")
        else:
            parts.append(f"server port {real_port} shown as {shown_port}; use --keep-ports to keep it")
    return "; ".join(parts)


WHO = Memo(_who, max_entries=1024, size=lambda key: len(key[2]))  # (a comm is at most 256 characters)
WHAT = Memo(_what, max_entries=64, size=lambda key: 0)

# --raw-payload: a capture the flows repaired is written as it came; its notes say the repairs the HAR read it with
UNREPAIRED = " written as captured (the repairs its notes say are not in this packet: the HAR read its body with them)"
NOT_WRITTEN = " (--raw-payload: not written)"  # after the notes on bytes made up for a frame's rest eCapture lost
