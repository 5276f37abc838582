"""Parse eCapture v1.x event uuids (protocol doc §3.1).

Forms, parsed from both ends because ``comm`` may contain ``_``, spaces, ``-``,
``/``, ``:``, UTF-8 or NUL bytes:

* openssl: ``<pid>_<tid>_<comm>_<fd>_<dt>_<tuple>``; when the socket is unknown,
  eCapture leaves its internal form ``sock:<pid>_<tid>_<comm>_<fd>_<dt>_0.0.0.0:0-0.0.0.0:0_0``.
* gnutls, nspr: ``<pid>_<tid>_<comm16raw>_<dt>`` (no fd, no tuple).
* gotls: ``<pid>_<tid>_<comm16raw>``.
* mysql, postgres: ``<pid>_<comm16raw>``.

``comm16raw`` is the kernel's 16-byte comm buffer printed with ``%s``: it always
ends in at least one NUL byte (comm is at most 15 characters).
"""

from __future__ import annotations

import re
import socket
from functools import lru_cache

from .memo import Memo
from .model import DataType, Frozen, NotedTuple, Tuple
from .payloads.numbers import MAX_DIGITS, ascii_number

UNKNOWN_TUPLE = "0.0.0.0:0-0.0.0.0:0"

PARSED_CHARS = 256  # a longer uuid or tuple is parsed but not kept (eCapture's are < 130 characters; a hostile
# one may be megabytes, and thousands are kept)

_HOST = r"(\[[0-9A-Fa-f:.%a-zA-Z]*\]|[0-9.]+)"
_TUPLE_RE = re.compile(rf"{_HOST}:(\d+)-{_HOST}:(\d+)", re.ASCII)  # \d: ASCII digits only
_V2_TUPLE_RE = re.compile(rf"{_HOST}:(\d+)->{_HOST}:(\d+)", re.ASCII)
# the v2 form for a bytes regex that reads a tuple inside a longer line (its groups: src, sport, dst, dport, as
# tuple_of takes them decoded; ASCII only, so they decode as they are)
V2_TUPLE_BYTES = _V2_TUPLE_RE.pattern.encode("ascii")
_NUMBER = rf"\d{{1,{MAX_DIGITS}}}"  # a pid, tid or fd (payloads.numbers: longer is not a number)


class UuidInfo(Frozen):
    kind: str  # "openssl", "nofd" (gnutls/nspr), "gotls", "pidcomm" (mysql/postgres)
    pid: int
    tid: int | None
    comm: str  # trailing NUL padding removed
    fd: int | None = None
    data_type: DataType | None = None
    tuple: Tuple | None = None  # None when unknown (0.0.0.0:0-0.0.0.0:0)
    sock_form: bool = False  # the unstripped "sock:..._0" form


def _quoted(text: str, limit: int = 120) -> str:
    """``text`` as a message quotes it: at most ``limit`` characters (a hostile one may be megabytes)."""
    return repr(text) if len(text) <= limit else f"{text[:limit]!r}… ({len(text)} characters)"


def parse_tuple(text: str) -> Tuple | None:
    """``a.b.c.d:p-e.f.g.h:q`` or ``[v6]:p-[v6]:q`` (v1) and ``[a]:p->[b]:q`` (v2).

    Returns None for the unknown tuple (any zero port or all-zero addresses);
    raises ValueError when the text is not a tuple at all.
    """
    return _tuple_kept(text) if len(text) <= PARSED_CHARS else _tuple(text)


def _tuple(text: str) -> Tuple | None:
    m = _TUPLE_RE.fullmatch(text) or _V2_TUPLE_RE.fullmatch(text)
    if m is None:
        raise ValueError(f"not a connection tuple: {_quoted(text)}")
    return tuple_of(m[1], m[2], m[3], m[4], text)


_new_tuple = tuple.__new__


_MAPPED = "::ffff:"  # an IPv4-mapped IPv6 address's start, as Go writes it (eCapture's tuples)
_pton, _AF_INET, _AF_INET6 = socket.inet_pton, socket.AF_INET, socket.AF_INET6


