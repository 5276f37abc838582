"""Issue 9's harness: ecq2pcap against text2pcap, an obvious scapy script and the read-and-decode
floor, in one run (a benchmark: it prints, asserts nothing, and is not part of the tests).

    python bench/run.py [--events 200000] [--big-events 5000] [--repeat 2]

Workloads (generated into a temp dir with bench/make_dump.py, never committed):

* ``--events`` 100-byte HTTP/1 events of v1.4 JSON, one TCP connection per exchange (as curl makes them);
* ``--big-events`` events with 16 KB bodies (the read-and-decode floor);
* the first dump and one 4× its size for peak RSS.

Figures (each conversion runs in its own process; wall time, best of ``--repeat``):

* ``convert -w`` events/s, and its ratio to text2pcap writing one packet per event of the same
  payloads (text2pcap -T -4 -n), and to a scapy script (Ether/IP/TCP/Raw per event, PcapNgWriter;
  timed on ``--scapy-events`` events);
* ``convert --har`` exchanges/s, and its ratio to text2pcap's events/s;
* ``convert -w`` of the same traffic as eCapture v2.1+ sends it (text events and connect lines, in a
  recording), against the v1.4 JSON row: what users of today's eCapture get;
* the share of a connection's own cost in ``convert -w``'s time per event: the same number of events
  with 10 exchanges per connection (a tenth of the connections) gives the cost of a connection apart
  from its events' (handshake, FIN, comments, its state in the table, the view and the sink);
* ``bench/bound.py`` events/s: the same packets written by the least pure-Python code can do (no flow
  table, repair, comments or names), the yardstick for what ecq2pcap's features cost per event;
* 16 KB events: payload MB/s of ``convert -w`` vs the floor (a typed msgspec decode of every line
  with base64 straight into bytes, nothing written);
* peak RSS of ``convert -w --har`` on the 1× and 4× dumps;
* ``convert -j 2`` vs ``-j 1`` on a ``--jobs-events`` dump, for -w, --har and both; and on two dumps of half as
  many events each converted into its own outputs (``{}`` in the output names).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import msgspec

from children import child_env

ROOT = Path(__file__).resolve().parent.parent
ENV = child_env(ROOT)  # (from bytecode compiled once, as installed: children.py)


def make_dump(path: Path, events: int, body: str, exchanges: int = 1, fmt: str = "v14") -> Path:
    if not path.exists():
        subprocess.run([sys.executable, str(ROOT / "bench" / "make_dump.py"), str(path), "--events", str(events),
                        "--body-size", body, "--exchanges", str(exchanges), "--binary-frac", "0", "--unknown-frac", "0",
                        "--nofd-frac", "0", "--reemit-frac", "0", "--format", fmt], check=True,
                       stdout=subprocess.DEVNULL)
    return path


def run(cmd: list[str], repeat: int) -> tuple[float, float]:
    """(best wall seconds, peak RSS MB of the child) of ``cmd``."""
    best, rss = float("inf"), 0.0
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        best = min(best, time.perf_counter() - start)
        rss = max(rss, usage.ru_maxrss / 1024)
        if os.waitstatus_to_exitcode(status) not in (0, 1):
            raise SystemExit(f"{cmd} failed")
    return best, rss


class _Event(msgspec.Struct):
    payload_base64: bytes = b""  # msgspec decodes the base64 into bytes


class _Envelope(msgspec.Struct):
    log_type: int
    payload: _Event | None = None


def payloads(dump: Path) -> list[bytes]:
    dec = msgspec.json.Decoder(_Envelope)
    out = []
    with open(dump, "rb") as f:
        for line in f:
            try:
                env = dec.decode(line)
            except msgspec.ValidationError:
                continue  # logs and heartbeats have other payloads
            if env.log_type == 2 and env.payload is not None:
                out.append(env.payload.payload_base64)
    return out


FLOOR_RUNS = 7  # at least: a pass takes ~0.2 s, and one best of 3 read 204 MB/s against 368 minutes later


def floor_mb_s(dump: Path, repeat: int) -> float:
    """Payload MB/s of a typed msgspec decode of every line, base64 decoded into bytes by msgspec (the best of
    :data:`FLOOR_RUNS` passes or ``repeat``, whichever is more: the ratio's denominator must not be a slow pass)."""
    best = float("inf")
    size = 0
    for _ in range(max(repeat, FLOOR_RUNS)):
        start = time.perf_counter()
        size = sum(len(p) for p in payloads(dump))
        best = min(best, time.perf_counter() - start)
    return size / best / 1e6


def text2pcap_input(events: list[bytes], path: Path) -> Path:
    with open(path, "w") as f:
        for data in events:
            for off in range(0, len(data), 16):
                f.write(f"{off:06x} " + data[off:off + 16].hex(" ") + "\n")
            f.write("\n")
    return path


def bound_rate(dump: Path, out: Path, repeat: int) -> float:
    """events/s of bench/bound.py (its own timing: no interpreter start-up)."""
    best = 0.0
    for _ in range(repeat):
        res = subprocess.run([sys.executable, str(ROOT / "bench" / "bound.py"), str(dump), str(out)], env=ENV,
                             check=True, capture_output=True, text=True)
        best = max(best, float(res.stdout.split(": ")[-1].split()[0].replace(",", "")))
    return best


def scapy_rate(events: list[bytes], out: Path) -> float:
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether
    from scapy.packet import Raw
    from scapy.utils import PcapNgWriter

    start = time.perf_counter()
    with PcapNgWriter(str(out)) as w:
        for i, data in enumerate(events):
            w.write(Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=40000 + i % 20000, dport=443,
                                                                     flags="PA") / Raw(data))
    return len(events) / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--big-events", type=int, default=5_000)
    ap.add_argument("--scapy-events", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--jobs-events", type=int, default=200_000, help="events of the -j 1 vs -j 2 dump (0: skip)")
    ap.add_argument("--keep", type=Path, help="keep the generated dumps in this folder (reused)")
    args = ap.parse_args()
    tmp = args.keep or Path(tempfile.mkdtemp(prefix="ecq2pcap-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    conv = [sys.executable, "-m", "ecq2pcap", "convert", "-q"]
    print(f"# {time.strftime('%Y-%m-%d')}  {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, load {os.getloadavg()[0]:.2f}")
    version = subprocess.run([*conv[:3], "--version"], capture_output=True, text=True, env=ENV).stdout.strip()
    print(f"# {version}  (with ECQ2PCAP_PURE_PYTHON=1 in the environment it measures the pure-Python code)")

    empty = tmp / "empty.jsonl"
    empty.write_bytes(b"")
    startup, _ = run([*conv, str(empty), "-w", str(tmp / "e.pcapng")], 3)
    print(f"start-up (an empty conversion: interpreter and imports) {startup:.2f} s, subtracted below")

    small = make_dump(tmp / f"small_{args.events}.jsonl", args.events, "100")
    events = payloads(small)
    n = len(events)
    t_pcap, _ = run([*conv, str(small), "-w", str(tmp / "o.pcapng")], args.repeat)
    t_har, _ = run([*conv, str(small), "--har", str(tmp / "o.har")], args.repeat)
    t2p_in = text2pcap_input(events, tmp / "t2p.txt")
    t_t2p, _ = run(["text2pcap", "-q", "-n", "-4", "10.0.0.1,10.0.0.2", "-T", "40000,443", str(t2p_in),
                    str(tmp / "t2p.pcapng")], args.repeat)
    sc = scapy_rate(events[:args.scapy_events], tmp / "scapy.pcapng")
    bound = bound_rate(small, tmp / "bound.pcapng", args.repeat)
    t_pcap, t_har = t_pcap - startup, t_har - startup
    eps, t2p_eps, har_xps = n / t_pcap, n / t_t2p, n / 2 / t_har
    print(f"{n} events of 100 B (v1.4 JSON, one connection per exchange)")
    print(f"  convert -w        {eps:>10,.0f} events/s   = {eps / t2p_eps:.2f}× text2pcap ({t2p_eps:,.0f}/s), "
          f"{eps / sc:.1f}× scapy ({sc:,.0f}/s)")
    print(f"  convert --har     {har_xps:>10,.0f} exchanges/s = {har_xps / t2p_eps:.3f}× text2pcap's events/s")
    print(f"  bench/bound.py    {bound:>10,.0f} events/s   = {bound / t2p_eps:.2f}× text2pcap: the same packets without "
          f"the flow table, repair, comments or names; convert -w runs at {eps / bound:.2f}× it")

    ten = make_dump(tmp / f"ten_{args.events}.jsonl", args.events, "100", exchanges=10)
    t_ten, _ = run([*conv, str(ten), "-w", str(tmp / "ten.pcapng")], args.repeat)
    t_ten -= startup
    per_conn = (t_pcap - t_ten) / (n / 2 - n / 20)  # (one-exchange connections carry 2 events; ten-exchange ones 20)
    print(f"  convert -w, 10 exchanges a connection: {n / t_ten:,.0f} events/s; a connection's own cost "
          f"{per_conn * 1e6:,.0f} µs = {per_conn / 2 / (t_pcap / n):.0%} of the time per event above")

    v2 = make_dump(tmp / f"v2_{args.events}.jsonl", args.events, "100", fmt="v2")
    t_v2, _ = run([*conv, str(v2), "-w", str(tmp / "v2.pcapng")], args.repeat)
    t_v2 -= startup
    print(f"  convert -w of the same traffic as eCapture v2.1+ sends it (text events, connect lines; a recording): "
          f"{n / t_v2:,.0f} events/s = {t_pcap / t_v2:.2f}× the v1.4 JSON row")

    big = make_dump(tmp / f"big_{args.big_events}.jsonl", args.big_events, "16k")
    big_bytes = sum(len(p) for p in payloads(big))
    t_big, _ = run([*conv, str(big), "-w", str(tmp / "big.pcapng")], args.repeat)
    floor = floor_mb_s(big, args.repeat)
    mbs = big_bytes / (t_big - startup) / 1e6
    print(f"{args.big_events} events of 16 KB: convert -w {mbs:,.1f} MB/s = {mbs / floor:.2f}× the floor "
          f"({floor:,.0f} MB/s: typed msgspec decode, base64 into bytes)")

    big4 = make_dump(tmp / f"small_{4 * args.events}.jsonl", 4 * args.events, "100")
    _, rss1 = run([*conv, str(small), "-w", str(tmp / "r1.pcapng"), "--har", str(tmp / "r1.har")], 1)
    _, rss4 = run([*conv, str(big4), "-w", str(tmp / "r4.pcapng"), "--har", str(tmp / "r4.har")], 1)
    print(f"peak RSS (-w and --har): {rss1:,.0f} MB at 1×, {rss4:,.0f} MB at 4×")
    if args.jobs_events:
        jd = make_dump(tmp / f"small_{args.jobs_events}.jsonl", args.jobs_events, "100")
        for outs, label in ((["-w", str(tmp / "j.pcapng")], "-w"), (["--har", str(tmp / "j.har")], "--har"),
                            (["-w", str(tmp / "j.pcapng"), "--har", str(tmp / "j.har")], "-w --har")):
            t1, _ = run([*conv, str(jd), *outs, "-j", "1"], 1)
            t2, _ = run([*conv, str(jd), *outs, "-j", "2"], 1)
            print(f"convert {label:<9} of {args.jobs_events:,} events: -j 1 {t1:.1f} s, -j 2 {t2:.1f} s = {t1 / t2:.2f}×")
        # batch conversion: two dumps of half as many events, each into its own outputs ({} in their names)
        half = make_dump(tmp / f"small_{args.jobs_events // 2}.jsonl", args.jobs_events // 2, "100")
        other = tmp / f"other_{args.jobs_events // 2}.jsonl"
        other.write_bytes(half.read_bytes())
        for outs, label in ((["-w", str(tmp / "{}.pcapng")], "-w"), (["--har", str(tmp / "{}.har")], "--har")):
            t1, _ = run([*conv, str(half), str(other), *outs, "-j", "1"], 1)
            t2, _ = run([*conv, str(half), str(other), *outs, "-j", "2"], 1)
            print(f"convert {label:<5} of two dumps of {args.jobs_events // 2:,} events, each into its own outputs: "
                  f"-j 1 {t1:.1f} s, -j 2 {t2:.1f} s = {t1 / t2:.2f}×")
    if not args.keep:
        for p in tmp.iterdir():
            p.unlink()
        tmp.rmdir()


if __name__ == "__main__":
    main()
