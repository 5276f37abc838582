"""Sans-IO synthesis of one TCP connection as ready-to-frame link-layer packets.

Wireshark's TCP analysis stays silent (no "previous segment not captured", "ACKed
unseen segment", retransmissions or "window full") when, per direction, every
segment starts exactly where the previous one ended and every ack covers only bytes
the peer has already sent. :class:`TcpFlow` keeps that bookkeeping and builds the
headers from precompiled :class:`struct.Struct` templates with real checksums.

Checksums use the fact that 2**16 ≡ 1 (mod 0xFFFF): the ones'-complement sum of
16-bit big-endian words equals ``int.from_bytes(data, "big") % 0xFFFF`` (0 standing
for 0xFFFF when anything is non-zero, which the pseudo-header's protocol number
guarantees). Constant header words are summed once per direction, so a segment
costs one sum over its payload (:mod:`.checksum`: C when built, else ``int.from_bytes``),
one ``%`` and one ``pack``.
"""

from __future__ import annotations

import ipaddress
import socket
import struct

from ...memo import Memo
from ...model import Direction
from .blocks import LINKTYPE_ETHERNET, LINKTYPE_RAW
from .checksum import INLINE_UPTO, word_sum

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10

MAX_MSS = 65495  # 65535 - 20 (IPv4) - 20 (TCP): IPv4 total length is 16 bits
WINDOW_SCALE = 14  # largest allowed shift: advertised windows of ~1 GiB
WINDOW = 0xFFFF
TTL = 64

CLIENT_MAC = bytes.fromhex("020000000001")  # locally administered, fixed
SERVER_MAC = bytes.fromhex("020000000002")

_IP4_TCP = struct.Struct("!BBHHHBBH12sIIBBHHH")  # IPv4 header + TCP header (addresses and ports: Side.ends)
_IP6_TCP = struct.Struct("!IHBB36sIIBBHHH")  # IPv6 header + TCP header (the same)
_ENDS4, _ENDS6 = struct.Struct("!4s4sHH"), struct.Struct("!16s16sHH")  # addresses and ports
SYN_OPTIONS = struct.Struct("!BBHBBBB")  # MSS (kind 2, len 4), NOP, window scale (kind 3, len 3)


def syn_options(mss: int) -> bytes:
    """A SYN's and a SYN-ACK's TCP options: MSS, NOP, window scale."""
    return SYN_OPTIONS.pack(2, 4, mss, 1, 3, 3, WINDOW_SCALE)


_IP4_FIXED = (0x45 << 8) + 0x4000 + (TTL << 8 | 6)  # ver/ihl/tos + DF + ttl/proto words


_AF_INET, _AF_INET6, _pton = socket.AF_INET, socket.AF_INET6, socket.inet_pton
# (link type, IPv6) -> the link-layer headers of the client's and the server's packets
_PREFIXES = {(LINKTYPE_RAW, False): (b"", b""), (LINKTYPE_RAW, True): (b"", b"")}
for _v6, _ethertype in ((False, b"\x08\x00"), (True, b"\x86\xdd")):
    _PREFIXES[LINKTYPE_ETHERNET, _v6] = (SERVER_MAC + CLIENT_MAC + _ethertype, CLIENT_MAC + SERVER_MAC + _ethertype)


def _endpoints(key: tuple[str, str, int]) -> tuple[bool, tuple[bytes, bytes], bytes, bytes, int]:
    """(IPv6, link-layer headers, client and server addresses packed, their sum mod 0xFFFF) of a
    connection (``key``: client and server address, link type): the same for every connection
    between the two (kept in :data:`_ENDPOINTS`)."""
    client_ip, server_ip, link_type = key
    v6 = ":" in client_ip
    prefixes = _PREFIXES.get((link_type, v6))
    if prefixes is None:
        raise ValueError(f"unsupported link type {link_type}")
    if v6 != (":" in server_ip):
        raise ValueError(f"mixed IPv4/IPv6 endpoints: {client_ip} and {server_ip}")
    c, c_sum = _ADDRESSES.known.get(client_ip) or _ADDRESSES.miss(client_ip)
    s, s_sum = _ADDRESSES.known.get(server_ip) or _ADDRESSES.miss(server_ip)
    # the addresses' sum, the same for both directions (only its residue mod 0xFFFF matters: see checksum.py)
    return v6, prefixes, c, s, (c_sum + s_sum) % 0xFFFF