def tuple_of(src_text: str, sport_text: str, dst_text: str, dport_text: str, text: str) -> Tuple | None:
    """:func:`parse_tuple` of ``text`` from its four parts as the tuple regex found them."""
    # (a v6 address's brackets and the ports without a call each: those calls were a third of a connection's
    # first parse of its tuple; a port of at most 5 digits goes to int() as it is)
    sport = int(sport_text) if len(sport_text) <= 5 else _port(sport_text)
    dport = int(dport_text) if len(dport_text) <= 5 else _port(dport_text)
    src = src_text[1:-1] if src_text[:1] == "[" else src_text
    dst = dst_text[1:-1] if dst_text[:1] == "[" else dst_text
    if src[:7] == _MAPPED and "." in src:  # (an AF_INET6 socket's IPv4 peer, [::ffff:a.b.c.d]: IPv4 on the wire,
        src = src[7:]  # RFC 4291 §2.5.5.2, so written as IPv4 packets, found by ip.addr and --host a.b.c.d)
    if dst[:7] == _MAPPED and "." in dst:
        dst = dst[7:]
    if sport == 0 or dport == 0 or src in ("0.0.0.0", "::") or dst in ("0.0.0.0", "::"):
        return None
    if sport > 65535 or dport > 65535:
        raise ValueError(f"port out of range in tuple {_quoted(text)}")
    return checked_tuple(src, sport, dst, dport, text or f"{src_text}:{sport_text}->{dst_text}:{dport_text}")


def checked_tuple(src: str, sport: int, dst: str, dport: int, text: str = "") -> Tuple:
    """The tuple of these addresses and ports (in range), or a :class:`NotedTuple` when an address is not one a packet
    holds; ``text``: the tuple as eCapture wrote it (by default as :class:`Tuple` writes it: a v1 event's fields)."""
    v6 = ":" in src
    if v6 is (":" in dst):  # (the common case, both of one family as a packet holds them: inet_pton's, as the pcapng
        try:  # writer's; two calls, ~0.25 µs a connection, where a Memo of the addresses took ~0.6 for new ones)
            family = _AF_INET6 if v6 else _AF_INET
            _pton(family, src)
            _pton(family, dst)
            return _new_tuple(Tuple, (src, sport, dst, dport))  # (Tuple(...) runs the named tuple's Python __new__)
        except (OSError, ValueError):  # (ValueError: a NUL in it; UnicodeEncodeError is one)
            pass
    return noted_tuple(src, sport, dst, dport, text or str(Tuple(src, sport, dst, dport)))


def noted_tuple(src: str, sport: int, dst: str, dport: int, text: str) -> NotedTuple:
    """The tuple ``text`` (``src``, ``sport``, ``dst``, ``dport``) when its addresses are not two of one family as a
    packet holds them (:func:`address_kind`): unusable when one is no IP address or they are IPv4 and IPv6 (its
    connection's endpoints are invented), else written without its IPv6 zone ids; the note says which and why."""
    kinds = address_kind(src), address_kind(dst)
    said = f"the tuple eCapture gave, {_quoted(text)},"
    bad = [_quoted(a, 60) for a, kind in zip((src, dst), kinds) if kind is _NOT_IP]
    if bad:
        what = (f"{bad[0]}, which is not an IP address" if len(bad) == 1
                else f"{bad[0]} and {bad[1]}, which are not IP addresses")
        return NotedTuple.of(src, sport, dst, dport, f"{said} has {what}", True)
    if (kinds[0] is _IPV4) != (kinds[1] is _IPV4):
        return NotedTuple.of(src, sport, dst, dport, f"{said} mixes IPv4 and IPv6 addresses", True)
    zoned = " and ".join(_quoted(a, 60) for a, kind in zip((src, dst), kinds) if kind is _ZONED)
    return NotedTuple.of(src.partition("%")[0], sport, dst.partition("%")[0], dport,
                         f"{said} has an IPv6 zone id in {zoned}, which no packet holds: written without it", False)


_IPV4, _IPV6, _ZONED, _NOT_IP = "4", "6", "6%", "none"  # (address_kind's answers)


def address_kind(text: str) -> str:
    """What the address ``text`` is: IPv4 or IPv6 as a packet holds it (the pcapng writer's inet_pton takes it),
    IPv6 with a zone id (``fe80::1%eth0``: a socket's, no packet's), or none of these (``999.0.0.1``, ``zz::1``)."""
    v6 = ":" in text
    try:
        _pton(_AF_INET6 if v6 else _AF_INET, text)
        return _IPV6 if v6 else _IPV4
    except (OSError, ValueError):  # (ValueError: a NUL in it; UnicodeEncodeError is one)
        pass
    if v6:
        bare, _, zone = text.partition("%")
        if zone and "%" not in zone and address_kind(bare) is _IPV6:
            return _ZONED
    return _NOT_IP


