"""Throughput of the pcapng sink vs scapy building the same packets.

    python bench/bench_pcapng.py [--seconds 1.0]

Prints packets/s and payload MB/s for 100-byte and 8 KB payloads, for the whole sink
(``PcapngSink.handle(Chunk)``: one data segment and one pure ACK per chunk, comment on
the first segment), for the bare ``TcpFlow`` + ``enhanced_packet`` path, and for scapy
(``Ether()/IP()/TCP()/Raw()`` written by ``PcapNgWriter``); then µs per one-exchange
connection (``Opened``, a request, a response, ``Closed``: ten packets), as run.py's workload
makes them. Output goes to /dev/null. A benchmark, not a test: it asserts nothing about timing.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from msgspec.structs import replace  # noqa: E402

from ecq2pcap.model import Chunk, ChunkInfo, Closed, Connection, Direction, Opened  # noqa: E402
from ecq2pcap.sinks.pcapng import PcapngSink  # noqa: E402
from ecq2pcap.sinks.pcapng.blocks import enhanced_packet  # noqa: E402
from ecq2pcap.sinks.pcapng.tcp import TcpFlow  # noqa: E402

T0 = 1_700_000_000_000_000_000


def timed(seconds: float, step) -> tuple[int, float]:
    """Run ``step()`` (returns packets made) in batches until ``seconds`` pass."""
    packets, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(50):
            packets += step()
    return packets, elapsed


def bench_sink(size: int, seconds: float) -> tuple[float, float]:
    payload = os.urandom(size)
    conn = Connection(id=1, pid=4242, comm="curl", fd=7, client=("10.1.1.1", 51000), server=("10.2.2.2", 443))
    info = ChunkInfo(4242, 4243, "curl", 7, "uuid-1", 0, origin="x:1")
    with open(os.devnull, "wb") as out:
        sink = PcapngSink(out)
        sink.handle(Opened(conn, T0))
        chunks = [Chunk(conn, d, T0 + 1, payload, payload, info) for d in Direction]
        i = 0

        def step() -> int:
            nonlocal i
            i += 1
            sink.handle(chunks[i & 1])
            return 2

        n, t = timed(seconds, step)
    return n / t, (n / 2) * size / t / 1e6


def bench_flow(size: int, seconds: float) -> tuple[float, float]:
    payload = os.urandom(size)
    flow = TcpFlow("10.1.1.1", 51000, "10.2.2.2", 80)
    flow.handshake()
    with open(os.devnull, "wb") as out:

        def step() -> int:
            ((_, frame),) = flow.data(Direction.C2S, payload)
            out.write(enhanced_packet(frame, T0, flags=2))
            return 1

        n, t = timed(seconds, step)
    return n / t, n * size / t / 1e6


def bench_scapy(size: int, seconds: float) -> tuple[float, float]:
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether
    from scapy.packet import Raw
    from scapy.utils import PcapNgWriter

    payload = os.urandom(size)
    writer = PcapNgWriter(os.devnull)
    seq = [1000]

    def step() -> int:
        pkt = (
            Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
            / IP(src="10.1.1.1", dst="10.2.2.2", flags="DF", ttl=64)
            / TCP(sport=51000, dport=80, flags="PA", seq=seq[0], ack=1, window=65535)
            / Raw(payload)
        )
        pkt.time = T0 / 1e9
        writer.write(pkt)
        seq[0] += size
        return 1

    n, t = timed(seconds, step)
    writer.close()
    return n / t, n * size / t / 1e6


def bench_connections(n: int = 20000) -> float:
    """µs per one-exchange connection through the whole sink, best of three runs over ``n``."""
    req = b"GET / HTTP/1.1\r\nHost: a.test\r\nUser-Agent: curl/8\r\nAccept: */*\r\n\r\n"
    resp = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 100
    events = []
    for i in range(n):
        conn = Connection(id=i + 1, pid=1000 + i, comm="curl", fd=5, client=(f"10.1.{i // 250 % 250}.{i % 250 + 1}",
                          40000 + i % 20000), server=("10.0.0.1", 443), uuids=(f"{1000 + i}_{1000 + i}_curl_5_1",))
        t = T0 + i * 1_000_000
        info = ChunkInfo(1000 + i, 1000 + i, "curl", 5, f"{1000 + i}_{1000 + i}_curl_5_1", 1, origin=f"d:{2 * i + 1}")
        events += [Opened(conn, t), Chunk(conn, Direction.C2S, t, req, req, info),
                   Chunk(conn, Direction.S2C, t + 1000, resp, resp, replace(info, origin=f"d:{2 * i + 2}")),
                   Closed(conn, t + 2000, "end of input")]
    best = float("inf")
    for _ in range(3):
        with open(os.devnull, "wb") as out:
            sink = PcapngSink(out)
            start = time.process_time()
            for e in events:
                sink.handle(e)
            sink.finish()
            best = min(best, time.process_time() - start)
    return best / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    args = ap.parse_args()
    print(f"{'payload':>8}  {'what':<24} {'packets/s':>12} {'payload MB/s':>13} {'vs scapy':>9}")
    for size in (100, 8192):
        scapy_pps, scapy_mbs = bench_scapy(size, args.seconds)
        for name, fn in (("PcapngSink.handle", bench_sink), ("TcpFlow+enhanced_packet", bench_flow)):
            pps, mbs = fn(size, args.seconds)
            print(f"{size:>8}  {name:<24} {pps:>12,.0f} {mbs:>13,.1f} {pps / scapy_pps:>8.0f}x")
        print(f"{size:>8}  {'scapy + PcapNgWriter':<24} {scapy_pps:>12,.0f} {scapy_mbs:>13,.1f} {1:>8.0f}x")
    print(f"one-exchange connections through PcapngSink: {bench_connections():.1f} µs each (ten packets)")


if __name__ == "__main__":
    main()
