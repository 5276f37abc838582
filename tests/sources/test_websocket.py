"""The live WebSocket source against a real websockets server that behaves like eCapture."""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import socket
import ssl
import time

import pytest
import websockets
from websockets.asyncio.client import connect

from ecq2pcap.model import Opcode
from ecq2pcap.dialects.cheap import is_heartbeat, is_log_message
from ecq2pcap.sources.replay import ReplayFilter
from ecq2pcap.sources.watchdog import HeartbeatWatchdog
from ecq2pcap.sources.connecting import Backoff, ConnectError, check_url, ssl_context
from ecq2pcap.sources.websocket import WebSocketSource
from tests.support.fake_ecapture import FakeECapture, event_frame, heartbeat_frame, log_frame
from tests.support.recordings import message_of

pytestmark = [pytest.mark.live, pytest.mark.usefixtures("both_reader_paths")]

SECOND = 1_000_000_000
LOGS = [log_frame(json.dumps({"level": "info", "Line": i, "time": "2026-11-26T17:56:31Z"}), True) for i in range(129)]


def fast_backoff() -> Backoff:
    return Backoff(initial=0.05, cap=0.2)


async def collect(source: WebSocketSource, n: int, timeout: float = 5.0) -> list:
    got = []
    async with asyncio.timeout(timeout):
        while len(got) < n:
            got += await source.get_batch(None, limit=n - len(got))
    return got


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------- sans-IO parts


def test_check_url():
    assert check_url("ws://127.0.0.1:28257/") == "ws://127.0.0.1:28257/"
    assert check_url("wss://ecapture.example/") == "wss://ecapture.example/"
    for bad in ("http://127.0.0.1:28257/", "127.0.0.1:28257", "ws://", "ws://host:port/"):
        with pytest.raises(ValueError):
            check_url(bad)


def test_backoff_doubles_caps_and_resets():
    b = Backoff()
    assert [b.next() for _ in range(8)] == pytest.approx([0.3, 0.6, 1.2, 2.4, 4.8, 9.6, 10.0, 10.0])
    b.reset()
    assert b.next() == pytest.approx(0.3)


def test_ssl_context_verifies_unless_insecure():
    assert ssl_context("ws://h/", False) is None
    ctx = ssl_context("wss://h/", False)
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    ctx = ssl_context("wss://h/", True)
    assert ctx.verify_mode == ssl.CERT_NONE and not ctx.check_hostname


@pytest.mark.parametrize("name", ["v140_client", "v15_client", "v2_client"])
def test_cheap_classification_matches_the_sample_labels(samples_dir, name):
    with gzip.open(samples_dir / f"{name}.frames.jsonl.gz") as f:
        for line in f:
            d = json.loads(line)
            data = base64.b64decode(d["data_b64"])
            assert is_log_message(data) == (d["k"] in ("replay", "log")), (d["k"], data[:40])
            assert is_heartbeat(data) == (d["k"] == "hb"), (d["k"], data[:40])


def test_replay_filter_only_dedups_logs_of_earlier_connections_within_the_window():
    f = ReplayFilter(window=5)
    ev = event_frame(1)
    f.connected()
    assert [f.is_replay(x) for x in (LOGS[0], LOGS[0], LOGS[1], ev, ev)] == [False] * 5  # first connection: nothing
    f.connected()
    # replays of earlier logs inside the window; events and new logs never
    assert [f.is_replay(x) for x in (LOGS[0], ev, LOGS[1], LOGS[2], ev)] == [True, False, True, False, False]
    assert f.is_replay(LOGS[0]) is False  # 6th message: outside the window
    f.connected()
    assert f.is_replay(LOGS[2]) is True  # seen on the previous connection
    assert f.replays == 3


def test_replay_filter_text_logs():
    text_log = log_frame('{"level":"info","AppName":"eCapture","time":"2026-11-26T17:56:31Z"}', False).encode()
    f = ReplayFilter()
    f.connected()
    assert not f.is_replay(text_log)
    f.connected()
    assert f.is_replay(text_log)
    assert not f.is_replay(heartbeat_frame(0, False).encode())


def test_watchdog_slow_cadence_warns_once_per_silence():
    w = HeartbeatWatchdog()
    t0 = 1_000 * SECOND
    w.connected(t0)
    assert w.check(t0 + 119 * SECOND) is None
    warning = w.check(t0 + 121 * SECOND)
    assert warning and "no heartbeat since connecting" in warning and "60 s" in warning
    assert w.check(t0 + 200 * SECOND) is None  # once per silence
    w.heartbeat(t0 + 201 * SECOND)
    assert w.cadence_s == 60
    assert w.check(t0 + 300 * SECOND) is None
    assert w.check(t0 + 322 * SECOND)  # silence again: warned again
    assert w.warnings == 2
    w.disconnected()
    assert w.check(t0 + 1000 * SECOND) is None  # not while disconnected


