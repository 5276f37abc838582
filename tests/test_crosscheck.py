"""The two outputs agree, whatever the pacing (every fixture, client and server side).

For every stream in fixtures/:

* ``convert``: every HTTP/1 and HTTP/2 request and response tshark dissects in the pcapng
  has its HAR entry and vice versa, WebSocket frames included (tshark's ``websocket``
  opcodes against ``_webSocketMessages``), and tshark's expert info shows no TCP analysis
  warning;
* ``live`` fed by a loopback eCaptureQ server at full speed (every message at once) and at
  the recorded pace gives the same packets (timestamps aside) and the same HAR entries as
  ``convert`` of the stream.

The recorded pace is compressed: the fake server sends K times faster than recorded (gaps
longer than a few seconds are shortened: beyond the reorder window they all mean the same),
and ``live``'s clock is sped up K times to match, so its ticks let as much capture time
pass between messages as the recorded pace would.

tshark runs once per pcapng (of ``convert``): equal packets dissect equally.
"""

from __future__ import annotations

import copy
import gzip
import json
import time
from pathlib import Path

import pytest

from ecq2pcap import live
from ecq2pcap.cli import main
from tests.conftest import FIXTURES
from tests.support.crosscheck import har_view, message_numbers, packets_by_connection, tshark_view
from tests.support.fake_ecapture import FakeECapture, load_timed_frames
from tests.support.dissect import BAD_EXPERT

PACE_SPEEDUP = 20  # K
PACE_MAX_GAP_S = 4.0  # recorded seconds; longer gaps are shortened to this (> the 3 s reorder window)
EDGE = "v140_edge_cases.jsonl"


def _streams() -> list[str]:
    names = sorted(p.name for p in FIXTURES.glob("*.frames.jsonl.gz"))
    return names + sorted(p.name for p in FIXTURES.glob("*.dump.jsonl.gz")) + [EDGE]


STREAMS = _streams()
LIVE_STREAMS = [s for s in STREAMS if ".dump." not in s]  # the dumps are the frames' streams without times

KNOWN_FAILURES: dict = {}  # (test, stream) -> pytest mark, for a known bug under repair


def _params(names: list[str], test: str) -> list:
    return [pytest.param(n, marks=KNOWN_FAILURES[(test, n)]) if (test, n) in KNOWN_FAILURES else n for n in names]


def _frames(name: str) -> tuple[list, list[tuple[float, object]]]:
    if name == EDGE:  # plain v1.4 JSON lines, no times: one text frame each, 10 ms apart
        lines = (FIXTURES / name).read_text(encoding="utf-8").splitlines()
        return [], [(i * 0.01, line) for i, line in enumerate(lines)]
    return load_timed_frames(FIXTURES / name)


class _ScaledClock:
    """``time`` as seen by live.py, running ``speedup`` times faster (for ticks only)."""

    def __init__(self, speedup: float) -> None:
        self.speedup = speedup
        self.t0 = time.time_ns()

    def time_ns(self) -> int:
        return self.t0 + int((time.time_ns() - self.t0) * self.speedup)

    def __getattr__(self, name):
        return getattr(time, name)


