"""The server side of RFC 6455 by hand, for peers that must be able to break it: the opening handshake and
unmasked server→client frames (tests/sources/test_hostile_peers.py, bench/blast_server.py)."""

from __future__ import annotations

import base64
import hashlib
import socket
import struct

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def frame(opcode: int, payload: bytes, *, announce: int | None = None) -> bytes:
    """A server→client frame (unmasked); ``announce`` lies about the payload length."""
    n = len(payload) if announce is None else announce
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return head + payload


def handshake(conn: socket.socket) -> None:
    """Read the client's opening handshake and accept it (101)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            raise OSError("client went away")
        data += chunk
    key = next(line.split(b":", 1)[1].strip() for line in data.split(b"\r\n")
               if line.lower().startswith(b"sec-websocket-key:"))
    accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
    conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")
