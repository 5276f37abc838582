"""Http1Parser fast path: identical exchanges with and without it (``fast=False`` is h11 only).

Three sources of inputs: every parser run of ``test_http1.py`` and ``test_http1_recovery.py`` (recorded and
replayed both ways), the real samples through the whole pipeline (byte-identical HAR), and a seeded
random generator of HTTP/1 traffic fed at random boundaries.
"""

from __future__ import annotations

import dataclasses
import inspect
import random
from itertools import accumulate
from pathlib import Path

import pytest

from ecq2pcap.cli import main
from ecq2pcap.limits import Limits
from ecq2pcap.model import Direction
from ecq2pcap.payloads.http1 import decoder as http1
from ecq2pcap.sinks.har.exchange import ChunkMeta
from ecq2pcap.sinks.har.http1 import Http1Parser

from . import make_conn
from . import test_http1 as base
from . import test_http1_recovery as recovery

C, S = Direction.C2S, Direction.S2C
MS = 1_000_000
ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT / "fixtures"


# -- comparison ---------------------------------------------------------------------------


def _message(m):
    if m is None:
        return None
    out = {}
    for f in dataclasses.fields(m):
        v = getattr(m, f.name)
        out[f.name] = bytes(v) if isinstance(v, (bytes, bytearray)) else v
    return out


def dump(exchanges) -> list[dict]:
    """Everything an exchange carries, as plain data (field by field, in order)."""
    out = []
    for e in exchanges:
        out.append({
            "request": _message(e.request),
            "response": _message(e.response),
            "errors": list(e.errors),
            "notes": list(e.notes),
            "ecapture": repr(e.ecapture),
            "websocket": [(w.direction, w.time_ns, w.opcode, bytes(w.data)) for w in e.websocket_messages],
            "http_version": e.http_version,
            "stream_id": e.stream_id,
            "origin": e.origin,
        })  # fmt: skip
    return out


def replay(steps, fast: bool, **kw):
    """steps: ("feed", direction, bytes, time_ns, meta) / ("close", time_ns) / ("diag",)."""
    p = Http1Parser(make_conn(), fast=fast, **kw)
    outs = []
    for step in steps:
        if step[0] == "feed":
            outs.append(dump(p.feed(*step[1:])))
        elif step[0] == "close":
            outs.append(dump(p.close(step[1])))
        else:
            outs.append(p.take_diagnostics())
    outs.append(p.take_diagnostics())
    return outs


class CountingFast:
    """Counts the messages the fast path took (so the tests know it was exercised)."""

    def __init__(self, monkeypatch):
        self.hits = 0
        for name in ("fast_request", "fast_response"):
            orig = getattr(http1, name)

            def wrapped(*args, _orig=orig):
                r = _orig(*args)
                self.hits += r is not None
                return r

            monkeypatch.setattr(http1, name, wrapped)


class CountingWhole:
    """Counts the whole messages the decoder read at once and those it left to their events, by side."""

    def __init__(self, monkeypatch):
        self.taken = {True: 0, False: 0}
        self.left = {True: 0, False: 0}
        orig = http1.Http1Decoder._whole

        def wrapped(decoder, s, w):
            orig(decoder, s, w)
            (self.taken if s.reader is None else self.left)[s.is_request] += 1

        monkeypatch.setattr(http1.Http1Decoder, "_whole", wrapped)


def test_flag_selects_the_path(monkeypatch):
    steps = [("feed", C, base.get(b"/"), 1 * MS, None), ("feed", S, base.resp(200, b"hi"), 2 * MS, None), ("close", 3 * MS)]  # fmt: skip
    fast = CountingFast(monkeypatch)
    replay(steps, False)
    assert fast.hits == 0
    replay(steps, True)
    assert fast.hits == 2
    monkeypatch.setattr(http1, "FAST_PATH", False)
    assert Http1Parser(make_conn()).fast is False
    monkeypatch.setattr(http1, "FAST_PATH", True)
    assert Http1Parser(make_conn()).fast is True


# -- (1) every parser run of test_http1.py --------------------------------------------------


