"""``live`` and ``record`` against a burst from a loopback eCaptureQ server (issue 9's live row).

The server is bench/blast_server.py, in its own process: like eCapture, it lets a client fall at most 256
messages behind (its socket send buffer holds that many; a client that cannot take a batch is dropped). It
sends a generated dump's messages (v1.4 JSON, 100-byte bodies) at a fixed rate (eCapture's producer:
``--rates``) or as fast as the socket takes them. Printed per run: messages received, seconds from the first
to the last, messages/s, the client's peak RSS, and whether the server dropped the client. Nothing is asserted.

    python bench/live_burst.py [--messages 100000] [--rates 50000,100000] [--keep DIR] [--live-only]
                               [--backlog-memory SIZE]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from children import child_env

ROOT = Path(__file__).resolve().parent.parent
ENV = child_env(ROOT)  # this checkout's ecq2pcap, installed or not, from bytecode compiled once (children.py)



def make_dump(tmp: Path, n: int) -> Path:
    path = tmp / f"burst_{n}.jsonl"
    if not path.exists():
        subprocess.run([sys.executable, str(ROOT / "bench" / "make_dump.py"), str(path), "--events", str(n),
                        "--body-size", "100", "--exchanges", "1", "--binary-frac", "0", "--unknown-frac", "0",
                        "--nofd-frac", "0", "--reemit-frac", "0"], check=True, stdout=subprocess.DEVNULL)
    return path


def one_run(dump: Path, n: int, rate: float | None, command: list[str], tmp: Path) -> str:
    rec = tmp / "rec.jsonl.gz"
    server = subprocess.Popen([sys.executable, str(ROOT / "bench" / "blast_server.py"), str(dump),
                               "--rate", str(rate or 0)], stdout=subprocess.PIPE, text=True)
    url = f"ws://127.0.0.1:{server.stdout.readline().strip()}/"
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "ecq2pcap", *command, url, "--retry-for", "0", "-q",
                             *(["--record", str(rec)] if command[0] == "live" else ["-o", str(rec)])],
                            cwd=tmp, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if returncode not in (0, 1):  # (it never connected: the server would wait for it forever)
        server.kill()
    said = json.loads(server.stdout.readline() or "{}")
    server.wait(30)
    times = _receive_times(rec)
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    rate_text = f"{rate:,.0f}/s" if rate else "at once"
    per_s = f"{len(times) / span:,.0f} msg/s" if span else "-"
    sent = f"sent at {said['sent'] / said['seconds']:,.0f}/s" if said.get("seconds") else ""
    return (f"{' '.join(command[:2]):<10} server {rate_text:<10} {sent:<18} received {len(times):,}/{n:,} in "
            f"{span:.2f} s ({per_s}), whole run {wall:.2f} s, peak RSS {usage.ru_maxrss / 1024:,.0f} MB, "
            + (f"dropped: yes, after the server's own loop paused {said.get('paused_ms')} ms" if said.get("dropped")
               else "dropped: no")
            + ("" if returncode in (0, 1) else f" [exit {returncode}: {stderr.strip()[:200]}]"))


def _receive_times(rec: Path) -> list[float]:
    with gzip.open(rec, "rt") as f:
        next(f)
        return [json.loads(line)["t"] for line in f]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--rates", default="100000,200000", help="eCapture-like fixed send rates (messages/s)")
    ap.add_argument("--keep", type=Path, help="keep the generated dump in this directory")
    ap.add_argument("--live-only", action="store_true", help="only the live -w runs")
    ap.add_argument("--backlog-memory", help="live's --max-backlog-memory (default: its own)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as t:
        tmp = args.keep or Path(t)
        tmp.mkdir(parents=True, exist_ok=True)
        dump = make_dump(tmp, args.messages)
        n = sum(1 for line in dump.open("rb") if line.startswith(b"{"))
        rates = [None] + [float(r) for r in args.rates.split(",") if r]
        live = ["live", "-w", str(tmp / "out.pcapng")]
        if args.backlog_memory:
            live += ["--max-backlog-memory", args.backlog_memory]
        for command in ([live] if args.live_only else [["record"], live]):
            for rate in rates:
                print(one_run(dump, n, rate, command, tmp), flush=True)


if __name__ == "__main__":
    main()
