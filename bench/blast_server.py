"""A minimal eCaptureQ stand-in that can send faster than the client reads (for bench/live_burst.py).

One process, one client: answers the WebSocket handshake, then sends the lines of a file as text frames at
``--rate`` messages/s (0: as fast as the socket takes them). As eCapture does, messages wait in a per-client
queue of ``--queue`` (256) messages until the socket takes them (kernel buffers as usual), and a client whose
queue overflows is dropped. Each turn hands the socket all it takes (eCapture's writer goroutine drains the
queue while its hub fills it), so a client is dropped only when its socket buffers are full: when it is behind.
Prints one JSON line: sent, seconds, dropped (and, when dropped, how long the server's own loop had paused
just before: on a machine with few CPUs the server is descheduled too, and then sends a burst).
"""

from __future__ import annotations

import argparse
import json
import select
import socket
import sys
import time
from collections import deque
from itertools import islice
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support.raw_websocket import frame, handshake  # noqa: E402  (the tests' hand-written server side)


def _paced(conn: socket.socket, frames: list[bytes], rate: float, limit: int,
           start: float) -> tuple[int, bool, float]:
    """Send ``frames`` at ``rate``/s, one thread, non-blocking: a frame waits in the queue until the kernel takes
    it (the client's socket buffers full means the client is behind); more than ``limit`` waiting once the
    kernel takes no more: dropped. (Until 2026-12-05 a turn sent at most 64 frames before counting: after a pause
    of this loop itself, ~350 frames produced at once dropped even a client that was keeping up.)
    (eCapture's queue and writer are goroutines; two Python threads here would make the GIL's turns, not the
    client, decide when the queue overflows.) Also returns how long this loop itself had paused (descheduled)
    before the turn that dropped the client, in seconds (0 when not dropped)."""
    conn.setblocking(False)
    waiting: deque[bytes] = deque()  # produced, not yet taken by the kernel (the first maybe in part)
    produced = 0
    last = time.perf_counter()
    while produced < len(frames) or waiting:
        now = time.perf_counter()
        pause, last = now - last, now
        due = min(len(frames), int((now - start) * rate) + 1)
        waiting.extend(frames[produced:due])
        produced = max(produced, due)
        full = False
        while waiting and not full:  # (as eCapture's writer: whatever the kernel takes, until it takes no more)
            try:
                batch = b"".join(islice(waiting, 64))
                n = conn.send(batch)
            except BlockingIOError:
                n = 0
            except OSError:
                return produced - len(waiting), True, 0.0
            full = n < len(batch)
            while n and n >= len(waiting[0]):
                n -= len(waiting.popleft())
            if n:
                waiting[0] = waiting[0][n:]
        if len(waiting) > limit:
            return produced - len(waiting), True, pause
        if produced < len(frames):
            time.sleep(0.0002)
        elif waiting:
            select.select([], [conn], [], 0.01)
    conn.setblocking(True)
    return produced, False, 0.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("lines", help="file: one message per line")
    ap.add_argument("--rate", type=float, default=0.0)
    ap.add_argument("--queue", type=int, default=256)
    a = ap.parse_args()
    frames = [frame(1, line) for line in open(a.lines, "rb").read().splitlines() if line.startswith(b"{")]
    listener = socket.create_server(("127.0.0.1", 0))
    print(listener.getsockname()[1], flush=True)  # the port, for the caller
    conn, _ = listener.accept()
    listener.close()
    handshake(conn)
    sent, dropped, pause, start = 0, False, 0.0, time.perf_counter()
    if a.rate <= 0:
        conn.sendall(b"".join(frames))
        sent = len(frames)
    else:
        sent, dropped, pause = _paced(conn, frames, a.rate, a.queue, start)
    seconds = time.perf_counter() - start
    if not dropped:
        conn.sendall(b"\x88\x02\x03\xe8")  # close 1000: eCapture exits
        try:  # the client's close frame, then the server closes the TCP connection (RFC 6455 §7.1.1)
            conn.settimeout(30)
            conn.recv(65536)
        except OSError:
            pass
    conn.close()
    said = {"sent": sent, "seconds": round(seconds, 3), "dropped": dropped}
    if dropped:
        said["paused_ms"] = round(pause * 1e3, 2)  # the server's own loop, just before the drop
    print(json.dumps(said), flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
