"""A connection's packets as whole Enhanced Packet Blocks, each frame and its block made in one step.

The straightforward way — :class:`~.tcp.TcpFlow`'s frames wrapped one by one by
:func:`~.blocks.enhanced_packet` — makes the same bytes (tests/sinks/pcapng/test_packets.py holds
the two equal on random conversations). This way exists for speed: a one-exchange connection is
eight packets, and the sink spent about half its time on them. Here the bytes that are the same
for every packet of a side (the link-layer header and the IPv4 header's fixed fields, a connection's
addresses and ports, a bare segment's block head and end) are made once, per link type and direction
(:class:`_Framing`, :class:`_Bare`) or per connection (``Side.ends``), and packed as one argument each.
"""

from __future__ import annotations

import struct
from functools import partial

from ...model import Direction
from ...payloads.h2 import PREFACE
from ...speedups import compiled
from .blocks import (END_OF_OPTIONS, EPB_FLAGS, EPB_HEADER, EPB_TYPE, FLAG_INBOUND, FLAG_OUTBOUND, FLAGS_OPTION,
                     LINKTYPE_ETHERNET, OPT_COMMENT, PAD, U32, text_option)
from .checksum import INLINE_UPTO, word_sum
from .tcp import _ENDPOINTS, _IP6_TCP, ACK, FIN, MAX_MSS, PSH, SYN, TTL, WINDOW, TcpFlow, syn_options

C2S, S2C = Direction.C2S, Direction.S2C
_HEADER_LEN = {False: 40, True: 60}  # IPv4 / IPv6 header + TCP header without options
_TIME = struct.Struct("=II")  # a block's time: high, low
_EPB_TYPE, _INTERFACE = U32.pack(EPB_TYPE), U32.pack(0)  # (a block with a comment: its head as bytes, see _bare4)
_IP4_MID = struct.pack("!HBB", 0x4000, TTL, 6)  # don't fragment, TTL, protocol TCP


