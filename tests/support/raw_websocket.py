"""The server side of RFC 6455 by hand, for peers that must be able to break it: the opening handshake and
unmasked server→client frames (tests/sources/test_hostile_peers.py, test_direct.py, bench/blast_server.py)."""

from __future__ import annotations

import base64
import hashlib
import socket
import struct
import threading

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def frame(opcode: int, payload: bytes, *, announce: int | None = None, fin: bool = True) -> bytes:
    """A server→client frame (unmasked); ``announce`` lies about the payload length; ``fin=False``: a message
    continues in the next frame (opcode 0)."""
    n = len(payload) if announce is None else announce
    first = (0x80 if fin else 0) | opcode
    if n < 126:
        head = struct.pack("!BB", first, n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", first, 126, n)
    else:
        head = struct.pack("!BBQ", first, 127, n)
    return head + payload


def handshake(conn: socket.socket, then: bytes = b"") -> None:
    """Read the client's opening handshake and accept it (101); ``then``: frames sent in the same write."""
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
                 b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n" + then)


def end_sending(conn: socket.socket, timeout: float = 5.0) -> None:
    """Say the server has sent all (FIN), then read what the client still sends (its pongs, its close frame) until
    it closes: a socket closed with unread data sends a reset, and the client's kernel then drops what the client
    had received but not read yet."""
    conn.shutdown(socket.SHUT_WR)
    conn.settimeout(timeout)
    try:
        while conn.recv(65536):
            pass
    except OSError:
        pass


class RawServer:
    """Accepts one connection on 127.0.0.1, runs ``behave(sock)`` on it, then stops listening (so the
    client's reconnects are refused and it gives up)."""

    def __init__(self, behave) -> None:
        self.behave = behave
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"ws://127.0.0.1:{self.listener.getsockname()[1]}/"
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        finally:
            self.listener.close()
        with conn:
            try:
                self.behave(conn)
            except OSError:
                pass
        self.done.set()

    def __enter__(self) -> "RawServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.listener.close()
        self.thread.join(5)
