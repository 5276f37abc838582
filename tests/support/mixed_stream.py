"""A small eCapture v1.4 stream (JSON lines) with connections of several processes, hosts and ports.

Used by the filter, summary, name-resolution and Wireshark tests: each connection is one
HTTP/1.1 exchange, so which connections a filter keeps is visible as which requests remain.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

T0 = 1795900000

# (pid, comm, fd, client, server, host, method, path, status, body, captured process is the server)
CONNECTIONS = [
    (100, "curl", 5, ("10.0.0.5", 40001), ("10.0.0.1", 443), "api.example.com", "GET", "/a", 200, b"hello", False),
    (100, "curl", 6, ("10.0.0.5", 40002), ("10.0.0.2", 8443), "www.other.test", "GET", "/b", 404, b"nope!!", False),
    (200, "wget", 3, ("10.0.0.5", 40003), ("10.0.0.1", 443), "api.example.com", "GET", "/c", 200, b"c" * 300, False),
    (300, "nginx", 9, ("10.0.0.9", 50000), ("10.0.0.5", 443), "shop.example.com", "POST", "/d", 201, b"made", True),
    (400, "python3", 4, ("10.0.0.5", 40004), ("10.0.0.3", 80), "plain.test", "GET", "/e?x=1", 200, b"{}", False),
]


def event_line(t: int, pid: int, comm: str, fd: int, data_type: int, tup: str, etype: int, payload: bytes) -> str:
    b64 = base64.b64encode(payload).decode()
    src, dst = tup.split("-")
    ev = {"timestamp": T0 + t, "uuid": f"{pid}_{pid}_{comm}_{fd}_{data_type}_{tup}",
          "src_ip": src.rsplit(":", 1)[0], "src_port": int(src.rsplit(":", 1)[1]),
          "dst_ip": dst.rsplit(":", 1)[0], "dst_port": int(dst.rsplit(":", 1)[1]),
          "pid": pid, "pname": comm, "type": etype, "length": len(b64), "payload_base64": b64}
    return json.dumps({"log_type": 2, "payload": ev}, separators=(",", ":"))


def lines() -> list[str]:
    out = [json.dumps({"log_type": 1, "payload": {"level": "info", "Version": "linux_amd64:v1.4.2-20250927-5e0c4b7:6.1.0",
                                                  "time": "2026-11-27T10:00:00Z"}})]
    for i, (pid, comm, fd, client, server, host, method, path, status, body, server_side) in enumerate(CONNECTIONS):
        tup = f"{client[0]}:{client[1]}-{server[0]}:{server[1]}"
        req_body = b'{"n":1}' if method == "POST" else b""
        request = (f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {comm}\r\n"
                   + (f"Content-Length: {len(req_body)}\r\n" if req_body else "") + "\r\n").encode() + req_body
        reason = {200: "OK", 201: "Created", 404: "Not Found"}[status]
        response = (f"HTTP/1.1 {status} {reason}\r\nContent-Length: {len(body)}\r\nContent-Type: text/plain\r\n\r\n"
                    ).encode() + body
        req_dt, resp_dt = (0, 1) if server_side else (1, 0)  # 1 = the process wrote it
        out.append(event_line(2 * i + 1, pid, comm, fd, req_dt, tup, 1, request))
        out.append(event_line(2 * i + 2, pid, comm, fd, resp_dt, tup, 3, response))
    return out


def write(path: Path) -> Path:
    path.write_text("\n".join(lines()) + "\n")
    return path


def curl_connections(path: Path, exchanges: int, answers_after: bool = False) -> None:
    """A v1.4 dump of ``exchanges`` curl connections, one GET /i/N → 200 "ok" each, ten a second (whole seconds:
    the reorder buffer releases a second's captures, twenty events, in one message's step); with
    ``answers_after``, every request first, then the answers (all the connections open at once)."""
    requests, answers = [], []
    for i in range(exchanges):
        tup = f"10.0.0.5:{40000 + i % 20000}-10.0.0.1:443"
        requests.append(event_line(i // 10, 100, "curl", 5 + i, 1, tup, 1,
                                   b"GET /i/%d HTTP/1.1\r\nHost: api.example.com\r\n\r\n" % i))
        t = (exchanges + i) // 10 if answers_after else i // 10
        answers.append(event_line(t, 100, "curl", 5 + i, 0, tup, 3, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
    out = requests + answers if answers_after else [line for pair in zip(requests, answers) for line in pair]
    path.write_text("\n".join(out) + "\n")


def many_connections(path: Path, n: int) -> None:
    """A v1.4 dump of ``n`` one-exchange connections of ``n`` processes, one a second."""
    lines = []
    for i in range(n):
        tup = f"10.1.{i // 250}.{i % 250 + 1}:{40000 + i % 20000}-10.0.0.1:443"
        lines.append(event_line(i, 1000 + i, "curl", 5, 1, tup, 1, b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n"))
        lines.append(event_line(i, 1000 + i, "curl", 5, 0, tup, 3, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
    path.write_text("\n".join(lines) + "\n")