class _Recorder:
    """Stands in for Http1Parser inside test_http1: runs it and records every call."""

    runs: list = []

    def __init__(self, conn, **kw):
        self.kw = kw
        self.steps = []
        self.p = Http1Parser(conn, **kw)
        _Recorder.runs.append(self)

    def __getattr__(self, name):
        return getattr(self.p, name)

    def feed(self, direction, data, time_ns, meta=None):
        self.steps.append(("feed", direction, bytes(data), time_ns, meta))
        return self.p.feed(direction, data, time_ns, meta)

    def close(self, time_ns):
        self.steps.append(("close", time_ns))
        return self.p.close(time_ns)

    def take_diagnostics(self):
        self.steps.append(("diag",))
        return self.p.take_diagnostics()


def _base_tests():
    out = []
    for name, fn in sorted([*vars(base).items(), *vars(recovery).items()], key=lambda item: item[0]):  # (two files)
        if not name.startswith("test_") or not callable(fn):
            continue
        marks = getattr(fn, "pytestmark", [])
        params = [m for m in marks if m.name == "parametrize"]
        if params:
            argname, values = params[0].args[0], params[0].args[1]
            out += [pytest.param(fn, {argname: v}, id=f"{name}[{v}]") for v in values]
        elif not inspect.signature(fn).parameters:
            out.append(pytest.param(fn, {}, id=name))
    return out


@pytest.mark.parametrize("fn,args", _base_tests())
def test_http1_suite_inputs_give_identical_exchanges(fn, args, monkeypatch):
    _Recorder.runs = []
    monkeypatch.setattr(base, "Http1Parser", _Recorder)
    monkeypatch.setattr(recovery, "Http1Parser", _Recorder)
    fn(**args)  # the test itself still passes with the fast path on
    monkeypatch.undo()
    assert _Recorder.runs, "the test did not use the parser"
    for rec in _Recorder.runs:
        kw = {k: v for k, v in rec.kw.items() if k != "fast"}
        assert replay(rec.steps, True, **kw) == replay(rec.steps, False, **kw)


def test_suite_inputs_exercise_the_fast_path(monkeypatch):
    fast = CountingFast(monkeypatch)
    base.test_keep_alive_three_exchanges()
    assert fast.hits >= 6


# -- (2) the real samples through the pipeline ----------------------------------------------

_SAMPLE_INPUTS = [
    SAMPLES / "v140_client.dump.jsonl.gz",
    SAMPLES / "v140_client.frames.jsonl.gz",
    SAMPLES / "v15_client.frames.jsonl.gz",
    SAMPLES / "v15_client_pace.frames.jsonl.gz",
    SAMPLES / "v2_client.frames.jsonl.gz",
    ROOT / "fixtures" / "v140_edge_cases.jsonl",
]


@pytest.mark.parametrize("path", _SAMPLE_INPUTS, ids=lambda p: p.name)
def test_samples_give_byte_identical_har(path, tmp_path, monkeypatch):
    if not path.exists():
        pytest.skip(f"{path} not available")
    hars = []
    for fast in (False, True):
        monkeypatch.setattr(http1, "FAST_PATH", fast)
        har = tmp_path / f"fast{fast}.har"
        main(["convert", str(path), "--har", str(har), "-q"])
        hars.append(har.read_bytes())
    assert hars[0] == hars[1]
    assert len(hars[0]) > 100


# -- (3) random HTTP/1 traffic ---------------------------------------------------------------

_NAMES = [b"Host", b"host", b"HOST", b"X-Thing", b"x-thing", b"Accept", b"Cache-Control", b"X-Empty", b"Content-Type"]
_VALUES = [b"a", b"  padded  ", b"\tv\t", b"", b"x y  z", b"caf\xc3\xa9", b"\xe9t\xe9", b"a,b", b"1"]


