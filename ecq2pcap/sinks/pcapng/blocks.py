"""pcapng blocks as bytes: Section Header, Interface Description, Enhanced Packet.

Pure functions, no I/O. Everything is written in the host's byte order because a
reader on a pipe (``wireshark -k -i -``) only accepts host-endian pcapng; readers of
files accept either order (the byte-order magic tells them).

Layout reference: draft-ietf-opsawg-pcapng (blocks §4.1–4.3, options §3.5).
"""

from __future__ import annotations

import struct
from functools import lru_cache

from ... import __version__

LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101  # raw IPv4/IPv6, no link-layer header

SHB_TYPE = 0x0A0D0D0A
IDB_TYPE = 0x00000001
EPB_TYPE = 0x00000006
BYTE_ORDER_MAGIC = 0x1A2B3C4D

OPT_ENDOFOPT = 0
OPT_COMMENT = 1
SHB_HARDWARE = 2
SHB_OS = 3
SHB_USERAPPL = 4
IF_NAME = 2
IF_DESCRIPTION = 3
IF_TSRESOL = 9
EPB_FLAGS = 2

FLAG_INBOUND = 1  # epb_flags bits 0-1: packet direction
FLAG_OUTBOUND = 2

MAX_OPTION_LEN = 0xFFFF - 3  # option length is 16 bits; keep the padded length in range too

U32 = struct.Struct("=I")
_OPT_HDR = struct.Struct("=HH")
END_OF_OPTIONS = _OPT_HDR.pack(OPT_ENDOFOPT, 0)
FLAGS_OPTION = struct.Struct("=HHI")  # code, length 4, value
_BLOCK_HDR = struct.Struct("=II")  # type, total length
_SHB_BODY = struct.Struct("=IHHq")  # magic, major, minor, section length (-1: unknown)
_IDB_BODY = struct.Struct("=HHI")  # link type, reserved, snaplen
EPB_HEADER = struct.Struct("=IIIIIII")  # type, total len, interface, ts high, ts low, caplen, origlen
PAD = (b"", b"\0\0\0", b"\0\0", b"\0")  # indexed by len % 4


def option(code: int, value: bytes) -> bytes:
    """One option: code, unpadded length, value, zero padding to 32 bits."""
    if len(value) > MAX_OPTION_LEN:
        raise ValueError(f"pcapng option {code} too long ({len(value)} bytes)")
    return _OPT_HDR.pack(code, len(value)) + value + PAD[len(value) & 3]


def text_option(code: int, text: str) -> bytes:
    """A UTF-8 string option. Any Python text is accepted: unencodable characters (lone
    surrogates) are replaced, a NUL is written as the four characters ``\\x00`` (Wireshark ends a comment at its
    first NUL: what followed it was not shown), and text too long for the 16-bit length is cut at a character
    boundary."""
    data = text.encode("utf-8", "replace")
    if 0 in data:  # (a NUL byte: b"\0" in data first tries its operand as an int, and that error cost ~2k instructions)
        data = data.replace(b"\0", b"\\x00")
    n = len(data)
    if n > MAX_OPTION_LEN:
        data = data[:MAX_OPTION_LEN].decode("utf-8", "ignore").encode("utf-8")
        n = len(data)
    # (option's packing without its length check, which cannot fail here, and its call: every comment comes here)
    return b"".join((_OPT_HDR.pack(code, n), data, PAD[n & 3]))


def _options(opts: list[bytes]) -> bytes:
    """Options followed by opt_endofopt, or nothing when there are none."""
    return b"".join(opts) + END_OF_OPTIONS if opts else b""


def _block(block_type: int, body: bytes) -> bytes:
    """Frame a block body (already 32-bit aligned) with both total-length fields."""
    total = 12 + len(body)
    return _BLOCK_HDR.pack(block_type, total) + body + U32.pack(total)


def section_header(*, userappl: str | None = None, os: str | None = None, hardware: str | None = None) -> bytes:
    """Section Header Block (version 1.0, section length unknown)."""
    opts = []
    if hardware:
        opts.append(text_option(SHB_HARDWARE, hardware))
    if os:
        opts.append(text_option(SHB_OS, os))
    opts.append(text_option(SHB_USERAPPL, userappl if userappl is not None else f"ecq2pcap {__version__}"))
    return _block(SHB_TYPE, _SHB_BODY.pack(BYTE_ORDER_MAGIC, 1, 0, -1) + _options(opts))


def interface_description(
    link_type: int, *, name: str = "ecapture", description: str | None = None, tsresol: int = 9
) -> bytes:
    """Interface Description Block. Snaplen 0 means no limit; ``tsresol`` 9 means
    timestamps count nanoseconds (the default, 6, would be microseconds)."""
    opts = [text_option(IF_NAME, name)]
    if description:
        opts.append(text_option(IF_DESCRIPTION, description))
    opts.append(option(IF_TSRESOL, bytes((tsresol,))))
    return _block(IDB_TYPE, _IDB_BODY.pack(link_type, 0, 0) + _options(opts))


@lru_cache(maxsize=16)
def _flags_only(flags: int) -> bytes:
    return FLAGS_OPTION.pack(EPB_FLAGS, 4, flags) + END_OF_OPTIONS


def enhanced_packet(
    frame: bytes, time_ns: int, *, interface_id: int = 0, comment: str | None = None, flags: int | None = None
) -> bytes:
    """Enhanced Packet Block for one whole frame (captured length = original length).

    ``time_ns`` is in units of the interface's resolution (nanoseconds with
    :func:`interface_description`'s default). ``comment`` becomes Wireshark's
    ``frame.comment``; ``flags`` is ``epb_flags`` (:data:`FLAG_INBOUND` /
    :data:`FLAG_OUTBOUND` set ``frame.packet_flags_direction``).
    """
    n = len(frame)
    if comment is None:  # most packets: the options are the direction flags alone, built once per value
        opts = b"" if flags is None else _flags_only(flags)
    else:
        opts = text_option(OPT_COMMENT, comment) + (
            FLAGS_OPTION.pack(EPB_FLAGS, 4, flags) if flags is not None else b"") + END_OF_OPTIONS
    pad = PAD[n & 3]
    total = 32 + n + len(pad) + len(opts)
    return b"".join(
        (
            EPB_HEADER.pack(EPB_TYPE, total, interface_id, (time_ns >> 32) & 0xFFFFFFFF, time_ns & 0xFFFFFFFF, n, n),
            frame,
            pad,
            opts,
            U32.pack(total),
        )
    )
