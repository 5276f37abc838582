"""The cross-check: what tshark dissects in a pcapng against the HAR written beside it,
and one run's outputs against another's (timestamps aside).

* :func:`tshark_view` reads tshark's one field dump of a pcapng (:func:`~tests.support.dissect.dissect`,
  expert messages included) and returns, per connection (the ``connection N`` of the SYN's comment, which is the HAR
  ``connection``), the HTTP/1 and HTTP/2 requests and responses and the WebSocket frames.
* :func:`har_view` gives the same from a HAR document: requests and responses that were
  captured (entries marked "request/response not captured" contribute only the side that was).
* :func:`packets_by_connection` reads a pcapng's packets, without timestamps, grouped by TCP
  connection in file order, with the ``origin FILE:LINE`` of comments made comparable.
"""

from __future__ import annotations

import re
import struct
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from tests.support.dissect import dissect, expert_messages

_CONN = re.compile(r"ecq2pcap connection (\d+):")
_SYN = 0x02
_ACK = 0x10


@dataclass
class View:
    """One output's HTTP content, per connection id (as multisets)."""

    h1_requests: Counter = field(default_factory=Counter)  # (conn, method, target)
    h1_responses: Counter = field(default_factory=Counter)  # (conn, status)
    h2_requests: Counter = field(default_factory=Counter)  # (conn, stream, method, path)
    h2_responses: Counter = field(default_factory=Counter)  # (conn, stream, status)
    websocket: dict = field(default_factory=lambda: defaultdict(list))  # (conn, "c2s"|"s2c") -> [opcode]
    expert: str = ""

    def diff(self, other: "View", names: tuple[str, str]) -> list[str]:
        out = []
        for attr in ("h1_requests", "h1_responses", "h2_requests", "h2_responses"):
            a, b = getattr(self, attr), getattr(other, attr)
            if a != b:
                out.append(f"{attr}: only in {names[0]}: {sorted((a - b).elements())}; "
                           f"only in {names[1]}: {sorted((b - a).elements())}")
        for key in sorted(set(self.websocket) | set(other.websocket)):
            a, b = self.websocket.get(key, []), other.websocket.get(key, [])
            if a != b:
                out.append(f"websocket {key}: {names[0]} {a} != {names[1]} {b}")
        return out


def tshark_view(tshark: str, pcap: Path) -> View:
    view = View()
    # tshark numbers TCP streams in order of appearance; the SYN's comment names the connection
    conn_of_stream = {str(i): conn for i, conn in enumerate(connection_ids(pcap))}
    client_port: dict[str, str] = {}
    frames = dissect(tshark, pcap)
    for f in frames:
        stream, sport = f.first("tcp.stream"), f.first("tcp.srcport")
        if f.flag("tcp.flags.syn") and not f.flag("tcp.flags.ack"):
            client_port[stream] = sport
        conn = conn_of_stream[stream]
        for me, target in zip(f["http.request.method"], f["http.request.uri"]):
            view.h1_requests[(conn, me, target)] += 1
        for c in f["http.response.code"]:
            view.h1_responses[(conn, int(c))] += 1
        if f.has("http2.type"):
            # one HEADERS frame per request/response: its stream id, and method/path or status
            heads = [sid for sid, t in zip(f["http2.streamid"], f["http2.type"]) if t == "1"]
            methods, paths, statuses = f["http2.headers.method"], f["http2.headers.path"], f["http2.headers.status"]
            if sport == client_port.get(stream):
                assert len(methods) == len(heads) == len(paths), f.values
                for sid, me, p in zip(heads, methods, paths):
                    view.h2_requests[(conn, int(sid), me, p)] += 1
            else:
                assert len(statuses) == len(heads), f.values  # trailers would break this: none in fixtures
                for sid, st in zip(heads, statuses):
                    view.h2_responses[(conn, int(sid), int(st))] += 1
        if f.has("websocket.opcode"):
            direction = "c2s" if sport == client_port.get(stream) else "s2c"
            view.websocket[(conn, direction)] += [int(o) for o in f["websocket.opcode"] if o != "0"]
    view.expert = "\n".join(expert_messages(frames))
    return view


