"""End-to-end conversion benchmark: throughput, peak memory, scaling (asserts nothing).

    python bench/bench_convert.py [--quick | --full] [--keep DIR] [--repeat N]
    python bench/bench_convert.py --profile [DUMP[:MODE]] [--quick]   # cProfile one conversion in-process

Generates synthetic eCapture dumps with ``bench/make_dump.py`` in a temp dir, then runs every
conversion in its own child process (``ecq2pcap.cli.main([...])`` after ``cli.tune_gc()``, what
``python -m ecq2pcap convert`` runs) so that wall time, CPU time (``os.wait4``) and peak RSS (the child's own ``VmHWM``; not
``ru_maxrss``, which Linux seeds with the forking parent's peak) are per run. Payload MB/s counts the event bytes eCapture sent
(decoded from base64). "net" times subtract the start-up of an empty conversion (interpreter +
imports), measured first.

Sections:

1. throughput: pcapng only / HAR only / both, on dumps of several sizes (default: 10k events with
   100 B and 16 KB bodies, 100k events with 100 B bodies; v14 JSON, plus one v15 protobuf dump, and two
   1 KB HTTP/1 + HTTP/2 mixes: v14 (HTTP/2 as eCapture v1's text dump) and v2.5 (text events));
2. bounded memory: the same spread-out traffic converted with ``--idle-timeout 5`` (connections end
   as the dump goes on; 2 % nspr-style "Socket Thread" connections without a tuple and 2 % with
   eCapture's unknown tuple first), and dumps whose processes reuse their fds (connections end by fd
   reuse under the default idle timeout). Peak RSS should stay flat while the dump grows 10× when
   nothing outlives its connection;
3. ratios: HAR cost vs pcapng, and small → big scaling of time and peak RSS per mode.

Default run ≈ 3 minutes on a quiet 2-CPU machine; ``--quick`` ≈ 1.5 minutes (5k/50k events); ``--full``
adds HAR-only and fd-reuse with both outputs on the big dump, 100k × 16 KB, and a 1M-event (100×)
bounded-memory run (≈ 20 minutes). Numbers are noisy when other
processes compete for the CPU: the load average is printed first; ``--repeat`` keeps the fastest.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import make_dump  # noqa: E402
from children import child_env  # noqa: E402

MODES = {
    "pcapng": lambda d: ["-w", str(d / "out.pcapng")],
    "har": lambda d: ["--har", str(d / "out.har")],
    "both": lambda d: ["-w", str(d / "out.pcapng"), "--har", str(d / "out.har")],
}


@dataclass
class DumpSpec:
    name: str
    events: int
    body: str
    fmt: str = "v14"
    extra: dict | None = None  # more make_dump.generate() arguments


@dataclass
class Run:
    dump: str
    mode: str
    flags: str
    events: int
    payload_mb: float
    wall: float
    cpu: float
    rss_mb: float
    summary: dict


def plan(profile: str) -> tuple[list[DumpSpec], list[tuple[str, str]], list[tuple[str, str, str]]]:
    """(dumps, throughput runs (dump, mode), bounded-memory runs (dump, mode, flags))."""
    small, big = (5_000, 50_000) if profile == "quick" else (10_000, 100_000)
    k = lambda n: f"{n // 1000}k"  # noqa: E731
    mixed = {"nofd_frac": 0.02, "unknown_frac": 0.02}  # closes, reopens, adopted and synthetic tuples
    dumps = [
        DumpSpec(f"{k(small)}/100B", small, "100", extra=mixed),
        DumpSpec(f"{k(small)}/16KB", small, "16384", extra=mixed),
        DumpSpec(f"{k(big)}/100B", big, "100", extra=mixed),
        DumpSpec(f"{k(small)}/16KB/v15", small, "16384", fmt="v15", extra=mixed),
        DumpSpec(f"{k(small)}/100B/fdreuse", small, "100", extra={"fd_reuse": True}),
        DumpSpec(f"{k(big)}/100B/fdreuse", big, "100", extra={"fd_reuse": True}),
        # HTTP/2 mixes: eCapture v1's text dumps of the frames (re-encoded) and v2.5's bytes of each call
        DumpSpec(f"{k(small)}/1KB/h2mix", small, "1024", extra={**mixed, "http2_frac": 0.5}),
        DumpSpec(f"{k(small)}/1KB/v2/h2mix", small, "1024", fmt="v2", extra={"http2_frac": 0.5}),
    ]
    full = profile == "full"
    big_modes = list(MODES) if full else ["pcapng", "both"]  # (HAR alone on the big dump: --full)
    fd_mode = "both" if full else "pcapng"  # fd reuse ends connections in the flow table
    throughput = ([(d.name, m) for d in dumps[:2] for m in MODES] + [(dumps[2].name, m) for m in big_modes]
                  + [(dumps[3].name, "both"), (dumps[6].name, "both"), (dumps[7].name, "both")])
    bounded = [
        (dumps[0].name, "both", "--idle-timeout 5"),
        (dumps[2].name, "both", "--idle-timeout 5"),
        (dumps[4].name, fd_mode, ""),  # default idle timeout: fd reuse closes the connections
        (dumps[5].name, fd_mode, ""),
    ]
    if full:
        dumps.append(DumpSpec("100k/16KB", 100_000, "16384", extra=mixed))
        dumps.append(DumpSpec("1000k/100B", 1_000_000, "100", extra=mixed))
        throughput += [("100k/16KB", m) for m in MODES]
        bounded.append(("1000k/100B", "both", "--idle-timeout 5"))
    return dumps, throughput, bounded


# ------------------------------------------------------------------------------ running


# The child runs ecq2pcap.cli.main in-process and reports its own peak RSS (VmHWM). Not
# ru_maxrss from wait4: Linux carries the forking parent's high-water mark over exec into the
# child's ru_maxrss, so a large benchmark process would inflate every small run.
CHILD = r"""
import sys
from ecq2pcap.cli import main, tune_gc
tune_gc()  # (as the program does for a whole process: ecq2pcap.cli.entry)
rc = 3
try:
    rc = main(sys.argv[2:])