# both directions (and every event) of a connection name the same tuple
_tuple_kept = lru_cache(maxsize=8192)(_tuple)


def _port(digits: str) -> int:
    """A tuple's port; over 65535 as a number too long for int() (which refuses 4,300 digits and more)."""
    digits = digits.lstrip("0")  # (int() refuses 4,300 digits and more, leading zeros too)
    return int(digits or "0") if len(digits) <= 5 else 1 << 20


def _digits(text: str) -> bool:
    return ascii_number(text) is not None


def _is_tuple(text: str) -> bool:
    return _TUPLE_RE.fullmatch(text) is not None


# the common openssl form, <pid>_<tid>_<comm>_<fd>_<dt>_<tuple> (the comm may hold "_"; the fd, the data type and
# the tuple hold none, so only one split matches: the lazy comm finds it trying each "_" from the left, cheaper
# than the greedy one backing off from the end over the tuple)
_OPENSSL_UUID = re.compile(rf"({_NUMBER})_({_NUMBER})_(.*?)_({_NUMBER})_([01])_({_TUPLE_RE.pattern})",
                           re.ASCII | re.DOTALL)
_DATA_TYPES = (DataType.READ, DataType.WRITE)


def parse_uuid(uuid: str) -> UuidInfo:
    """Parse one v1 uuid; raises ValueError with a user-facing reason."""
    return PARSED.known.get(uuid) or PARSED.miss(uuid)


def _parse_new(uuid: str) -> UuidInfo:
    m = _OPENSSL_UUID.fullmatch(uuid)
    if m is None:
        return parse_uuid_generally(uuid)
    # one regex instead of the general walk, which gives the same (a test holds them to it)
    pid, tid, comm, fd, dt, tuple_text, src, sport, dst, dport = m.groups()  # (one call for the ten groups)
    return _openssl(uuid, m.start(5), pid, tid, comm, fd, tuple_of(src, sport, dst, dport, tuple_text))


def _openssl(uuid: str, at: int, pid: str, tid: str, comm: str, fd: str, tup: Tuple | None) -> UuidInfo:
    """The openssl form's :class:`UuidInfo` from its parts (``at``: where its data type is), and the other
    direction's kept (its uuid differs only in its data type)."""
    write = uuid[at] == "1"
    info = UuidInfo("openssl", int(pid), int(tid), comm.rstrip("\x00"), int(fd), _DATA_TYPES[write], tup)
    if len(uuid) <= PARSED_CHARS:
        PARSED.keep(f"{uuid[:at]}{'0' if write else '1'}{uuid[at + 1:]}",
                    UuidInfo("openssl", info.pid, info.tid, info.comm, info.fd, _DATA_TYPES[not write], tup))
    return info


# An event's uuid whose end is the tuple its src_ip/src_port/dst_ip/dst_port fields name (IPv4: eCapture leaves
# them empty for IPv6 and v4-mapped tuples) needs only its start parsed: what the whole uuid's regex and
# tuple_of's parse of the tuple would give, known from the fields (a test holds the two equal): ~3.7k instructions a
# connection less. The comm ends at the uuid's third "_" from the end either way (the fd, the data type and such a
# tuple hold none).
_OPENSSL_START = re.compile(rf"({_NUMBER})_({_NUMBER})_(.*)_({_NUMBER})", re.ASCII | re.DOTALL)
_PLAIN_V4_TEXT = re.compile(r"[0-9.]+", re.ASCII)  # (_HOST's unbracketed form)
# addresses that are _HOST's unbracketed form and not the unknown one (a connection's are mostly seen before)
_PLAIN_V4 = Memo(lambda text: text != "0.0.0.0" and _PLAIN_V4_TEXT.fullmatch(text) is not None
                 and address_kind(text) is _IPV4, max_size=64)  # (999.0.0.1: tuple_of says what it is)


