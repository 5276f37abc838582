"""``live`` and ``record`` against a burst from a loopback eCaptureQ server (issue 9's live row).

The server is tests/support/fake_ecapture.py: like eCapture, it queues at most 256 messages per client and
disconnects a client that lets the queue overflow. It sends a generated dump's messages (v1.4 JSON, 100-byte
bodies) either at a fixed rate (eCapture's producer: ``--rates``) or as fast as the client reads (the most the
client can take). Printed per run: messages received, seconds from the first to the last, messages/s, and
whether the server dropped the client. Nothing is asserted.

    python bench/live_burst.py [--messages 100000] [--rates 50000,100000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import gzip
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.fake_ecapture import FakeECapture  # noqa: E402


def dump_lines(tmp: Path, n: int) -> list[str]:
    path = tmp / f"burst_{n}.jsonl"
    if not path.exists():
        subprocess.run([sys.executable, str(ROOT / "bench" / "make_dump.py"), str(path), "--events", str(n),
                        "--body-size", "100", "--exchanges", "1", "--binary-frac", "0", "--unknown-frac", "0",
                        "--nofd-frac", "0", "--reemit-frac", "0"], check=True, stdout=subprocess.DEVNULL)
    return [line for line in path.read_text().splitlines() if line.startswith('{"')][:n]


def one_run(lines: list[str], rate: float | None, command: list[str], tmp: Path) -> str:
    rec = tmp / "rec.jsonl.gz"
    with FakeECapture(script=lines, rate=rate, close_after_script=True) as fake:
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "ecq2pcap", *command, fake.url, "--retry-for", "0", "-q",
                               *(["--record", str(rec)] if command[0] == "live" else ["-o", str(rec)])],
                              cwd=tmp, capture_output=True, text=True)
        wall = time.perf_counter() - start
        drops = fake.slow_drops
    with gzip.open(rec, "rt") as f:
        got = sum(1 for _ in f) - 1  # the recording's header line
    times = _receive_times(rec)
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    rate_text = f"{rate:,.0f}/s" if rate else "as fast as read"
    per_s = f"{len(times) / span:,.0f} msg/s" if span else "-"
    return (f"{' '.join(command[:2]):<24} server {rate_text:<16} received {got:,}/{len(lines):,} in {span:.2f} s "
            f"({per_s}), whole run {wall:.2f} s, dropped by the server: {'yes' if drops else 'no'}"
            + ("" if proc.returncode in (0, 1) else f" [exit {proc.returncode}: {proc.stderr.strip()[:200]}]"))


def _receive_times(rec: Path) -> list[float]:
    import json

    with gzip.open(rec, "rt") as f:
        next(f)
        return [json.loads(line)["t"] for line in f]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--rates", default="50000,100000", help="eCapture-like fixed send rates (messages/s)")
    ap.add_argument("--keep", type=Path, help="keep the generated dump in this directory")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as t:
        tmp = args.keep or Path(t)
        tmp.mkdir(parents=True, exist_ok=True)
        lines = dump_lines(tmp, args.messages)
        rates = [None] + [float(r) for r in args.rates.split(",") if r]
        for command in (["record"], ["live", "-w", str(tmp / "out.pcapng")]):
            for rate in rates:
                print(one_run(lines, rate, command, tmp), flush=True)


if __name__ == "__main__":
    main()