def _headers(rng, *, host: bool) -> list[bytes]:
    hs = []
    if host:
        hs.append(rng.choice([b"Host", b"host", b"HoSt"]) + b":" + rng.choice([b" ", b"", b"  "]) + b"example.test")
    for _ in range(rng.randrange(4)):
        name = rng.choice(_NAMES[3:])
        hs.append(name + b":" + rng.choice([b" ", b"", b"\t"]) + rng.choice(_VALUES) + rng.choice([b"", b" ", b"\t "]))
    rare = rng.random()
    if rare < 0.03:
        hs.append(b"Bad Name: x")  # invalid token
    elif rare < 0.06:
        hs.append(b"X-Bad: a\x00b")  # invalid byte
    elif rare < 0.09:
        hs.append(b" folded continuation")  # obs-fold
    elif rare < 0.11:
        hs.append(b"Connection: close")
    elif rare < 0.13:
        hs.append(b"Expect: 100-continue")
    elif rare < 0.15:
        hs.append(b"X-CR: a\rb")
    return hs


def _body(rng) -> bytes:
    return rng.choice([b"", b"", b"hello", b"a\r\n\r\nb", b"\r\n\r\n", b"GET / HTTP/1.1\r\n\r\n", b"x" * rng.randrange(1, 300)])


def _gen_message(rng, start: bytes, hs: list[bytes], body: bytes, *, request: bool) -> bytes:
    framing = rng.random()
    eol = b"\r\n" if rng.random() > 0.05 else b"\n"
    if framing < 0.12 and body:
        chunked = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in (body[:3], body[3:]) if p) + b"0\r\n\r\n"
        hs = hs + [rng.choice([b"Transfer-Encoding: chunked", b"transfer-encoding: Chunked"])]
        return start + eol + eol.join(hs) + eol + eol + chunked if hs else start + eol + eol + chunked
    if framing < 0.16:
        hs = hs + [b"Content-Length: %d" % len(body)] * 2  # duplicate, same value
    elif framing < 0.18:
        hs = hs + [b"Content-Length: %d, %d" % (len(body), len(body))]
    elif framing < 0.20:
        hs = hs + [b"Content-Length: +%d" % len(body)]
    elif framing < 0.24 and not body and request:
        pass  # no Content-Length: request without body
    elif framing < 0.27 and not request:
        pass  # EOF-delimited response
    else:
        cl = rng.choice([b"Content-Length", b"content-length", b"CONTENT-LENGTH"])
        hs = hs + [cl + b":" + rng.choice([b" ", b"", b"  "]) + b"%d" % len(body) + rng.choice([b"", b" "])]
    return start + eol + b"".join(h + eol for h in hs) + eol + body


def _exchange(rng) -> tuple[bytes, bytes]:
    method = rng.choice([b"GET", b"POST", b"PUT", b"HEAD", b"GET", b"POST", b"DELETE", b"PATCH"])
    version = rng.choice([b"HTTP/1.1"] * 8 + [b"HTTP/1.0"])
    host = version == b"HTTP/1.0" and rng.random() < 0.5 or rng.random() < 0.95
    hs = _headers(rng, host=host)
    if rng.random() < 0.03:
        hs.append(b"Host: second.test")
    if rng.random() < 0.03:
        hs.append(b"Upgrade: websocket")
    req = _gen_message(rng, method + b" /p?q=" + str(rng.randrange(1000)).encode() + b" " + version, hs,
                   _body(rng) if method in (b"POST", b"PUT", b"PATCH") else b"", request=True)  # fmt: skip
    status = rng.choice([200, 200, 200, 201, 404, 500, 204, 304, 302, 100, 199])
    rbody = b"" if status in (204, 304) and rng.random() < 0.7 else _body(rng)
    reason = rng.choice([b" OK", b" Not Found", b"", b" ", b" reason with  spaces", b" caf\xc3\xa9"])
    rversion = rng.choice([b"HTTP/1.1"] * 8 + [b"HTTP/1.0"])
    if status < 200:
        interim = b"%s %d Continue\r\n\r\n" % (rversion, status)
        final = _gen_message(rng, rversion + b" 200 OK", _headers(rng, host=False), rbody, request=False)
        resp = interim + final
    else:
        resp = _gen_message(rng, rversion + b" %d" % status + reason, _headers(rng, host=False), rbody, request=False)
    if rng.random() < 0.02:
        resp = b"garbage line\r\n" + resp
    return req, resp


