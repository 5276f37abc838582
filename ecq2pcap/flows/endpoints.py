"""Stable invented endpoints for connections whose tuple eCapture never gave.

Documentation ranges only (RFC 5737 / RFC 3849), so nobody mistakes them for real
hosts: clients in 192.0.2.0/24, servers in 198.51.100.0/24. The same key gives the
same endpoints in every run; collisions move to the next port.
"""

from __future__ import annotations

import zlib


class SyntheticEndpoints:
    def __init__(self) -> None:
        self._used: set[tuple] = set()

    def allocate(self, key: tuple) -> tuple[tuple[str, int], tuple[str, int]]:
        h = zlib.crc32(repr(key).encode())
        client_ip = f"192.0.2.{1 + h % 254}"
        server_ip = f"198.51.100.{1 + (h >> 8) % 254}"
        port = 49152 + (h >> 16) % 16384
        while (client_ip, port, server_ip) in self._used:
            port = 49152 + (port - 49152 + 1) % 16384
        self._used.add((client_ip, port, server_ip))
        return (client_ip, port), (server_ip, 443)
