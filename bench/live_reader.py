"""What keeps ``live``'s reader from a steady rate: its own cost, or the converter's CPU time (issue 9's live row).

Runs ``live.capture`` (the loop ``live`` runs) with the real ``WebSocketSource`` against bench/blast_server.py
at a fixed rate, but with a stand-in session: each batch goes through a pipe to a child process, as in
``live``, and the child spends ``--per-message`` µs per message either asleep (``sleep``: the converter costs
the reader nothing but the hand-over) or on the CPU (``burn``; ``burn-nice``: at nice +10, as ``live``'s
converting process runs). Printed per mode: how many runs kept up (the server never dropped the reader).
Nothing is asserted.

    python bench/live_reader.py [--rate 100000] [--runs 5] [--modes sleep,burn,burn-nice] [--keep DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.live_burst import make_dump  # noqa: E402
from ecq2pcap import live  # noqa: E402
from ecq2pcap.sources.websocket import WebSocketSource  # noqa: E402


def _stand_in(conn, mode: str, per_message_s: float) -> None:
    """The converting process's stand-in: answers each batch after its time, asleep or on the CPU."""
    if mode == "burn-nice":
        os.nice(10)
    while True:
        try:
            _, batch = conn.recv()
        except EOFError:
            return
        spend = len(batch) * per_message_s
        if mode == "sleep":
            time.sleep(spend)
        else:
            end = time.perf_counter() + spend
            while time.perf_counter() < end:
                pass
        conn.send(False)


class _HandingOn(live.Session):
    def __init__(self, conn) -> None:
        super().__init__(None, None)
        self._conn = conn

    def process(self, batch) -> bool:
        self._conn.send(("process", batch))
        return self._conn.recv()

    def tick(self, now_ns: int) -> None:
        pass


def one_run(dump: Path, rate: float, mode: str, per_message_s: float) -> bool:
    """True when the reader kept up (the server did not drop it)."""
    server = subprocess.Popen([sys.executable, str(ROOT / "bench" / "blast_server.py"), str(dump), "--rate", str(rate)],
                              stdout=subprocess.PIPE, text=True)
    url = f"ws://127.0.0.1:{server.stdout.readline().strip()}/"
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_stand_in, args=(child, mode, per_message_s), daemon=True)
    proc.start()
    child.close()
    source = WebSocketSource(url, retry_for=0)
    asyncio.run(live.capture(source, _HandingOn(parent), duration=30, handle_signals=False))
    parent.close()
    proc.join(30)
    said = json.loads(server.stdout.readline() or "{}")
    server.wait(30)
    return not said.get("dropped", True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rate", type=float, default=100_000, help="the server's fixed send rate (messages/s)")
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--modes", default="sleep,burn,burn-nice")
    ap.add_argument("--per-message", type=float, default=80.0, help="the stand-in converter's µs per message")
    ap.add_argument("--keep", type=Path, help="keep the generated dump in this directory")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as t:
        tmp = args.keep or Path(t)
        tmp.mkdir(parents=True, exist_ok=True)
        dump = make_dump(tmp, args.messages)
        for mode in args.modes.split(","):
            kept = sum(one_run(dump, args.rate, mode, args.per_message / 1e6) for _ in range(args.runs))
            print(f"{mode:<10} {args.rate:,.0f} msg/s, stand-in converter {args.per_message:g} µs/message: "
                  f"kept up in {kept} of {args.runs} runs", flush=True)


if __name__ == "__main__":
    main()
