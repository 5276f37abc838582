"""Stable invented endpoints for connections whose tuple eCapture never gave.

Documentation ranges only (RFC 5737 / RFC 3849), so nobody mistakes them for real
hosts: clients in 192.0.2.0/24, servers in 198.51.100.0/24. The same key gives the
same endpoints in every run; collisions move to the next port. Only the endpoints of
open connections are remembered (:meth:`SyntheticEndpoints.release` at close), and a
key that comes back (a thread's next connection) continues after its last port, so
memory and time per allocation stay bounded however long the capture.
"""

from __future__ import annotations

import zlib

PORTS = 16384  # 49152..65535


class SyntheticEndpoints:
    def __init__(self) -> None:
        self._open: set[tuple] = set()  # (client_ip, port, server_ip) of open connections
        self._next: dict[tuple, int] = {}  # (client_ip, server_ip) -> port offset to try next

    def allocate(self, key: tuple) -> tuple[tuple[str, int], tuple[str, int]]:
        h = zlib.crc32(repr(key).encode())
        client_ip = f"192.0.2.{1 + h % 254}"
        server_ip = f"198.51.100.{1 + (h >> 8) % 254}"
        pair = (client_ip, server_ip)
        off = self._next.get(pair, (h >> 16) % PORTS)
        for _ in range(PORTS):
            if (client_ip, 49152 + off, server_ip) not in self._open:
                break
            off = (off + 1) % PORTS
        # (all 16384 ports of one address pair open at once: share one rather than loop forever)
        self._next[pair] = (off + 1) % PORTS
        port = 49152 + off
        self._open.add((client_ip, port, server_ip))
        return (client_ip, port), (server_ip, 443)

    def claim(self, client: tuple[str, int], server: tuple[str, int]) -> None:
        """Mark endpoints open again (a closed connection reopened by a late event)."""
        self._open.add((client[0], client[1], server[0]))

    def release(self, client: tuple[str, int], server: tuple[str, int]) -> None:
        self._open.discard((client[0], client[1], server[0]))