def parse_event_uuid(uuid: str, src_ip: str, src_port: int, dst_ip: str, dst_port: int) -> UuidInfo:
    """:func:`parse_uuid` of an event's ``uuid`` (not kept yet: the caller looked), given the event's tuple fields."""
    plain = _PLAIN_V4.known
    if (type(src_port) is int is type(dst_port) and 0 < src_port < 65536 and 0 < dst_port < 65536
            and (plain.get(src_ip) or _PLAIN_V4.miss(src_ip)) and (plain.get(dst_ip) or _PLAIN_V4.miss(dst_ip))):
        tail = f"_{src_ip}:{src_port}-{dst_ip}:{dst_port}"
        at = len(uuid) - len(tail) - 1  # (where the data type is)
        if uuid.endswith(tail) and uuid[at - 1] == "_" and uuid[at] in "01":
            m = _OPENSSL_START.fullmatch(uuid, 0, at - 1)
            if m is not None:
                pid, tid, comm, fd = m.groups()
                info = _openssl(uuid, at, pid, tid, comm, fd, _new_tuple(Tuple, (src_ip, src_port, dst_ip, dst_port)))
                PARSED.keep(uuid, info)  # (as PARSED.miss keeps it)
                return info
    return PARSED.miss(uuid)


# A connection's events repeat its two uuids (one per data type): both are kept at the first one's parse. (Read in
# place where a parse_uuid call a v1 event counts: dialects/v1_event.py.)
PARSED = Memo(_parse_new, max_entries=8192, max_size=PARSED_CHARS)


def parse_uuid_generally(uuid: str) -> UuidInfo:
    """:func:`parse_uuid` for every form eCapture writes, part by part."""
    text = uuid
    sock_form = text.startswith("sock:")
    if sock_form:
        text = text[5:]
    parts = text.split("_")
    if len(parts) < 2 or not _digits(parts[0]):
        raise ValueError(f"unparsable uuid {_quoted(uuid)}: does not start with <pid>_")
    pid = int(parts[0])

    # openssl: ..._<fd>_<dt>_<tuple>[_<sock>]
    if sock_form and len(parts) >= 2 and _digits(parts[-1]) and _is_tuple(parts[-2]):
        parts = parts[:-1]
    if len(parts) >= 6 and _is_tuple(parts[-1]):
        fd_s, dt_s = parts[-3], parts[-2]
        if not (_digits(fd_s) and dt_s in ("0", "1") and _digits(parts[1])):
            raise ValueError(f"unparsable uuid {_quoted(uuid)}: expected <pid>_<tid>_<comm>_<fd>_<dt>_<tuple>")
        return UuidInfo(
            kind="openssl",
            pid=pid,
            tid=int(parts[1]),
            comm="_".join(parts[2:-3]).rstrip("\x00"),
            fd=int(fd_s),
            data_type=DataType(int(dt_s)),
            tuple=parse_tuple(parts[-1]),
            sock_form=sock_form,
        )
    if sock_form:
        raise ValueError(f"unparsable uuid {_quoted(uuid)}: sock: form without a tuple")

    # the raw 16-byte comm ends in NUL: find the last part that holds one
    nul_at = max((i for i, p in enumerate(parts) if "\x00" in p), default=-1)
    if nul_at >= 1:
        rest = parts[nul_at + 1 :]
        if nul_at >= 2 and _digits(parts[1]) and rest in ([], ["0"], ["1"]):
            comm = "_".join(parts[2 : nul_at + 1]).rstrip("\x00")
            if rest:  # gnutls / nspr
                return UuidInfo("nofd", pid, int(parts[1]), comm, data_type=DataType(int(rest[0])))
            return UuidInfo("gotls", pid, int(parts[1]), comm)
        if not rest:  # mysql / postgres
            return UuidInfo("pidcomm", pid, None, "_".join(parts[1:]).rstrip("\x00"))
    # NUL-less fallbacks (comm already trimmed by a re-encoder)
    if len(parts) >= 4 and _digits(parts[1]) and parts[-1] in ("0", "1"):
        return UuidInfo("nofd", pid, int(parts[1]), "_".join(parts[2:-1]), data_type=DataType(int(parts[-1])))
    if len(parts) >= 3 and _digits(parts[1]):
        return UuidInfo("gotls", pid, int(parts[1]), "_".join(parts[2:]))
    raise ValueError(f"unparsable uuid {_quoted(uuid)}")
