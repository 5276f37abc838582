"""Name Resolution Blocks: server addresses → the host names clients asked for.

Wireshark and ``tshark -N n`` show these names in place of the addresses for the
packets that follow the block (pcapng allows an NRB anywhere, so names learned during
a live run go into later blocks). Each address is named once, by the first name seen
for it: a packet list can show only one name per address.

Layout reference: draft-ietf-opsawg-pcapng §4.5 (records nrb_record_ipv4 = 1,
nrb_record_ipv6 = 2, nrb_record_end = 0; host byte order like the other blocks).
"""

from __future__ import annotations

import ipaddress
import struct

from ...limits import DEFAULT_LIMITS

__all__ = ["NameBook", "name_resolution_block"]

NRB_TYPE = 0x00000004
_REC = struct.Struct("=HH")
_U32 = struct.Struct("=I")
_BLOCK_HDR = struct.Struct("=II")
MAX_NAME = 255


def name_resolution_block(records: list[tuple[str, str]]) -> bytes:
    """One NRB naming each ``(ip address, name)``; addresses must be IP literals."""
    body = []
    for address, name in records:
        ip = ipaddress.ip_address(address)
        value = ip.packed + name.encode("utf-8")[:MAX_NAME] + b"\0"
        body.append(_REC.pack(1 if ip.version == 4 else 2, len(value)) + value + b"\0" * (-len(value) % 4))
    body.append(_REC.pack(0, 0))
    data = b"".join(body)
    total = 12 + len(data)
    return _BLOCK_HDR.pack(NRB_TYPE, total) + data + _U32.pack(total)


class NameBook:
    """Remembers which addresses were named; :meth:`block` gives an NRB for a new one, else None.
    At most ``max_names`` are named (each is kept for the rest of the file): once :attr:`full`, a new
    address is not named."""

    def __init__(self, max_names: int = DEFAULT_LIMITS.named_addresses) -> None:
        self.names: dict[str, str] = {}  # address -> its name (read only: an address in it gets no block)
        self.max_names = max_names
        self.full = False
        self.said = False  # (the sink's: whether it said so)

    def __len__(self) -> int:
        return len(self.names)

    def block(self, address: str, name: str) -> bytes | None:
        if address in self.names or not name or name == address:
            return None
        if len(self.names) >= self.max_names:
            self.full = True
            return None
        try:
            block = name_resolution_block([(address, name)])
        except ValueError:  # not an IP literal
            return None
        self.names[address] = name
        return block
