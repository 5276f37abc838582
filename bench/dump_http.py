"""The HTTP traffic of bench/make_dump.py: clients, hosts, paths, and HTTP/1 requests and responses of drawn sizes
(as eCapture v1 re-renders them, or as sent), and HTTP/2 exchanges (as frames, or eCapture v1's text dump of them)."""

from __future__ import annotations

import argparse
import base64
import gzip
import math
import random
import time

import hpack
from hyperframe.frame import DataFrame, HeadersFrame, SettingsFrame, WindowUpdateFrame

_HTTP_DATE = "%a, %d %b %Y %H:%M:%S GMT"

COMMS = ["curl", "python", "wget", "node", "Chrome_ChildIOT", "Socket Thread", "java", "grpc_global_ti"]
AGENTS = {
    "curl": "curl/7.88.1",
    "python": "python-requests/2.31.0",
    "wget": "Wget/1.21.3",
    "node": "node-fetch/1.0",
    "Chrome_ChildIOT": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36",
    "Socket Thread": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "java": "Java-http-client/17.0.9",
    "grpc_global_ti": "grpc-python/1.62",
}
HOSTS = ["api.example.com", "cdn.example.net", "auth.example.org", "localhost:8443", "storage.example.com"]
PATHS = ["/", "/index.html", "/api/v1/items", "/api/v1/items/{n}", "/static/app.{n}.js", "/api/echo",
         "/search?q=term{n}&page=2", "/img/{n}.png", "/v2/objects/{n}?versionId=abc"]
MIME = ["application/json", "text/html; charset=utf-8", "application/javascript", "text/plain", "image/png"]


# ----------------------------------------------------------------------------- rendering


class BodyPool:
    """Cheap deterministic bodies: slices of one pseudo-random text (JSON-ish lines)."""

    def __init__(self, rng: random.Random, size: int = 1 << 18):
        words = ["alpha", "beta", "gamma", "delta", "items", "value", "id", "name", "ok", "true", "false",
                 "null", "status", "created", "updated", "owner", "tags", "url", "size", "count"]
        parts, n = [], 0
        while n < size:
            line = '{"%s": %d, "%s": "%s"},\n' % (rng.choice(words), rng.randrange(10**6), rng.choice(words),
                                                  rng.choice(words) * rng.randrange(1, 4))
            parts.append(line)
            n += len(line)
        self.text = "".join(parts).encode() * 2
        self.size = size
        self.binary = rng.randbytes(size) * 2

    def body(self, rng: random.Random, n: int) -> bytes:
        off = rng.randrange(self.size)
        while n > self.size:  # very large: repeat
            return (self.text[off : off + self.size] * (n // self.size + 1))[:n]
        return self.text[off : off + n]

    def blob(self, rng: random.Random, n: int) -> bytes:
        off = rng.randrange(self.size)
        return self.binary[off : off + min(n, self.size)]


def parse_size(spec: str) -> tuple[int, int]:
    """``"16384"`` or ``"100-65536"`` (log-uniform) → (lo, hi)."""
    def one(s: str) -> int:
        s = s.strip().lower()
        mult = 1024 if s.endswith("k") else 1
        return int(float(s.rstrip("k")) * mult)

    lo, _, hi = spec.partition("-")
    a = one(lo)
    b = one(hi) if hi else a
    if not 0 <= a <= b:
        raise argparse.ArgumentTypeError(f"bad size range {spec!r}")
    return a, b


def draw_size(rng: random.Random, lo: int, hi: int) -> int:
    if lo == hi:
        return lo
    return int(math.exp(rng.uniform(math.log(max(lo, 1)), math.log(hi))))


def render_request(rng: random.Random, pool: BodyPool, host: str, agent: str, n: int, body_size: int) -> bytes:
    path = rng.choice(PATHS).format(n=n)
    post = rng.random() < 0.25
    headers = {"Accept": "*/*", "User-Agent": agent, "Accept-Encoding": "gzip, deflate, br"}
    if rng.random() < 0.3:
        headers["Cookie"] = f"session=s{rng.randrange(10**9)}; theme=dark"
    if rng.random() < 0.3:
        headers["Authorization"] = "Bearer " + base64.b64encode(rng.randbytes(24)).decode()
    body = b""
    if post:
        body = pool.body(rng, max(16, body_size // 4))
        headers["Content-Type"] = "application/json"
        headers["Content-Length"] = str(len(body))
    # httputil.DumpRequest: request line, Host first, the rest sorted (Header.WriteSubset)
    head = f"{'POST' if post else 'GET'} {path} HTTP/1.1\r\nHost: {host}\r\n"
    head += "".join(f"{k}: {headers[k]}\r\n" for k in sorted(headers)) + "\r\n"
    return head.encode() + body


def render_response(rng: random.Random, pool: BodyPool, ts: int, body_size: int,
                    wire: bool = False) -> tuple[bytes, bytes]:
    """(full rendering, header block) like httputil.DumpResponse after eCapture's parser; ``wire``: the bytes as
    the server sent them instead (eCapture v2: chunked bodies chunked, gzip bodies compressed, lengths true)."""
    body = pool.body(rng, body_size)
    mime = rng.choice(MIME)
    headers = {
        "Connection": "keep-alive",
        "Content-Type": mime,
        "Date": time.strftime(_HTTP_DATE, time.gmtime(ts)),
        "Server": rng.choice(("nginx", "envoy", "cloudflare")),
    }
    if rng.random() < 0.5:
        headers["Etag"] = f'"{rng.randrange(16**8):08x}-{len(body):x}"'
        headers["Cache-Control"] = "max-age=3600"
    if rng.random() < 0.1:
        headers["Set-Cookie"] = f"id=a{rng.randrange(10**6)}; Path=/; HttpOnly; Secure"
    framing = rng.random()
    head = "HTTP/1.1 200 OK\r\n"
    if framing < 0.2:  # originally chunked: DumpResponse writes T-E: chunked over the de-chunked body
        head += "Transfer-Encoding: chunked\r\n"
        if wire:
            body = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 8192]), body[i:i + 8192])
                            for i in range(0, len(body), 8192)) + b"0\r\n\r\n"
    elif framing < 0.3:  # gzip: body gunzipped by eCapture, original (compressed) length and C-E kept
        headers["Content-Encoding"] = "gzip"
        if wire:
            body = gzip.compress(body, compresslevel=1, mtime=0)
        head += f"Content-Length: {len(body) if wire else max(20, len(body) // 3)}\r\n"
    else:
        head += f"Content-Length: {len(body)}\r\n"
    head += "".join(f"{k}: {headers[k]}\r\n" for k in sorted(headers)) + "\r\n"
    h = head.encode()
    return h + body, h