def har_view(doc: dict) -> View:
    view = View()
    for e in doc["log"]["entries"]:
        conn = int(e["connection"])
        error = e.get("_error", "")
        req, resp = e["request"], e["response"]
        has_request = "request not captured" not in error and "request headers not captured" not in error
        has_response = resp["status"] != 0 and "response headers not captured" not in error
        if e.get("_streamId") is not None:
            sid = e["_streamId"]
            if has_request:
                view.h2_requests[(conn, sid, req["method"], _target(req["url"]))] += 1
            if has_response:
                view.h2_responses[(conn, sid, resp["status"])] += 1
        else:
            if has_request:
                view.h1_requests[(conn, req["method"], _target(req["url"]))] += 1
            if has_response:
                view.h1_responses[(conn, resp["status"])] += 1
        for m in e.get("_webSocketMessages", []):
            view.websocket[(conn, "c2s" if m["type"] == "send" else "s2c")].append(m["opcode"])
    return view


def _target(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


# -- packets, timestamps aside


def connection_ids(pcap: Path) -> list[int]:
    """The ``connection N`` of each TCP stream, in order of appearance (tshark's tcp.stream)."""
    ids = []
    for packets in packets_by_connection(pcap, {}).values():  # each stream starts with its SYN
        m = next((m for c in packets[0][2] if (m := _CONN.search(c))), None)
        assert m, f"a TCP stream whose first packet does not name its connection: {packets[0][2]}"
        ids.append(int(m[1]))
    return ids


def packets_by_connection(pcap: Path, origins: dict[str, int]) -> dict[tuple, list[tuple]]:
    """``{stream key: [(epb flags, packet bytes, comments)]}``, streams in order of
    appearance and packets in file order. A stream key is the TCP 4-tuple, and the number
    of earlier streams on it (a new SYN on a used 4-tuple is a new stream).

    ``origins`` maps an input's name to the offset that turns its line numbers into
    message numbers (a recording's header is line 1), or to each line's message number (a recording with tick
    lines: :func:`message_numbers`): comments' ``origin NAME:LINE`` become ``origin #MESSAGE``, so two runs fed
    the same messages compare equal."""
    data = pcap.read_bytes()
    order = "<" if data[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
    pos, link_types, out = 0, [], {}
    current: dict[tuple, tuple] = {}  # 4-tuple -> its latest stream key
    while pos < len(data):
        btype, blen = struct.unpack_from(order + "II", data, pos)
        body = data[pos + 8 : pos + blen - 4]
        pos += blen
        if btype == 1:
            link_types.append(struct.unpack_from(order + "H", body)[0])
        elif btype == 6:
            iface, _, _, caplen, _ = struct.unpack_from(order + "IIIII", body)
            pkt = body[20 : 20 + caplen]
            opts = _options(body[20 + caplen + (-caplen % 4):], order)
            comments = tuple(_normalize(v.decode("utf-8", "replace"), origins) for c, v in opts if c == 1)
            flags = tuple(v for c, v in opts if c == 2)
            ip = pkt[14:] if link_types[iface] == 1 else pkt
            four = _four_tuple(ip)
            if four not in current or _is_syn(ip):
                current[four] = (four, sum(1 for k in out if k[0] == four))
                out[current[four]] = []
            out[current[four]].append((flags, pkt, comments))
    return out


def _options(raw: bytes, order: str) -> list[tuple[int, bytes]]:
    opts, pos = [], 0
    while pos + 4 <= len(raw):
        code, n = struct.unpack_from(order + "HH", raw, pos)
        if code == 0:
            break
        opts.append((code, raw[pos + 4 : pos + 4 + n]))
        pos += 4 + n + (-n % 4)
    return opts


def _normalize(comment: str, origins: dict[str, int | dict[int, int]]) -> str:
    for name, offset in origins.items():  # (an offset, or each line's message number: a recording's tick lines
        number = (lambda line: line - offset) if isinstance(offset, int) else offset.__getitem__  # are none)
        comment = re.sub(re.escape(name) + r":(\d+)", lambda m: f"#{number(int(m[1]))}", comment)
    return comment


def _tcp(ip: bytes) -> tuple[bytes, bytes, bytes]:
    if ip[0] >> 4 == 4:
        return ip[12:16], ip[16:20], ip[(ip[0] & 15) * 4 :]
    return ip[8:24], ip[24:40], ip[40:]


def _four_tuple(ip: bytes) -> tuple:
    src, dst, tcp = _tcp(ip)
    sport, dport = struct.unpack_from("!HH", tcp)
    return tuple(sorted([(src, sport), (dst, dport)]))


def _is_syn(ip: bytes) -> bool:
    return _tcp(ip)[2][13] & (_SYN | _ACK) == _SYN


def message_numbers(lines: list[bytes]) -> dict[int, int]:
    """{line number: message number} of a recording's lines (its header and tick lines are no messages)."""
    out, n = {}, 0
    for i, line in enumerate(lines, 1):
        if i > 1 and not line.startswith(b'{"tick"'):
            n += 1
            out[i] = n
    return out