def _random_steps(rng, per_message: bool = False) -> list:
    """``per_message``: each message its own capture, as eCapture v1 renders them (read at once: _whole_capture)."""
    reqs, resps = [], []
    for _ in range(rng.randrange(1, 7)):
        q, r = _exchange(rng)
        reqs.append(q)
        resps.append(r)
    if rng.random() < 0.1:
        resps.pop(rng.randrange(len(resps)))  # a lost response
    if rng.random() < 0.1:
        reqs.pop(rng.randrange(len(reqs)))  # a lost request
    streams = {C: b"".join(reqs), S: b"".join(resps)}
    if rng.random() < 0.1:  # truncated at the end of the capture
        d = rng.choice([C, S])
        streams[d] = streams[d][: rng.randrange(len(streams[d]) + 1)]
    pieces = {}
    for d, data in streams.items():
        cuts = sorted(rng.sample(range(1, len(data)), min(len(data) - 1, rng.randrange(4)))) if len(data) > 1 else []
        if rng.random() < 0.5:
            cuts = []  # whole stream at once: the common case
        if per_message and data == b"".join(reqs if d is C else resps):
            cuts = list(accumulate(map(len, reqs if d is C else resps)))[:-1]
        bounds = [0, *cuts, len(data)]
        pieces[d] = [data[a:b] for a, b in zip(bounds, bounds[1:]) if b > a]
    steps, t = [], 0
    metas = [None, ChunkMeta(pid=1, tid=7, comm="c", uuid="u1"), ChunkMeta(pid=1, tid=8, comm="c", uuid="u2")]
    while pieces[C] or pieces[S]:
        d = rng.choice([x for x in (C, S) if pieces[x]])
        if d is S and pieces[C] and rng.random() < 0.6:
            d = C  # requests usually come first
        t += rng.choice([0, 1, 1, 2])
        steps.append(("feed", d, pieces[d].pop(0), t * MS, rng.choice(metas)))
    steps.append(("close", (t + 1) * MS))
    return steps


@pytest.mark.parametrize("seed", range(8))
def test_random_traffic_gives_identical_exchanges(seed, monkeypatch):
    fast = CountingFast(monkeypatch)
    whole = CountingWhole(monkeypatch)
    rng = random.Random(seed)
    for _ in range(150):
        steps = _random_steps(rng)
        kw = {}
        if rng.random() < 0.2:
            kw["limits"] = Limits(body_size=rng.choice([0, 3, 5, 100]))
        if rng.random() < 0.2:
            kw["reorder_window_ns"] = 5 * MS
        assert replay(steps, True, **kw) == replay(steps, False, **kw), steps
    assert fast.hits > 100  # the fast path was exercised, not just the fallback
    # whole messages read at once, and (a response waiting for the request, one answering an upgrade) by events
    assert min(whole.taken.values()) > 50 and min(whole.left.values()) > 0, (whole.taken, whole.left)


@pytest.mark.parametrize("longer", [-2, -1, 0, 1])
def test_start_lines_about_the_line_limit_give_identical_exchanges(longer, monkeypatch):
    # (the decoder asks the fast path before it looks for a start line: it takes only one that would be found there)
    request, status = b"GET /0123456789 HTTP/1.1", b"HTTP/1.1 200 OK fine"
    for direction, line, rest in ((C, request, b"\r\nHost: a\r\n\r\n"), (S, status, b"\r\nContent-Length: 2\r\n\r\nok"),
                                  (C, b"\r\n" + request, b"\r\nHost: a\r\n\r\n")):  # (a blank line first)
        fast = CountingFast(monkeypatch)
        limits = Limits(header_line_size=len(line.lstrip()) + longer)
        steps = [("feed", direction, line + rest, MS, None), ("close", 2 * MS)]
        assert replay(steps, True, limits=limits) == replay(steps, False, limits=limits)
        assert fast.hits == (longer > 0)  # (the line and its CR are over a limit of its length)


def test_a_target_widened_to_ascii_goes_the_fast_path():
    steps = [("feed", C, "GET /café HTTP/1.1\r\nHost: a\r\n\r\n".encode(), MS, None),
             ("feed", S, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 2 * MS, None), ("close", 3 * MS)]
    fast = replay(steps, True)
    assert fast == replay(steps, False) and fast[1][0]["request"]["target"] == "/caf%C3%A9"


# (4) the lines it keeps: test_http1_fastpath_memos.py