def test_watchdog_immediate_heartbeat_means_15_s():
    w = HeartbeatWatchdog()
    t0 = 1_000 * SECOND
    w.connected(t0)
    w.heartbeat(t0 + SECOND // 100)
    assert w.cadence_s == 15
    assert w.check(t0 + 29 * SECOND) is None
    assert "15 s" in w.check(t0 + 31 * SECOND)
    w.connected(t0 + 40 * SECOND)  # a new connection starts slow again until proven fast
    assert w.cadence_s == 60
    w.heartbeat(t0 + 100 * SECOND)
    w.heartbeat(t0 + 115 * SECOND)  # 15 s apart: fast
    assert w.cadence_s == 15


# --------------------------------------------------------------- over a real socket


def test_origin_sent_messages_byte_exact_with_opcodes():
    frames = [
        '{"log_type":2,"payload":{"uuid":"x","payload_base64":"QUJD"}}',
        "text with UTF-8: eCapture(旁观者) ✓",
        b"\x00\x01\x02binary\xff\xfe",
        b"",
        "",
        bytes(range(256)) * 4,
    ]
    with FakeECapture(script=frames) as fake:
        async def run():
            async with WebSocketSource(fake.url) as src:
                return await collect(src, len(frames))

        got = asyncio.run(run())
        assert fake.origins == ["http://localhost/"]
    assert [message_of(d).data for d in got] == [f.encode() if isinstance(f, str) else f for f in frames]
    assert [message_of(d).opcode for d in got] == [Opcode.TEXT if isinstance(f, str) else Opcode.BINARY for f in frames]
    assert [message_of(d).origin for d in got] == [f"{fake.url}#{i}" for i in range(1, len(frames) + 1)]
    now = time.time_ns()
    assert all(now - 10 * SECOND < message_of(d).recv_time_ns <= now for d in got)
    assert not any(replayed for *_, replayed in got)


def test_custom_origin_is_sent():
    with FakeECapture(script=[b"x"]) as fake:
        async def run():
            async with WebSocketSource(fake.url, origin="http://ecq2pcap.test/") as src:
                return await collect(src, 1)

        asyncio.run(run())
        assert fake.origins == ["http://ecq2pcap.test/"]


def test_missing_origin_gets_403_and_a_clear_error():
    status = []
    with FakeECapture(script=[b"x"]) as fake:
        async def run():
            async with WebSocketSource(fake.url, origin=None, on_status=lambda k, t: status.append((k, t))) as src:
                async with asyncio.timeout(5):
                    await src.get_batch(5)

        with pytest.raises(ConnectError) as err:
            asyncio.run(run())
        assert fake.rejected == 1 and fake.connections == 0
    text = str(err.value)
    assert "403" in text and "Origin" in text and "--origin http://localhost/" in text
    assert [k for k, _ in status] == ["error"]  # fatal: no retries


def test_messages_bigger_than_1_mib_arrive():
    big_binary = bytes(range(251)) * (3 * 1024 * 1024 // 251)
    big_text = "x" * (1536 * 1024)
    with FakeECapture(script=[big_binary, big_text]) as fake:
        async def run():
            async with WebSocketSource(fake.url) as src:
                return await collect(src, 2)

        got = asyncio.run(run())
    assert message_of(got[0]).data == big_binary and message_of(got[1]).data == big_text.encode()


def test_a_message_over_the_limit_is_refused_then_the_source_reconnects():
    small = event_frame(1)
    status = []
    with FakeECapture(script=lambda i: [b"x" * 5000, small] if i == 0 else [small]) as fake:
        async def run():
            src = WebSocketSource(fake.url, backoff=fast_backoff(), max_message_size=4096,
                                  on_status=lambda k, t: status.append((k, t)))
            async with src:
                return src, await collect(src, 1)

        src, got = asyncio.run(run())
    assert [message_of(d).data for d in got] == [small]  # the big one was never buffered
    assert src.oversized == 1 and src.connections == 2
    assert any("over 4096 bytes" in t and "(limit: --max-message-size)" in t for k, t in status if k == "retry")


def test_reconnect_after_abrupt_drop_dedups_replayed_logs_but_not_events():
    events = {i: [event_frame(100 * i + j) for j in range(5)] for i in range(2)}
    status = []
    with FakeECapture(replay=LOGS, script=lambda i: events.get(i, []), drop_after=len(LOGS) + 5) as fake:
        async def run():
            src = WebSocketSource(fake.url, backoff=fast_backoff(), on_status=lambda k, t: status.append((k, t)))
            async with src:
                got = await collect(src, 2 * (len(LOGS) + 5))
                return src, got

        src, got = asyncio.run(run())
        assert fake.connections == 2
    assert src.connections == 2 and src.reconnects == 1
    first, second = got[: len(LOGS) + 5], got[len(LOGS) + 5:]
    assert [message_of(d).data for d in first] == LOGS + events[0]
    assert not any(replayed for *_, replayed in first)
    assert [message_of(d).data for d in second] == LOGS + events[1]
    assert [replayed for *_, replayed in second] == [True] * len(LOGS) + [False] * 5
    kinds = [k for k, _ in status]
    assert kinds == ["connected", "retry", "connected"]
    assert "dropped without a close frame" in status[1][1] and "(reconnect 1)" in status[2][1]


def test_events_identical_to_earlier_ones_are_never_filtered():
    same = [event_frame(7)] * 3
    with FakeECapture(replay=LOGS[:3], script=same, drop_after=6) as fake:
        async def run():
            async with WebSocketSource(fake.url, backoff=fast_backoff()) as src:
                return await collect(src, 12)

        got = asyncio.run(run())
    assert [replayed for *_, replayed in got] == [False] * 6 + [True] * 3 + [False] * 3


def test_reconnect_after_restart_with_backoff_messages():
    status = []
    with FakeECapture(replay=LOGS[:10], script=lambda i: [event_frame(i)]) as fake:
        async def run():
            src = WebSocketSource(fake.url, backoff=fast_backoff(), on_status=lambda k, t: status.append((k, t)))
            async with src:
                first = await collect(src, 11)
                await asyncio.to_thread(fake.restart, 0.5)  # down for 0.5 s: connection refused meanwhile
                second = await collect(src, 11)
                return src, first, second

        src, first, second = asyncio.run(run())
    assert [message_of(d).data for d in first] == LOGS[:10] + [event_frame(0)]
    assert [message_of(d).data for d in second] == LOGS[:10] + [event_frame(1)]
    assert [replayed for *_, replayed in second] == [True] * 10 + [False]
    assert src.reconnects == 1
    retries = [t for k, t in status if k == "retry"]
    assert len(retries) >= 2, status
    assert any("cannot connect" in t and "refused" in t.lower() for t in retries), retries
    assert any("attempt" in t for t in retries)


def _giving_up(retry_for: float, backoff: Backoff, status: list) -> float:
    """Seconds until a source with nothing to connect to gives up (its ConnectError checked)."""
    url = f"ws://127.0.0.1:{free_port()}/"

    async def run():
        async with WebSocketSource(url, backoff=backoff, retry_for=retry_for,
                                   on_status=lambda k, t: status.append((k, t))) as src:
            async with asyncio.timeout(10):
                await src.get_batch(10)

    t0 = time.monotonic()
    with pytest.raises(ConnectError, match=f"gave up retrying for {retry_for:g} s"):
        asyncio.run(run())
    return time.monotonic() - t0


def test_gives_up_after_retry_for():
    status = []
    assert _giving_up(0.3, fast_backoff(), status) < 3
    assert sum(k == "retry" for k, _ in status) >= 2


def test_retry_for_is_not_overshot_by_a_backoff_step():
    """The last wait before giving up was a whole backoff step: --retry-for 3 gave up after 5 s (the live audit's
    finding 6); with 4 s steps, 1.0 s gave up after 4. A wait ends at the time given."""
    assert _giving_up(1.0, Backoff(initial=4.0, cap=4.0), []) < 3


def test_watchdog_warns_when_heartbeats_stop():
    status = []
    with FakeECapture(heartbeat_s=0.05, immediate_heartbeat=True, max_heartbeats=4) as fake:
        async def run():
            dog = HeartbeatWatchdog(slow_s=5, fast_s=0.1, immediate_s=0.5)
            async with WebSocketSource(fake.url, watchdog=dog, on_status=lambda k, t: status.append((k, t))) as src:
                await collect(src, 4)  # the heartbeats
                assert dog.cadence_s == 0.1  # immediate heartbeat: fast cadence detected
                assert not [k for k, _ in status if k == "heartbeat"]
                await asyncio.sleep(0.6)  # silence: > 2 × cadence
                return dog

        dog = asyncio.run(run())
    warnings = [t for k, t in status if k == "heartbeat"]
    assert len(warnings) == 1 and "no heartbeat for" in warnings[0]
    assert dog.warnings == 1


def test_burst_with_slow_consumer_arrives_completely():
    n, size = 5000, 4096
    frames = [event_frame(i, size) for i in range(n)]
    with FakeECapture(script=frames, rate=20_000) as fake:
        async def run():
            got = []
            async with WebSocketSource(fake.url) as src:
                async with asyncio.timeout(20):
                    while len(got) < n:
                        batch = await src.get_batch(1)
                        got.extend(batch)
                        await asyncio.to_thread(time.sleep, 0.00025 * len(batch))  # slow, blocking work
            return got

        got = asyncio.run(run())
        assert fake.slow_drops == 0 and fake.connections == 1
    assert [message_of(d).data for d in got] == frames


def test_fake_ecapture_drops_a_reader_blocked_by_processing():
    """Control for the test above: reading and processing in one task gets us dropped."""
    n, size = 5000, 4096
    frames = [event_frame(i, size) for i in range(n)]
    with FakeECapture(script=frames, rate=20_000) as fake:
        async def run():
            got = 0
            async with connect(fake.url, origin="http://localhost/", max_size=None, compression=None) as ws:
                try:
                    async with asyncio.timeout(20):
                        async for _ in ws:
                            got += 1
                            time.sleep(0.00025)  # the same work, done on the reader's loop
                except websockets.ConnectionClosed:
                    pass
            return got

        got = asyncio.run(run())
        assert fake.slow_drops == 1
    assert got < n