def _address(text: str) -> tuple[bytes, int]:
    """An address packed, and its sum as the checksum adds it (ValueError when it is not one)."""
    v6 = ":" in text
    try:  # (inet_pton: ~10× faster than ipaddress)
        packed = _pton(_AF_INET6 if v6 else _AF_INET, text)
    except OSError:  # what inet_pton refuses and ipaddress takes (a scoped fe80::1%eth0), or a ValueError
        packed = (ipaddress.IPv6Address if v6 else ipaddress.IPv4Address)(text).packed
    return packed, int.from_bytes(packed, "big")


# address pairs (a client talks to a few servers, again and again): the checks and the sum were ~6k of a
# connection's ~20k instructions to set up; and each address (a pair not seen yet is mostly of addresses seen: a
# proxy's clients and servers, a server's clients): inet_pton and the number, a new pair ~11.5k → ~7k. 8,192 pairs
# (~3.7 MB at most): a server's clients or a proxy's pairs, e.g. the bench's ~3,200 (250 clients × 20 servers),
# which missed 1,024 ~90 % of the time (-w 274.7k → 272.0k instructions an event, 50k−10k)
_ENDPOINTS = Memo(_endpoints, max_entries=8192, size=lambda key: len(key[0]) + len(key[1]))
_ADDRESSES = Memo(_address, max_entries=4096, size=len)


class Side:
    """Per-sender state and constants (one for each direction; both made by :meth:`TcpFlow._start`)."""

    __slots__ = ("prefix", "ends", "const", "ip_const", "seq", "ident")


_new_side = object.__new__


