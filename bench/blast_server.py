"""A minimal eCaptureQ stand-in that can send faster than the client reads (for bench/live_burst.py).

One process, one client: answers the WebSocket handshake, then sends the lines of a file as text frames at
``--rate`` messages/s (0: as fast as the socket takes them), in batches every millisecond. As eCapture does, a
producer puts messages into a per-client queue of ``--queue`` (256) messages without waiting, a writer thread
sends them with blocking writes (kernel buffers as usual), and a client whose queue overflows is dropped.
Prints one JSON line: sent, seconds, dropped.
"""

from __future__ import annotations

import argparse
import json
import queue
import socket
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support.raw_websocket import frame, handshake  # noqa: E402  (the tests' hand-written server side)


def _write(conn: socket.socket, q: "queue.Queue") -> None:
    """The per-client writer: blocking writes of what the queue holds (batched, as fast as the socket takes)."""
    while True:
        batch = [q.get()]
        while True:
            try:
                batch.append(q.get_nowait())
            except queue.Empty:
                break
        done = batch[-1] is None
        try:
            conn.sendall(b"".join(f for f in batch if f is not None))
        except OSError:
            return
        if done:
            return


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
    sent, dropped, start = 0, False, time.perf_counter()
    if a.rate <= 0:
        conn.sendall(b"".join(frames))
        sent = len(frames)
    else:
        q: queue.Queue = queue.Queue(maxsize=a.queue)
        writer = threading.Thread(target=_write, args=(conn, q), daemon=True)
        writer.start()
        while sent < len(frames) and not dropped:
            due = min(len(frames), int((time.perf_counter() - start) * a.rate) + 1)
            while sent < due:
                try:
                    q.put_nowait(frames[sent])
                except queue.Full:  # the client is more than the queue behind: eCapture drops it
                    dropped = True
                    break
                sent += 1
            time.sleep(0.0005)
        if not dropped:
            q.put(None)
            writer.join(60)
    seconds = time.perf_counter() - start
    if not dropped:
        conn.sendall(b"\x88\x02\x03\xe8")  # close 1000: eCapture exits
        try:  # the client's close frame, then the server closes the TCP connection (RFC 6455 §7.1.1)
            conn.settimeout(30)
            conn.recv(65536)
        except OSError:
            pass
    conn.close()
    print(json.dumps({"sent": sent, "seconds": round(seconds, 3), "dropped": dropped}), flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