class Runs:
    """Outputs of each (stream, mode), computed once per test session."""

    def __init__(self, tmp: Path, tshark: str | None) -> None:
        self.tmp, self.tshark = tmp, tshark
        self._cache: dict = {}

    def get(self, name: str, mode: str) -> dict:
        key = (name, mode)
        if key not in self._cache:
            self._cache[key] = getattr(self, "_" + mode)(name, self.tmp / f"{name}.{mode}")
        return self._cache[key]

    def view(self, name: str):
        key = (name, "tshark")
        if key not in self._cache:
            self._cache[key] = tshark_view(self.tshark, self.get(name, "convert")["pcap"])
        return self._cache[key]

    def _convert(self, name: str, out: Path) -> dict:
        out.mkdir()
        src = FIXTURES / name
        pcap, har = out / "out.pcapng", out / "out.har"
        code = main(["convert", str(src), "-w", str(pcap), "--har", str(har), "-q"])
        assert code == 0
        return {"pcap": pcap, "har": json.loads(har.read_text(encoding="utf-8")), "origins": {str(src): 0}}

    def _live_full(self, name: str, out: Path) -> dict:
        replay, timed = _frames(name)
        return self._live(out, FakeECapture(replay=replay, script=[f for _, f in timed], close_after_script=True))

    def _live_paced(self, name: str, out: Path) -> dict:
        replay, timed = _frames(name)
        # The edge-case lines carry capture times 1-2 s apart but come 10 ms apart: a clock running 20x faster
        # would let ~50 ms of this machine's scheduling delay before the stream's end pass as the 1 s by which the
        # last connection's data is inside the reorder window, and live would release it before the capture still
        # waiting for its tuple (convert: after it, at the end), numbering them the other way. At 1x, that needs 1 s.
        speedup = 1 if name == EDGE else PACE_SPEEDUP
        at, t, prev = [], 0.0, timed[0][0] if timed else 0.0
        for ts, _ in timed:
            t += min(max(ts - prev, 0.0), PACE_MAX_GAP_S)
            prev = ts
            at.append(t / speedup)
        fake = FakeECapture(replay=replay, script=[f for _, f in timed], at=at, close_after_script=True)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(live, "time", _ScaledClock(speedup))
            mp.setattr(live, "TICK_S", live.TICK_S / speedup)
            return self._live(out, fake)

    def _live(self, out: Path, fake: FakeECapture) -> dict:
        out.mkdir()
        pcap, har, rec = out / "out.pcapng", out / "out.har", out / "rec.jsonl.gz"
        with fake:
            # eCapture goes away after the stream: exit 1, outputs completed
            code = main(["live", fake.url, "-w", str(pcap), "--har", str(har), "--record", str(rec),
                         "--retry-for", "0", "-q"])
        assert code == 1
        with gzip.open(rec) as f:
            numbers = message_numbers(f.read().splitlines())
        assert len(numbers) == len(fake.replay) + len(fake.script), "live missed messages"
        return {"pcap": pcap, "har": json.loads(har.read_text(encoding="utf-8")), "origins": {str(rec): numbers}}


@pytest.fixture(scope="session")
def runs(tmp_path_factory, tshark) -> Runs:
    return Runs(tmp_path_factory.mktemp("crosscheck"), tshark)


def _comparable_entries(doc: dict) -> list[str]:
    """HAR entries without absolute times (v2 header times depend on the receive time's
    UTC-offset estimate), sorted: entries are written as exchanges complete."""
    out = []
    for e in doc["log"]["entries"]:
        e = json.loads(json.dumps(e))
        e.pop("startedDateTime")
        for m in e.get("_webSocketMessages", []):
            m.pop("time")
        out.append(json.dumps(e, sort_keys=True))
    return sorted(out)


@pytest.mark.parametrize("name", _params(STREAMS, "agree"))
def test_pcapng_and_har_agree(runs, name):
    har = runs.get(name, "convert")["har"]
    view = runs.view(name)
    problems = view.diff(har_view(har), ("tshark", "HAR"))
    assert not problems, "\n".join(problems)
    for bad in BAD_EXPERT:
        assert bad not in view.expert, f"tshark expert: {bad!r}"


def test_the_agreement_check_can_fail(runs):
    """An entry left out of the HAR (or a WebSocket message) shows as a difference, per kind."""
    name = "v2_client.frames.jsonl.gz"
    har = copy.deepcopy(runs.get(name, "convert")["har"])
    view = runs.view(name)
    entries = har["log"]["entries"]
    h2 = next(i for i, e in enumerate(entries) if e.get("_streamId") is not None)
    del entries[h2]
    ws = next(e for e in entries if e.get("_webSocketMessages"))
    ws["_webSocketMessages"].pop()
    problems = "\n".join(view.diff(har_view(har), ("tshark", "HAR")))
    assert "h2" in problems and "websocket" in problems, problems


@pytest.mark.live
@pytest.mark.parametrize("mode", ["live_full", pytest.param("live_paced", marks=pytest.mark.slow)])
@pytest.mark.parametrize("name", LIVE_STREAMS)
def test_live_gives_what_convert_gives(runs, name, mode, request):
    if (mode, name) in KNOWN_FAILURES:
        request.applymarker(KNOWN_FAILURES[(mode, name)])
    conv, got = runs.get(name, "convert"), runs.get(name, mode)
    want_packets = packets_by_connection(conv["pcap"], conv["origins"])
    got_packets = packets_by_connection(got["pcap"], got["origins"])
    assert sorted(got_packets) == sorted(want_packets), "not the same TCP connections"
    for key, packets in want_packets.items():
        other = got_packets[key]
        assert len(other) == len(packets), f"{key}: {len(other)} packets, convert has {len(packets)}"
        for i, (a, b) in enumerate(zip(other, packets)):
            assert a == b, f"{key} packet {i}:\n{mode}: {a[2]} {a[1][:80]!r}\nconvert: {b[2]} {b[1][:80]!r}"
    assert _comparable_entries(got["har"]) == _comparable_entries(conv["har"])
