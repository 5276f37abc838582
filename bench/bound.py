"""The least a pure-Python converter of run.py's workload can do: a yardstick, not a converter.

Per event it decodes the line (msgspec, base64 into bytes inside the decoder), finds the connection
by its uuid in a dict, and writes what ``convert -w`` writes for it: the handshake on a connection's
first event, the peer's pure ACK when the same side sends twice in a row, the data segment, and at the
end FIN, FIN, ACK; every packet an EPB
holding Ethernet + IPv4 + TCP with real checksums, built from ``struct`` templates into one buffer.
It leaves out everything that makes ecq2pcap right rather than fast: the reorder window, roles,
placement, HTTP/1 framing repair, comments, host names, direction flags, limits, error handling.
Only the v1.4 JSON openssl events of ``make_dump.py`` (client side, requests first) are understood.

    python bench/bound.py DUMP.jsonl OUT.pcapng      # prints events/s

``run.py`` prints it beside ``convert -w``: the gap between the two is what the features cost in
this design, and the bound's ratio to text2pcap is the most any per-event pure-Python design gets.
"""

from __future__ import annotations

import socket
import struct
import sys
import time

import msgspec


class _Event(msgspec.Struct):
    uuid: str = ""
    timestamp: int = 0
    src_ip: str = ""
    src_port: int = 0
    dst_ip: str = ""
    dst_port: int = 0
    payload_base64: bytes = b""


class _Envelope(msgspec.Struct):
    log_type: int
    payload: msgspec.Raw = msgspec.Raw(b"null")


_envelope = msgspec.json.Decoder(_Envelope)
_event = msgspec.json.Decoder(_Event)
_FRAME = struct.Struct("!14sBBHHHBBH4s4sHHIIBBHHH")  # Ethernet, IPv4, TCP headers
_EPB = struct.Struct("=IIIIIII")
_U32 = struct.Struct("=I")
_PAD = (b"", b"\0\0\0", b"\0\0", b"\0")
_ETHERNET = bytes(12) + b"\x08\x00"
_SHB = bytes.fromhex("0a0d0d0a1c0000004d3c2b1a01000000ffffffffffffffff1c000000")
_IDB = bytes.fromhex("01000000200000000100000000000000090001000900000000000000" "20000000")
SYN, FIN, ACK, PSH = 0x02, 0x01, 0x10, 0x08


class _Conn:
    __slots__ = ("addr", "port", "seq", "addr_sum", "ident", "owed")


def _checksum(total: int) -> int:
    r = total % 0xFFFF
    return 0xFFFF ^ (r or 0xFFFF)


def _packet(out: bytearray, c: _Conn, d: int, flags: int, payload: bytes, t: int) -> None:
    src, dst, sport, dport = c.addr[d], c.addr[1 - d], c.port[d], c.port[1 - d]
    seq, ack, n = c.seq[d], (c.seq[1 - d] if flags & ACK else 0), len(payload)
    total = c.addr_sum + 6 + sport + dport + 0xFFFF + 20 + n + seq + ack + (0x5000 | flags)
    if n:
        total += int.from_bytes(payload, "big") << (8 if n & 1 else 0)
    ident = c.ident = (c.ident + 1) & 0xFFFF
    ip_sum = _checksum(0x4500 + 0x4000 + 0x4006 + c.addr_sum + 40 + n + ident)
    frame = _FRAME.pack(_ETHERNET, 0x45, 0, 40 + n, ident, 0x4000, 64, 6, ip_sum, src, dst, sport, dport,
                        seq, ack, 0x50, flags, 0xFFFF, _checksum(total), 0)
    size = 54 + n
    pad = _PAD[size & 3]
    length = 32 + size + len(pad)
    out += _EPB.pack(6, length, 0, t >> 32, t & 0xFFFFFFFF, size, size)
    out += frame
    out += payload
    out += pad
    out += _U32.pack(length)
    c.seq[d] = (seq + n + (1 if flags & (SYN | FIN) else 0)) & 0xFFFFFFFF


def convert(dump: str, pcapng: str) -> int:
    """Returns the number of events converted."""
    conns: dict[str, _Conn] = {}
    out = bytearray(_SHB + _IDB)
    events, t = 0, 0
    with open(dump, "rb") as f, open(pcapng, "wb") as w:
        for line in f:
            env = _envelope.decode(line)
            if env.log_type != 2:
                continue
            ev = _event.decode(env.payload)
            uuid = ev.uuid  # <pid>_<tid>_<comm>_<fd>_<direction>_<tuple>
            cut = uuid.rfind("_", 0, uuid.rfind("_"))
            d = 0 if uuid[cut + 1] == "1" else 1  # the client's writes go client → server
            t = ev.timestamp * 1_000_000_000
            c = conns.get(uuid[:cut])
            if c is None:
                c = conns[uuid[:cut]] = _Conn()
                c.addr = (socket.inet_aton(ev.src_ip), socket.inet_aton(ev.dst_ip))
                c.port, c.seq, c.ident, c.owed = (ev.src_port, ev.dst_port), [1000, 2000], 0, None
                c.addr_sum = sum(int.from_bytes(a, "big") % 0xFFFF for a in c.addr)
                _packet(out, c, 0, SYN, b"", t)
                _packet(out, c, 1, SYN | ACK, b"", t)
                _packet(out, c, 0, ACK, b"", t)
            if c.owed is not None and c.owed != d:  # the same side sends again: its peer acks first
                _packet(out, c, c.owed, ACK, b"", t)
            _packet(out, c, d, PSH | ACK, ev.payload_base64, t)
            c.owed = 1 - d
            events += 1
            if len(out) >= 1 << 20:
                w.write(out)
                out.clear()
        for c in conns.values():
            _packet(out, c, 0, FIN | ACK, b"", t)
            _packet(out, c, 1, FIN | ACK, b"", t)
            _packet(out, c, 0, ACK, b"", t)
        w.write(out)
    return events


if __name__ == "__main__":
    start = time.perf_counter()
    n = convert(sys.argv[1], sys.argv[2])
    took = time.perf_counter() - start
    print(f"{n} events in {took:.2f} s: {n / took:,.0f} events/s")
