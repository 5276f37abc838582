"""The compiled-modules experiment (issue 9): what mypyc buys on the per-event path.

Copies the package into a temporary folder, compiles the leaf modules of the per-event path there with mypyc
(:data:`MODULES`: the TCP/pcapng packet makers, HTTP/1 framing repair, the HTTP/1 fast path, host names), then
runs ``convert`` of one dump with the pure copy and the compiled one, alternately. Prints the best user CPU time
of each, their ratio, and whether the outputs are the same bytes. Nothing is asserted and nothing is built in the
source tree.

    python bench/compiled.py [--events 50000] [--runs 3] [--keep DIR]

Needs mypy (for mypyc) and a C compiler. The modules must type-check: mypyc refuses a module with type errors,
so this also tells whether they still do.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import make_dump  # noqa: E402
from children import child_env  # noqa: E402

MODULES = [
    "ecq2pcap/sinks/pcapng/tcp.py",
    "ecq2pcap/sinks/pcapng/packets.py",
    "ecq2pcap/sinks/pcapng/blocks.py",
    # (not uuids.py since UuidInfo is a msgspec Struct: mypyc compiles no Struct subclass, see bench/README.md)
    "ecq2pcap/payloads/http1_render.py",
    "ecq2pcap/payloads/numbers.py",
    "ecq2pcap/payloads/http1/fast.py",
    "ecq2pcap/payloads/http1/grammar.py",
    "ecq2pcap/payloads/authority.py",
]


def copy_package(dest: Path) -> Path:
    shutil.copytree(ROOT / "ecq2pcap", dest / "ecq2pcap", ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    return dest


def compile_modules(tree: Path) -> None:
    res = subprocess.run([sys.executable, "-m", "mypyc", "--follow-imports=silent", "--ignore-missing-imports",
                          *MODULES], cwd=tree, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"mypyc failed:\n{res.stdout[-3000:]}{res.stderr[-3000:]}")


def user_seconds(tree: Path, args: list[str]) -> float:
    """User CPU seconds of one ``convert`` run of ``tree``'s package (``args``: absolute paths)."""
    env = child_env(tree)  # (from bytecode compiled once, as installed: children.py)
    # (run in ``tree``: ``python -m`` puts the working directory first on the path, before PYTHONPATH)
    proc = subprocess.Popen([sys.executable, "-m", "ecq2pcap", "convert", *args, "-q"], env=env, cwd=tree,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"convert {args} failed with {tree}")
    return usage.ru_utime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=50_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keep", type=Path, help="keep the dump, the trees and the outputs here")
    args = ap.parse_args()
    tmp = (args.keep or Path(tempfile.mkdtemp(prefix="ecq2pcap-compiled-"))).resolve()
    tmp.mkdir(parents=True, exist_ok=True)
    dump = make_dump(tmp / f"small_{args.events}.jsonl", args.events, "100")
    pure, compiled = tmp / "pure", tmp / "compiled"
    for tree in (pure, compiled):
        shutil.rmtree(tree, ignore_errors=True)
        copy_package(tree)
    compile_modules(compiled)
    print(f"{len(MODULES)} modules compiled; {args.events} events of 100-byte HTTP/1 bodies; user CPU, best of "
          f"{args.runs} (start-up included)")
    for what, flag, suffix in (("convert -w", "-w", "pcapng"), ("convert --har", "--har", "har")):
        best = {}
        for _ in range(args.runs):
            for tree in (pure, compiled):
                out = tmp / f"{tree.name}.{suffix}"
                best[tree] = min(best.get(tree, float("inf")), user_seconds(tree, [str(dump), flag, str(out)]))
        same = filecmp.cmp(tmp / f"pure.{suffix}", tmp / f"compiled.{suffix}", shallow=False)
        print(f"{what}: pure {best[pure]:.2f} s, compiled {best[compiled]:.2f} s = {best[pure] / best[compiled]:.2f}×;"
              f" outputs {'the same bytes' if same else 'DIFFERENT'}")
    if args.keep is None:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