class TcpFlow:
    """The packets of one TCP connection, client ↔ server, in either direction.

    Every method returns a list of ``(sender, frame)`` pairs, ``sender`` being the
    :class:`~ecq2pcap.model.Direction` the packet travels (C2S: sent by the client).
    Frames are Ethernet (``LINKTYPE_ETHERNET``) or bare IP (``LINKTYPE_RAW``).
    """

    def __init__(
        self,
        client_ip: str,
        client_port: int,
        server_ip: str,
        server_port: int,
        *,
        client_isn: int = 0,
        server_isn: int = 0,
        link_type: int = LINKTYPE_ETHERNET,
        mss: int = MAX_MSS,
    ):
        self._start(client_ip, client_port, server_ip, server_port, client_isn, server_isn, link_type, mss)

    def _start(self, client_ip: str, client_port: int, server_ip: str, server_port: int, client_isn: int,
               server_isn: int, link_type: int, mss: int) -> None:
        """``__init__``'s work, by position (:class:`~.packets.PacketBlocks` calls it without keywords)."""
        if not 1 <= mss <= MAX_MSS:
            raise ValueError(f"mss must be 1..{MAX_MSS}, not {mss}")
        key = (client_ip, server_ip, link_type)
        self.v6, prefixes, c, s, addresses = _ENDPOINTS.known.get(key) or _ENDPOINTS.miss(key)
        self.mss = mss
        self.closed = False
        # the client's and the server's Side, made here (two __init__ calls were ~2.7k instructions more a
        # connection, a function making them ~0.8k)
        client, server = self._sides = _new_side(Side), _new_side(Side)
        client.prefix, server.prefix = prefixes  # link-layer headers
        # the addresses and ports as the headers hold them, source then destination, one after the other (one pack
        # each: ~1.7k instructions a connection less than the ports packed, then joined to the addresses; and no
        # attribute of each of the four, ~1k)
        ends = _ENDS4 if len(c) == 4 else _ENDS6
        client.ends = ends.pack(c, s, client_port, server_port)
        server.ends = ends.pack(s, c, server_port, client_port)
        # pseudo-header addresses (``addresses``: their sum) + protocol, ports, window: the same for every segment
        client.const = server.const = addresses + 6 + client_port + server_port + WINDOW
        client.ip_const = server.ip_const = _IP4_FIXED + addresses  # IPv4 header words that never change
        client.seq = client_isn & 0xFFFFFFFF  # next sequence number to send (as a plain int, wrapped on use)
        server.seq = server_isn & 0xFFFFFFFF
        client.ident = server.ident = 0

    # -- packets ---------------------------------------------------------------------------

    def _segment(self, sender: Direction, flags: int, payload=b"", options: bytes = b"") -> bytes:
        """One segment from ``sender``; acks everything the peer has sent (when ACK is set)."""
        me = self._sides[sender]
        hdr = self._header(me, self._sides[1 - sender], flags, payload, options)
        return b"".join((me.prefix, hdr, options, payload)) if options or payload else me.prefix + hdr

    def _header(self, me: Side, peer: Side, flags: int, payload, options: bytes) -> bytes:
        """The IP and TCP headers of a segment from ``me`` (its sequence number not yet advanced)."""
        seq = me.seq & 0xFFFFFFFF
        ack = peer.seq & 0xFFFFFFFF if flags & ACK else 0
        tcp_len = 20 + len(options) + len(payload)
        off_flags = ((5 + len(options) // 4) << 12) | flags
        total = me.const + tcp_len + seq + ack + off_flags
        if options:
            total += int.from_bytes(options, "big")
        n = len(payload)
        if n > INLINE_UPTO:
            total += word_sum(payload)
        elif n:  # (word_sum_py's first case, written out: no call, and total's % below does its work)
            total += int.from_bytes(payload, "big") << 8 if n & 1 else int.from_bytes(payload, "big")
        csum = 0xFFFF ^ (total % 0xFFFF or 0xFFFF)  # (the checksum of a sum: 0 stands for 0xFFFF)
        off, fl = off_flags >> 8, flags
        if self.v6:
            return _IP6_TCP.pack(
                0x60000000, tcp_len, 6, TTL, me.ends, seq, ack, off, fl, WINDOW, csum, 0
            )
        ident = me.ident
        me.ident = (ident + 1) & 0xFFFF
        ip_len = 20 + tcp_len
        ip_csum = 0xFFFF ^ ((me.ip_const + ip_len + ident) % 0xFFFF or 0xFFFF)
        return _IP4_TCP.pack(
            0x45, 0, ip_len, ident, 0x4000, TTL, 6, ip_csum, me.ends, seq, ack, off, fl, WINDOW, csum, 0,
        )  # fmt: skip

    def handshake(self) -> list[tuple[Direction, bytes]]:
        """SYN, SYN-ACK (both announcing MSS and window scale), ACK."""
        opts = syn_options(self.mss)
        c, s = self._sides
        out = [(Direction.C2S, self._segment(Direction.C2S, SYN, options=opts))]
        c.seq += 1
        out.append((Direction.S2C, self._segment(Direction.S2C, SYN | ACK, options=opts)))
        s.seq += 1
        out.append((Direction.C2S, self._segment(Direction.C2S, ACK)))
        return out

    def data(self, sender: Direction, payload: bytes) -> list[tuple[Direction, bytes]]:
        """``payload`` from ``sender`` in segments of at most ``mss`` bytes, PSH on the last.
        Empty payload: no packets."""
        n, mss, me = len(payload), self.mss, self._sides[sender]
        if n <= mss:
            if not n:
                return []
            frame = self._segment(sender, ACK | PSH, payload)
            me.seq += n
            return [(sender, frame)]
        view = memoryview(payload)
        out = []
        for start in range(0, n, mss):
            piece = view[start : start + mss]
            out.append((sender, self._segment(sender, ACK | PSH if start + mss >= n else ACK, piece)))
            me.seq += len(piece)
        return out

    def ack(self, sender: Direction) -> list[tuple[Direction, bytes]]:
        """A pure ACK from ``sender`` of everything its peer has sent."""
        return [(sender, self._segment(sender, ACK))]

    def close(self, first: Direction = Direction.C2S) -> list[tuple[Direction, bytes]]:
        """FIN/ACK from ``first``, FIN/ACK from the other side, final ACK from ``first``."""
        other = first.other
        out = [(first, self._segment(first, FIN | ACK))]
        self._sides[first].seq += 1
        out.append((other, self._segment(other, FIN | ACK)))
        self._sides[other].seq += 1
        out.append((first, self._segment(first, ACK)))
        self.closed = True
        return out

    def next_seq(self, sender: Direction) -> int:
        """The sequence number ``sender``'s next byte will carry."""
        return self._sides[sender].seq & 0xFFFFFFFF