# ----------------------------------------------------------------------------- HTTP/2


class H2Conn:
    """One HTTP/2 connection's exchanges as frames (a request's and a response's per exchange), HPACK state
    kept per direction as a real client and server keep it."""

    def __init__(self, host: str, agent: str) -> None:
        self.host, self.agent = host, agent
        self.client, self.server = hpack.Encoder(), hpack.Encoder()
        self.stream = -1

    def exchange(self, rng: random.Random, pool: BodyPool, n: int, ts: int, body_size: int) -> tuple[list, list, tuple]:
        """(client frames, server frames, (request fields, response fields)) of the next exchange; the first one's
        frames open the connection (SETTINGS, WINDOW_UPDATE; SETTINGS and its ACK)."""
        self.stream += 2
        sid, first = self.stream, self.stream == 1
        req = [(":method", "GET"), (":scheme", "https"), (":authority", self.host),
               (":path", rng.choice(PATHS).format(n=n)), ("user-agent", self.agent), ("accept", "*/*"),
               ("accept-encoding", "gzip, deflate, br")]
        body = pool.body(rng, body_size)
        resp = [(":status", "200"), ("content-type", rng.choice(MIME)), ("content-length", str(len(body))),
                ("date", time.strftime(_HTTP_DATE, time.gmtime(ts))), ("server", rng.choice(("nginx", "envoy")))]
        c = [HeadersFrame(sid, self.client.encode(req), flags=["END_HEADERS", "END_STREAM"])]
        s = [HeadersFrame(sid, self.server.encode(resp), flags=["END_HEADERS"])]
        s += [DataFrame(sid, body[i:i + 16384], flags=["END_STREAM"] if i + 16384 >= len(body) else [])
              for i in range(0, max(len(body), 1), 16384)]
        if first:
            settings = {SettingsFrame.ENABLE_PUSH: 0, SettingsFrame.INITIAL_WINDOW_SIZE: 1 << 24}
            c[:0] = [SettingsFrame(0, settings=settings), WindowUpdateFrame(0, window_increment=1 << 24)]
            s[:0] = [SettingsFrame(0, settings={SettingsFrame.MAX_CONCURRENT_STREAMS: 100}),
                     SettingsFrame(0, flags=["ACK"])]
        return c, s, (req, resp)


H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_H2_NAMES = {HeadersFrame: "HEADERS", DataFrame: "DATA", SettingsFrame: "SETTINGS", WindowUpdateFrame: "WINDOW_UPDATE"}


def h2_raw(frames: list, preface: bool = False) -> bytes:
    """The bytes of the frames (eCapture v2 sends the SSL call's bytes)."""
    return (H2_PREFACE if preface else b"") + b"".join(f.serialize() for f in frames)


def h2_dump(frames: list, fields: list[tuple[str, str]]) -> bytes:
    """eCapture v1's text dump of the frames (protocol doc §4.3: type 2/4), the preface left out as its request
    parser does; ``fields``: the decoded header fields of the one HEADERS frame among them."""
    out = []
    for f in frames:
        out.append(b"\nFrame Type\t=>\t%s\nFrame StreamID\t=>\t%d\n" % (_H2_NAMES[type(f)].encode(), f.stream_id))
        if isinstance(f, HeadersFrame):
            out.append(b"Frame Length\t=>\t%d\n" % len(f.data))
            out += [b'header field "%s" = "%s"\n' % (_go_q(k), _go_q(v)) for k, v in fields]
        elif isinstance(f, DataFrame):
            out.append(b"Frame Length\t=>\t%d\n%s\n" % (len(f.data), f.data))
    return b"".join(out)


def _go_q(text: str) -> bytes:
    """Go's %q of printable ASCII: backslash and double quote escaped (the generated fields hold nothing else)."""
    return text.replace("\\", "\\\\").replace('"', '\\"').encode()