finally:
    with open("/proc/self/status") as f:
        hwm = next((line.split()[1] for line in f if line.startswith("VmHWM:")), "0")
    with open(sys.argv[1], "w") as f:
        f.write(hwm)
sys.exit(rc)
"""


def convert(dump: Path, mode: str, flags: str, workdir: Path) -> tuple[float, float, float, dict]:
    """Run one conversion in a child; (wall s, cpu s, peak RSS MB, summary counts)."""
    hwm_file = workdir / "vmhwm.txt"
    argv = [sys.executable, "-c", CHILD, str(hwm_file), "convert", str(dump), *MODES[mode](workdir),
            "--no-progress", *flags.split()]
    env = child_env(ROOT)  # (from bytecode compiled once, as installed: children.py)
    with open(workdir / "stderr.txt", "w+b") as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        text = err.read().decode("utf-8", "replace")
    if p.returncode not in (0, 1):
        raise RuntimeError(f"ecq2pcap convert {dump.name} ({mode} {flags}) exited {p.returncode}:\n{text[-2000:]}")
    rss_mb = int(hwm_file.read_text() or 0) / 1024
    summary = {}
    for key, pat in (("connections", r"connections\s+(\d+)"), ("packets", r"packets\s+(\d+)"),
                     ("har_entries", r"HAR entries\s+(\d+)"), ("warnings", r"warnings\s+(\d+)")):
        m = re.search(r"^\s+" + pat, text, re.M)
        if m:
            summary[key] = int(m.group(1))
    return wall, ru.ru_utime + ru.ru_stime, rss_mb, summary


def best_of(n: int, dump: Path, mode: str, flags: str, workdir: Path):
    runs = [convert(dump, mode, flags, workdir) for _ in range(n)]
    wall = min(r[0] for r in runs)
    cpu = min(r[1] for r in runs)
    rss = max(r[2] for r in runs)
    return wall, cpu, rss, runs[0][3]


# ------------------------------------------------------------------------------ printing


def fmt_row(cols, widths):
    return "  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(cols, widths)))


def print_runs(title: str, runs: list[Run], base_wall: float, base_rss: float) -> None:
    print(f"\n{title}")
    w = (20, 6, 16, 8, 8, 7, 7, 9, 8, 8, 9, 7, 7)
    print(fmt_row(("dump", "mode", "flags", "events", "MB", "wall s", "net s", "events/s", "MB/s",
                   "RSS MB", "RSS-base", "conns", "HAR"), w))
    for r in runs:
        net = max(r.wall - base_wall, 1e-3)
        print(fmt_row((r.dump, r.mode, r.flags or "-", r.events, f"{r.payload_mb:.1f}", f"{r.wall:.2f}",
                       f"{net:.2f}", f"{r.events / net:,.0f}", f"{r.payload_mb / net:.1f}", f"{r.rss_mb:.1f}",
                       f"{r.rss_mb - base_rss:.1f}", r.summary.get("connections", "?"),
                       r.summary.get("har_entries", "-")), w))


def ratios(runs: list[Run], dumps: list[DumpSpec], base_wall: float, base_rss: float) -> None:
    by = {(r.dump, r.mode, r.flags): r for r in runs}
    net = lambda r: max(r.wall - base_wall, 1e-3)  # noqa: E731
    print("\n3. ratios (net time = wall − start-up)")
    print(fmt_row(("dump", "HAR/pcapng", "both/pcapng", "both/(pcapng+HAR)"), (20, 11, 12, 18)))
    for d in dumps:
        p, h, b = (by.get((d.name, m, "")) for m in MODES)
        if p and h and b:
            print(fmt_row((d.name, f"{net(h) / net(p):.2f}", f"{net(b) / net(p):.2f}",
                           f"{net(b) / (net(p) + net(h)):.2f}"), (20, 11, 12, 18)))
    small, big = dumps[0], dumps[2]
    print(f"\nscaling {small.name} → {big.name} ({big.events / small.events:.0f}× events; "
          "RSS-base = peak RSS above an empty conversion)")
    w = (8, 16, 10, 10, 10, 14, 12)
    print(fmt_row(("mode", "flags", "time ×", "RSS ×", "RSS MB", "RSS-base ×", "KB/conn"), w))
    pairs = [(m, "") for m in MODES] + [("both", "--idle-timeout 5")]
    for mode, flags in pairs:
        a, b = by.get((small.name, mode, flags)), by.get((big.name, mode, flags))
        if a and b:
            da, db = a.rss_mb - base_rss, b.rss_mb - base_rss
            dc = max(b.summary.get("connections", 0) - a.summary.get("connections", 0), 1)
            print(fmt_row((mode, flags or "-", f"{net(b) / net(a):.1f}", f"{b.rss_mb / a.rss_mb:.2f}",
                           f"{a.rss_mb:.0f}→{b.rss_mb:.0f}", f"{db / max(da, 0.1):.2f}",
                           f"{(b.rss_mb - a.rss_mb) * 1024 / dc:.2f}"), w))
    for mode in MODES:
        fa, fb = by.get((dumps[4].name, mode, "")), by.get((dumps[5].name, mode, ""))
        if fa and fb:
            da, db = fa.rss_mb - base_rss, fb.rss_mb - base_rss
            dc = max(fb.summary.get("connections", 0) - fa.summary.get("connections", 0), 1)
            print(fmt_row((mode, "fd reuse", f"{net(fb) / net(fa):.1f}", f"{fb.rss_mb / fa.rss_mb:.2f}",
                           f"{fa.rss_mb:.0f}→{fb.rss_mb:.0f}", f"{db / max(da, 0.1):.2f}",
                           f"{(fb.rss_mb - fa.rss_mb) * 1024 / dc:.2f}"), w))
    big1m = by.get(("1000k/100B", "both", "--idle-timeout 5"))
    if big1m and by.get((big.name, "both", "--idle-timeout 5")):
        b = by[(big.name, "both", "--idle-timeout 5")]
        print(fmt_row(("both", "idle 5, 1M", f"{net(big1m) / net(b):.1f}", f"{big1m.rss_mb / b.rss_mb:.2f}",
                       f"{b.rss_mb:.0f}→{big1m.rss_mb:.0f}", "", ""), w))
    print("  (bounded memory: RSS × ≈ 1 and KB/conn ≈ 0 when connections end during the dump. The default\n"
          "   300 s idle timeout keeps every connection of these short dumps open (RSS then grows with the\n"
          "   connections: KB/conn is the cost of one open connection). The small dump may end before the\n"
          "   number of open connections levels off (≈ rate × (connection span + idle timeout)).)")


# ------------------------------------------------------------------------------ profiling


def profile_one(path: Path, mode: str, flags: str, workdir: Path, top: int = 30) -> None:
    from ecq2pcap import cli

    argv = ["convert", str(path), *MODES[mode](workdir), "-q", "--no-progress", *flags.split()]
    cli.tune_gc()  # (this process profiles one conversion, as the program runs one: its collector tuned alike)
    prof = cProfile.Profile()
    saved = sys.stderr
    sys.stderr = io.StringIO()  # the per-line warnings
    try:
        prof.runcall(cli.main, argv)
    finally:
        sys.stderr = saved
    st = pstats.Stats(prof)
    total = max(ct for (_, _, _, ct, _) in st.stats.values())  # the top-level call: 100 %
    print(f"\ncProfile of `ecq2pcap {' '.join(argv)}` ({total:.1f} s under the profiler)")
    rows = []
    for (file, line, fn), (cc, nc, tt, ct, _) in st.stats.items():
        rows.append((ct, tt, nc, f"{_short(file)}:{line}({fn})"))
    print(f"\ntop {top} by cumulative time")
    print(f"{'cum %':>6} {'cum s':>7} {'own %':>6} {'calls':>9}  function")
    for ct, tt, nc, name in sorted(rows, reverse=True)[:top]:
        print(f"{100 * ct / total:6.1f} {ct:7.2f} {100 * tt / total:6.1f} {nc:9d}  {name}")
    print(f"\ntop {top} by own time")
    for ct, tt, nc, name in sorted(rows, key=lambda r: -r[1])[:top]:
        print(f"{100 * tt / total:6.1f} {tt:7.2f} {100 * ct / total:6.1f} {nc:9d}  {name}")
    by_area: dict[str, float] = {}
    for ct, tt, nc, name in rows:
        by_area[_area(name)] = by_area.get(_area(name), 0.0) + tt
    print("\nown time by area")
    for area, tt in sorted(by_area.items(), key=lambda kv: -kv[1])[:15]:
        print(f"{100 * tt / total:6.1f} %  {area}")


def _short(file: str) -> str:
    for marker in ("/ecq2pcap/", "/site-packages/"):
        if marker in file:
            return ("ecq2pcap/" if marker == "/ecq2pcap/" else "") + file.split(marker, 1)[1]
    return file if file.startswith("~") else Path(file).name


def _area(name: str) -> str:
    path = name.split(":", 1)[0]
    if path.startswith("ecq2pcap/"):
        return path
    if "/" in path:
        return path.split("/", 1)[0] + " (library)"
    return "builtins / C" if path.startswith("~") or path == "<string>" else path


# ------------------------------------------------------------------------------ main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = ap.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="5k/50k events (≈ 1 min)")
    size.add_argument("--full", action="store_true", help="also 100k × 16 KB and 1M events (≈ 15 min)")
    ap.add_argument("--keep", metavar="DIR", help="generate dumps into DIR and keep them (reused when present)")
    ap.add_argument("--repeat", type=int, default=1, help="runs per measurement; the fastest is kept")
    ap.add_argument("--profile", nargs="?", const="", metavar="DUMP[:MODE]",
                    help="cProfile one conversion in-process instead (default: the largest 100 B dump, both)")
    args = ap.parse_args()
    profile = "quick" if args.quick else "full" if args.full else "default"
    dumps, throughput, bounded = plan(profile)

    tmp = None
    if args.keep:
        work = Path(args.keep)
        work.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="ecq2pcap-bench-")
        work = Path(tmp.name)
    out_dir = work / "out"
    out_dir.mkdir(exist_ok=True)
    started = time.perf_counter()
    print(f"ecq2pcap conversion benchmark ({profile}); python {sys.version.split()[0]}; "
          f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}")

    needed = {d for d, _ in throughput} | {d for d, _, _ in bounded}
    if args.profile is not None:
        name, _, mode = (args.profile or dumps[2].name).partition(":")
        needed = {name}
    stats: dict[str, make_dump.Stats] = {}
    paths: dict[str, Path] = {}
    for spec in dumps:
        if spec.name not in needed:
            continue
        path = work / (spec.name.replace("/", "_") + ".jsonl")
        t = time.perf_counter()
        st = make_dump.generate(path, events=spec.events, body=spec.body, fmt=spec.fmt, **(spec.extra or {}))
        stats[spec.name], paths[spec.name] = st, path
        print(f"  generated {spec.name:<20} {st.events:>8} events {st.connections:>7} conns "
              f"{st.payload_bytes / 1e6:>8.1f} MB payload {st.file_bytes / 1e6:>8.1f} MB file "
              f"{st.duration_s:>6.0f} s capture  ({time.perf_counter() - t:.1f} s)", flush=True)

    if args.profile is not None:
        if name not in paths:
            sys.exit(f"unknown dump {name!r}; one of: {', '.join(d.name for d in dumps)}")
        profile_one(paths[name], mode or "both", "", out_dir)
        return

    empty = work / "empty.jsonl"
    empty.write_bytes(b"")
    base_wall, _, base_rss, _ = best_of(max(args.repeat, 3), empty, "both", "", out_dir)
    print(f"  start-up (empty input, both outputs): {base_wall:.2f} s wall, peak RSS {base_rss:.1f} MB")

    def measure(items) -> list[Run]:
        runs = []
        for dump, mode, flags in items:
            wall, cpu, rss, summary = best_of(args.repeat, paths[dump], mode, flags, out_dir)
            st = stats[dump]
            runs.append(Run(dump, mode, flags, st.events, st.payload_bytes / 1e6, wall, cpu, rss, summary))
            print(f"  {dump:<20} {mode:<6} {flags or '-':<16} {wall:7.2f} s  cpu {cpu:7.2f} s  "
                  f"RSS {rss:7.1f} MB", flush=True)
        return runs

    t_runs = measure([(d, m, "") for d, m in throughput])
    b_runs = measure(bounded)
    print_runs("1. throughput (default flags: --idle-timeout 300 --reorder-window 3)", t_runs, base_wall, base_rss)
    print_runs("2. bounded memory (connections end during the dump)", b_runs, base_wall, base_rss)
    ratios(t_runs + b_runs, dumps, base_wall, base_rss)
    print(f"\ntotal {time.perf_counter() - started:.0f} s; dumps in {work}" + (" (deleted)" if tmp else ""))
    if tmp:
        tmp.cleanup()


if __name__ == "__main__":
    main()