class _Bare:
    """A bare IPv4 segment's constants (no payload; ``options`` the same every time): the block's head up to the
    time, everything from its lengths to the IPv4 total length, and everything from the urgent pointer on
    (options and the block's end), each packed as one argument of ``block``, the whole block's one pack (with the
    time's bytes: see :func:`_bare4`). With a comment (a SYN's, a FIN's) the block's end comes apart: ``opened``
    (the head with its total length, up to the comment), then the comment, ``flags_end`` and the total length."""

    __slots__ = ("head", "lead", "block", "tail", "tcp", "ip_len", "off", "total", "flags_end", "upto", "opened")

    def __init__(self, prefix: bytes, flags_end: bytes, options: bytes) -> None:
        frame_len = len(prefix) + 40 + len(options)
        pad = PAD[frame_len & 3]
        self.total = total = 32 + frame_len + len(pad) + len(flags_end)  # (without a comment)
        self.ip_len = 40 + len(options)
        self.off = (5 + len(options) // 4) << 4  # data offset
        self.tcp = 20 + len(options) + (self.off << 8) + int.from_bytes(options, "big")  # the checksum's constant words
        self.head = struct.pack("=III", EPB_TYPE, total, 0)
        self.lead = struct.pack("=II", frame_len, frame_len) + prefix + struct.pack("!BBH", 0x45, 0, self.ip_len)
        self.tail = b"\0\0" + options + pad + flags_end + U32.pack(total)
        # (the block's head and time, both in the host's order, as bytes ahead of the network-order fields: the
        # whole block one pack)
        self.block = struct.Struct(f"!12s8s{len(self.lead)}sH4sH12sIIBBHH{len(self.tail)}s")
        self.flags_end, self.upto = flags_end, b"\0\0" + options + pad
        self.opened = struct.Struct(f"!4s4s4s8s{len(self.lead)}sH4sH12sIIBBHH{len(self.upto)}s")


class _Framing:
    """One side's constants for its blocks (the same for every connection of a MSS: see :func:`_framings`)."""

    __slots__ = ("head", "frame_len", "flags_end", "ack_len", "ack_tail", "ip4", "lead4", "ack4", "syn4")

    def __init__(self, prefix: bytes, v6: bool, flags: int, mss: int) -> None:
        # type, total length, interface, time high, time low, captured and original length; link-layer header
        self.head = struct.Struct(f"=IIIIIII{len(prefix)}s")
        self.frame_len = len(prefix) + _HEADER_LEN[v6]  # a segment without options or payload
        self.flags_end = FLAGS_OPTION.pack(EPB_FLAGS, 4, flags) + END_OF_OPTIONS
        pad = PAD[self.frame_len & 3]
        self.ack_len = 32 + self.frame_len + len(pad) + len(self.flags_end)
        self.ack_tail = pad + self.flags_end + U32.pack(self.ack_len)
        # IPv4 segments with the runs of bytes that never change as one argument each: the link-layer header
        # and the IPv4 header's first two bytes ahead of a segment's network-order fields (its block's head, in
        # the host's order, packed on its own); a bare one's (an ACK, a FIN, a SYN-ACK) in :class:`_Bare`
        self.ip4 = struct.Struct(f"!{len(prefix) + 2}sHH4sH12sIIBBHHH")
        self.lead4 = prefix + b"\x45\x00"
        self.ack4 = _Bare(prefix, self.flags_end, b"")  # (an ACK, a FIN)
        self.syn4 = _Bare(prefix, self.flags_end, syn_options(mss))  # (a SYN, a SYN-ACK: their options made once)


def _bare4(me, sh: _Bare, flags: int, seq: int, ack: int, ident: int, when: bytes, comment: str | None) -> bytes:
    """One bare IPv4 segment from side ``me`` as a whole EPB (``sh``: its constants; ``seq``, ``ack`` and the IPv4
    ``ident`` given, the side's state left to the caller; ``when``: its time packed, :data:`_TIME`):
    :meth:`PacketBlocks._bare`'s IPv4 work as a plain function (a handshake's and a close's: :func:`_exchange4`)."""
    r = (me.const + sh.tcp + flags + seq + ack) % 0xFFFF
    ri = (me.ip_const + sh.ip_len + ident) % 0xFFFF
    if comment is None:
        return sh.block.pack(sh.head, when, sh.lead, ident, _IP4_MID, 0xFFFF ^ (ri or 0xFFFF), me.ends, seq, ack,
                             sh.off, flags, WINDOW, 0xFFFF ^ (r or 0xFFFF), sh.tail)
    note = text_option(OPT_COMMENT, comment)
    total = U32.pack(sh.total + len(note))  # (at the block's start and end)
    return b"".join((sh.opened.pack(_EPB_TYPE, total, _INTERFACE, when, sh.lead, ident, _IP4_MID,
                                    0xFFFF ^ (ri or 0xFFFF), me.ends, seq, ack, sh.off, flags, WINDOW,
                                    0xFFFF ^ (r or 0xFFFF), sh.upto),
                     note, sh.flags_end, total))


def _exchange4(me, peer, first: _Bare, f1: int, second: _Bare, f2: int, third: _Bare, f3: int, t: int,
               comment: str | None) -> list[bytes]:
    """A handshake's or a close's three bare IPv4 segments, all at ``t``: ``f1`` from ``me`` (``first``: its
    constants; ``comment`` on it), ``f2`` from ``peer`` acking it, ``f3`` from ``me`` acking that; each side's
    sequence number and IPv4 ident advanced. :func:`_bare4`'s work written out three times in one call: the time
    packed once, the two sides' shared sums read once (~0.7k–1k instructions less than three :func:`_bare4` calls)."""
    mseq, pseq, mi, pi = me.seq & 0xFFFFFFFF, peer.seq & 0xFFFFFFFF, me.ident, peer.ident
    m1, p1 = (mseq + 1) & 0xFFFFFFFF, (pseq + 1) & 0xFFFFFFFF  # (each side's SYN or FIN takes one number)
    me.seq, peer.seq, me.ident, peer.ident = m1, p1, (mi + 2) & 0xFFFF, (pi + 1) & 0xFFFF
    when = _TIME.pack(t >> 32 & 0xFFFFFFFF, t & 0xFFFFFFFF)
    k, ki = me.const, me.ip_const  # (the same for both sides: see TcpFlow._start)
    ack = pseq if f1 & ACK else 0  # (a SYN acks nothing)
    r = 0xFFFF ^ ((k + first.tcp + f1 + mseq + ack) % 0xFFFF or 0xFFFF)
    ri = 0xFFFF ^ ((ki + first.ip_len + mi) % 0xFFFF or 0xFFFF)
    if comment is None:
        one = first.block.pack(first.head, when, first.lead, mi, _IP4_MID, ri, me.ends, mseq, ack, first.off, f1,
                               WINDOW, r, first.tail)
    else:
        note = text_option(OPT_COMMENT, comment)
        total = U32.pack(first.total + len(note))  # (at the block's start and end)
        one = b"".join((first.opened.pack(_EPB_TYPE, total, _INTERFACE, when, first.lead, mi, _IP4_MID, ri,
                                          me.ends, mseq, ack, first.off, f1, WINDOW, r, first.upto),
                        note, first.flags_end, total))
    r = 0xFFFF ^ ((k + second.tcp + f2 + pseq + m1) % 0xFFFF or 0xFFFF)
    ri = 0xFFFF ^ ((ki + second.ip_len + pi) % 0xFFFF or 0xFFFF)
    two = second.block.pack(second.head, when, second.lead, pi, _IP4_MID, ri, peer.ends, pseq, m1, second.off, f2,
                            WINDOW, r, second.tail)
    mi = (mi + 1) & 0xFFFF
    r = 0xFFFF ^ ((k + third.tcp + f3 + m1 + p1) % 0xFFFF or 0xFFFF)
    ri = 0xFFFF ^ ((ki + third.ip_len + mi) % 0xFFFF or 0xFFFF)
    return [one, two, third.block.pack(third.head, when, third.lead, mi, _IP4_MID, ri, me.ends, m1, p1, third.off,
                                       f3, WINDOW, r, third.tail)]


_FRAMINGS: dict[tuple[int, bool, tuple[int, int], int], tuple[_Framing, _Framing]] = {}


def _framings(flow: TcpFlow, key: tuple[int, bool, tuple[int, int], int]) -> tuple[_Framing, _Framing]:
    """Both sides' :class:`_Framing`, made for ``key`` (link type, IPv6, flags, MSS: the same for every connection
    of those) and kept in :data:`_FRAMINGS`, where :class:`PacketBlocks` looks first (without this call)."""
    if len(_FRAMINGS) >= 64:  # (a run has one or two; the tests try many MSS)
        _FRAMINGS.clear()
    c, s = flow._sides
    _, v6, flags, mss = key
    framings = _FRAMINGS[key] = (_Framing(c.prefix, v6, flags[0], mss), _Framing(s.prefix, v6, flags[1], mss))
    return framings


class PacketBlocks(TcpFlow):
    """A :class:`TcpFlow` that returns Enhanced Packet Blocks (interface 0) instead of frames.

    ``flags``: the ``epb_flags`` of the packets each side sends (C2S, S2C; by default the client's packets are the
    outbound ones). Each method takes
    the time of all its packets (``t``, in the interface's units);
    ``comment`` goes on the first packet."""

    def __init__(self, client_ip: str, client_port: int, server_ip: str, server_port: int, client_isn: int = 0,
                 server_isn: int = 0, link_type: int = LINKTYPE_ETHERNET, mss: int = MAX_MSS,
                 flags: tuple[int, int] = (FLAG_OUTBOUND, FLAG_INBOUND)) -> None:  # (by position: a keyword ~1.2k more)
        self._start(client_ip, client_port, server_ip, server_port, client_isn, server_isn, link_type, mss)
        key = (link_type, self.v6, flags, mss)
        self._framing = _FRAMINGS.get(key) or _framings(self, key)

    def _block(self, sender: int, flags: int, t: int, comment: str | None, payload=b"",
               options: bytes = b"", as_parts: bool = False) -> bytes:
        """One packet from ``sender`` (a Direction or its value) as a whole EPB timed ``t``; with ``as_parts``, an
        IPv4 one without options as the parts that joined make it (:meth:`data_block_parts`)."""
        if comment is None and not payload and not options:  # a pure ACK or FIN
            return self._bare(sender, flags, t)
        me, fr = self._sides[sender], self._framing[sender]
        n = fr.frame_len + len(options) + len(payload)
        pad = PAD[n & 3]
        opts = fr.flags_end if comment is None else text_option(OPT_COMMENT, comment) + fr.flags_end
        total = 32 + n + len(pad) + len(opts)
        if self.v6 or options:  # (IPv4 with options: no caller here, the SYN is a bare segment; kept general)
            head = fr.head.pack(EPB_TYPE, total, 0, t >> 32 & 0xFFFFFFFF, t & 0xFFFFFFFF, n, n, me.prefix)
            hdr = self._header(me, self._sides[1 - sender], flags, payload, options)
            return b"".join((head, hdr, options, payload, pad, opts, U32.pack(total)))
        # IPv4 without options (a data segment: handshakes and closes are bare segments, see _bare):
        # TcpFlow._header's work with the constant runs of bytes packed as one (see _Framing): ~1.2k
        # instructions less a packet than the head, then _header's 19 fields (the IPv6 way above)
        seq = me.seq & 0xFFFFFFFF
        ack = self._sides[1 - sender].seq & 0xFFFFFFFF if flags & ACK else 0
        k = len(payload)
        r = me.const + 0x5014 + k + seq + ack + flags  # (TCP length 20 + k, data offset 5 << 12)
        if k > INLINE_UPTO:
            r += word_sum(payload)
        elif k:
            r += int.from_bytes(payload, "big") << 8 if k & 1 else int.from_bytes(payload, "big")
        ident = me.ident
        me.ident = (ident + 1) & 0xFFFF
        ip_csum = 0xFFFF ^ ((me.ip_const + 40 + k + ident) % 0xFFFF or 0xFFFF)
        parts = (EPB_HEADER.pack(EPB_TYPE, total, 0, t >> 32 & 0xFFFFFFFF, t & 0xFFFFFFFF, n, n),
                 fr.ip4.pack(fr.lead4, 40 + k, ident, _IP4_MID, ip_csum, me.ends, seq, ack, 0x50, flags, WINDOW,
                             0xFFFF ^ (r % 0xFFFF or 0xFFFF), 0),
                 payload, pad, opts, U32.pack(total))
        return parts if as_parts else b"".join(parts)

    def _bare(self, sender: int, flags: int, t: int, comment: str | None = None) -> bytes:
        """:meth:`_block` of a packet without payload or options (an ACK or a FIN: three of a one-exchange
        connection's eight), with :meth:`TcpFlow._header`'s work written out for that
        case: ~9.3k instructions an IPv4 one (tests/sinks/pcapng/test_packets.py holds the bytes to TcpFlow's).
        With ``comment`` (a SYN's, a FIN's), the block's end is made around it (~13k instructions; :meth:`_block`'s
        general way ~19k). IPv6: without options or comment only (its callers send those through :meth:`_block`)."""
        me, fr = self._sides[sender], self._framing[sender]
        seq = me.seq & 0xFFFFFFFF
        ack = self._sides[1 - sender].seq & 0xFFFFFFFF if flags & ACK else 0
        if self.v6:
            r = (me.const + 0x5014 + flags + seq + ack) % 0xFFFF  # (TCP length 20, data offset 5 << 12)
            hdr = _IP6_TCP.pack(0x60000000, 20, 6, TTL, me.ends, seq, ack, 0x50, flags, WINDOW, 0xFFFF ^ (r or 0xFFFF),
                                0)
            return b"".join((fr.head.pack(EPB_TYPE, fr.ack_len, 0, t >> 32 & 0xFFFFFFFF, t & 0xFFFFFFFF,
                                          fr.frame_len, fr.frame_len, me.prefix), hdr, fr.ack_tail))
        ident = me.ident
        me.ident = (ident + 1) & 0xFFFF
        # (the time's bytes packed on their own: kept by time they saved a pack on v1.4's whole seconds, 4k an event,
        # but cost 9k an event of v2, whose times rarely repeat)
        return _bare4(me, fr.ack4, flags, seq, ack, ident, _TIME.pack(t >> 32 & 0xFFFFFFFF, t & 0xFFFFFFFF), comment)

    def handshake_blocks(self, t: int, comment: str | None) -> list[bytes]:
        """SYN, SYN-ACK (both announcing MSS and window scale), ACK. (IPv4: all three as bare segments, their
        options kept with the other constants.)"""
        c, s = self._sides
        if not self.v6:  # (the three bare segments in one step, not three _bare calls)
            fc, fs = self._framing
            return _exchange4(c, s, fc.syn4, SYN, fs.syn4, SYN | ACK, fc.ack4, ACK, t, comment)
        opts = syn_options(self.mss)
        out = [self._block(C2S, SYN, t, comment, options=opts)]
        c.seq += 1
        out.append(self._block(S2C, SYN | ACK, t, None, options=opts))
        s.seq += 1
        out.append(self._bare(C2S, ACK, t))
        return out

    def data_blocks(self, sender: Direction, payload: bytes, t: int, comment: str | None,
                    ack: bool = True) -> list[bytes]:
        """``payload`` from ``sender`` in segments of at most ``mss`` bytes (PSH on the last), then (with
        ``ack``) the peer's ACK of it. Empty payload: no packets."""
        n, mss, me = len(payload), self.mss, self._sides[sender]
        if not n:
            return []
        if n <= mss:
            out = [self._block(sender, ACK | PSH, t, comment, payload)]
            me.seq += n
        else:
            view, out = memoryview(payload), []
            for start in range(0, n, mss):
                piece = view[start : start + mss]
                out.append(self._block(sender, ACK | PSH if start + mss >= n else ACK, t, comment, piece))
                me.seq += len(piece)
                comment = None
        if ack:
            out.append(self._bare(1 - sender, ACK, t))
        return out

    def preface_first_blocks(self, sender: Direction, data: bytes, t: int, comment: str | None) -> list[bytes]:
        """``data``, which starts with the HTTP/2 client preface, in segments the first of which ends with the
        preface: Wireshark 4.0 read none of the client's HTTP/2 when the preface's segment also held the start of
        a frame (a small --mss)."""
        packets = self.data_blocks(sender, PREFACE, t, comment, ack=False)
        return packets + self.data_blocks(sender, data[len(PREFACE):], t, None, ack=False)

    def data_block(self, sender: Direction, payload: bytes, t: int, comment: str | None) -> bytes:
        """:meth:`data_blocks` of 1 to ``mss`` bytes without the ACK (a chunk's common case): its one block, without
        the list and the checks."""
        block = self._block(sender, ACK | PSH, t, comment, payload)
        self._sides[sender].seq += len(payload)
        return block

    def data_block_parts(self, sender: Direction, payload: bytes, t: int, comment: str | None) -> tuple | bytes:
        """:meth:`data_block` as the parts that joined make its block (IPv4; IPv6: the block): a big payload is not
        copied into a block of its own, the pcapng sink writes the parts as they are (``UnitWriter.write_parts``)."""
        block = self._block(sender, ACK | PSH, t, comment, payload, b"", True)
        self._sides[sender].seq += len(payload)
        return block

    def ack_block(self, sender: int, t: int) -> bytes:
        """A pure ACK from ``sender`` of everything its peer has sent."""
        return self._bare(sender, ACK, t)

    def close_blocks(self, first: Direction, t: int, comment: str | None) -> list[bytes]:
        """FIN/ACK from ``first``, FIN/ACK from the other side, final ACK from ``first``."""
        other = 1 - first  # (not first.other: an Enum property, ~1k instructions)
        self.closed = True
        if not self.v6:  # (IPv4: the three bare segments in one step, the first with the comment put in)
            fr = self._framing[first].ack4
            return _exchange4(self._sides[first], self._sides[other], fr, FIN | ACK, self._framing[other].ack4,
                              FIN | ACK, fr, ACK, t, comment)
        out = [self._block(first, FIN | ACK, t, comment)]  # (IPv6: the general way when it has a comment)
        self._sides[first].seq += 1
        out.append(self._bare(other, FIN | ACK, t))
        self._sides[other].seq += 1
        out.append(self._bare(first, ACK, t))
        return out


def compiled_blocks(blocks, client_ip: str, client_port: int, server_ip: str, server_port: int, client_isn: int = 0,
                    server_isn: int = 0, link_type: int = LINKTYPE_ETHERNET, mss: int = MAX_MSS,
                    flags: tuple[int, int] = (FLAG_OUTBOUND, FLAG_INBOUND)):
    """:class:`PacketBlocks` made by ``blocks`` (``_speedups.blocks``: its methods in C, the same bytes) from the
    connection's constants made here as :meth:`TcpFlow._start` makes them (a ValueError for the same addresses)."""
    key = (client_ip, server_ip, link_type)
    _, prefixes, c, s, addresses = _ENDPOINTS.known.get(key) or _ENDPOINTS.miss(key)
    return blocks(prefixes[0], prefixes[1], c, s, client_port, server_port, addresses, client_isn, server_isn, mss,
                  flags[0], flags[1])


_C = compiled()
# what the pcapng sink makes a connection's blocks with: the C methods when they were built, else PacketBlocks
packet_blocks = PacketBlocks if _C is None else partial(compiled_blocks, _C.blocks)
