"""Tuples eCapture gave whose addresses a packet cannot hold, end to end (CLI, tshark, the HAR).

An event whose uuid named ``999.0.0.1:5000-10.1.0.1:443``, ``[zz::1]``, IPv4 with IPv6 or ``fe80::1%eth0`` was taken
as it was; the pcapng sink then could not write its connection: "warning: connection not written to pcapng:
connection 2: Octet 999 (> 255) …", said with no file:line, and its packets were in no pcapng (its HAR entry was
written). Found by an audit of hostile inputs. Now such a tuple is its connection's key still, with invented
(documentation-range) endpoints and a warning at its first event's file:line, the SYN's comment saying why; a zone id
is left out of the address, said too. Nothing is lost: every event's bytes are in the pcapng."""

from __future__ import annotations

import base64
import json
import re

import pytest

from tests.support.cli import run_main
from tests.support.dissect import bad_expert, dissect, follow, syns
from tests.support.v2_stream import V2Stream

T0 = 1795800000
# (uuid's tuple, the event fields' tuple or None (eCapture leaves them empty for IPv6), what the SYN comment says after
# "the tuple eCapture gave, " (None: nothing), the client address the pcapng shows (None: an invented one))
CASES = [
    ("10.0.0.1:5000-10.1.0.1:443", None, None, "10.0.0.1"),  # (a usable one, as before)
    ("999.0.0.1:5000-10.1.0.1:443", None, "'999.0.0.1:5000-10.1.0.1:443', has '999.0.0.1', which is not an IP "
     "address", None),
    ("999.0.0.1:5001-10.1.0.1:443", ("999.0.0.1", 5001, "10.1.0.1", 443),  # (fields that name it: the shortcut)
     "'999.0.0.1:5001-10.1.0.1:443', has '999.0.0.1', which is not an IP address", None),
    ("[zz::1]:5000-[::2]:443", None, "'[zz::1]:5000-[::2]:443', has 'zz::1', which is not an IP address", None),
    ("10.0.0.1:5002-[::2]:443", None, "'10.0.0.1:5002-[::2]:443', mixes IPv4 and IPv6 addresses", None),
    ("[::ffff:999.1.1.1]:5000-[::ffff:10.1.0.1]:443", None, "'[::ffff:999.1.1.1]:5000-[::ffff:10.1.0.1]:443', has "
     "'999.1.1.1', which is not an IP address", None),
    ("0.0.0.0:0-0.0.0.0:0", ("bogus", 5003, "10.1.0.1", 443),  # (the unknown tuple: the fields' is taken)
     "'bogus:5003-10.1.0.1:443', has 'bogus', which is not an IP address", None),
    ("[fe80::1%eth0]:5000-[fe80::2]:443", None, "'[fe80::1%eth0]:5000-[fe80::2]:443', has an IPv6 zone id in "
     "'fe80::1%eth0', which no packet holds: written without it", "fe80::1"),
]


def _exchange(i: int) -> tuple[bytes, bytes]:
    return (f"GET /case{i} HTTP/1.1\r\nHost: h\r\n\r\n".encode(),
            f"HTTP/1.1 200 OK\r\nContent-Length: {len(str(i))}\r\n\r\n{i}".encode())


def _event(t: int, fd: int, dt: int, tup: str, fields, payload: bytes) -> str:
    b64 = base64.b64encode(payload).decode()
    src, sport, dst, dport = fields or ("", 0, "", 0)
    ev = {"timestamp": T0 + t, "uuid": f"100_100_curl_{fd}_{dt}_{tup}", "src_ip": src, "src_port": sport,
          "dst_ip": dst, "dst_port": dport, "pid": 100, "pname": "curl", "type": 0, "length": len(b64),
          "payload_base64": b64}  # (type 0: the bytes as they are, to be found whole in the pcapng)
    return json.dumps({"log_type": 2, "payload": ev})


def _convert(tmp_path, dump, *options):
    pcap, har = tmp_path / "o.pcapng", tmp_path / "o.har"
    p = run_main("convert", str(dump), "-w", str(pcap), "--har", str(har), "-q", *options, text=True)
    assert p.returncode == 0, p.stderr
    return pcap, json.loads(har.read_text())["log"]["entries"], p.stderr


def _by_request(tshark, pcap) -> dict[bytes, tuple]:
    """Each TCP stream's (client bytes, server bytes, SYN comment, client address), by its client bytes."""
    frames = dissect(tshark, pcap, payload=True)
    assert bad_expert(frames) == []
    out = {}
    for stream in sorted({f.first("tcp.stream") for f in frames}, key=int):
        c2s, s2c = follow(frames, int(stream))
        (syn,) = [f for f in syns(frames) if f.first("tcp.stream") == stream]
        out[c2s] = (c2s, s2c, " ".join(syn["frame.comment"]), syn.first("ip.src") or syn.first("ipv6.src"))
    return out


@pytest.mark.parametrize("jobs", [(), ("-j", "2")])
def test_v1_events_with_unusable_tuples_are_written_with_invented_endpoints(tshark, tmp_path, jobs):
    lines = []
    for i, (tup, fields, _, _) in enumerate(CASES):
        request, response = _exchange(i)
        lines += [_event(1, 10 + i, 1, tup, fields, request), _event(1, 10 + i, 0, tup, fields, response)]
    dump = tmp_path / "bad.jsonl"
    dump.write_text("\n".join(lines) + "\n")
    pcap, entries, stderr = _convert(tmp_path, dump, *jobs)

    streams = _by_request(tshark, pcap)
    assert len(streams) == len(CASES)  # (one connection each, none left out)
    for i, (_, _, note, client) in enumerate(CASES):
        request, response = _exchange(i)
        _, s2c, comment, shown = streams[request]
        assert s2c == response  # every event's bytes, whole
        if note is None:
            assert "tuple eCapture gave" not in comment and "invented" not in comment and shown == client
        elif client is None:
            assert f"; endpoints invented: the tuple eCapture gave, {note}" in comment and shown.startswith("192.0.2.")
        else:
            assert f"; the tuple eCapture gave, {note}" in comment and "invented" not in comment and shown == client

    # the HAR: every exchange, no serverIPAddress that is no fact (the invented ones), the zone's without it
    servers = {e["request"]["url"].rsplit("/", 1)[1]: e.get("serverIPAddress") for e in entries}
    assert servers == {f"case{i}": {0: "10.1.0.1", 7: "fe80::2"}.get(i) for i in range(len(CASES))}

    # said at each connection's first event, file:line; nothing else, nothing without a location
    lines_said = stderr.splitlines()
    assert len(lines_said) == len(CASES) - 1
    assert all(re.match(rf"ecq2pcap: {re.escape(str(dump))}:\d+: warning: tuple with ", line) for line in lines_said)
    assert "not written to pcapng" not in stderr


def test_v2_connect_lines_with_unusable_tuples_are_written_too(tshark, tmp_path):
    s = V2Stream()
    s.connect(400, 5, "curl", ("999.0.0.1", 50000), ("10.0.0.2", 443))
    s.connect(400, 6, "curl", ("fe80::1%eth0", 50000), ("fe80::2", 443))
    for fd in (5, 6):
        request, response = _exchange(fd)
        s.call(400, fd, "curl", True, request)
        s.call(400, fd, "curl", False, response)
    dump = tmp_path / "v2.jsonl"
    dump.write_bytes(s.dump())
    pcap, entries, stderr = _convert(tmp_path, dump)
    streams = _by_request(tshark, pcap)
    for fd, shown, note in ((5, "192.0.2.", "endpoints invented: the tuple eCapture gave, "
                                           "'[999.0.0.1]:50000->[10.0.0.2]:443', has '999.0.0.1', which is not an IP"),
                            (6, "fe80::1", "'[fe80::1%eth0]:50000->[fe80::2]:443', has an IPv6 zone id")):
        request, response = _exchange(fd)
        _, s2c, comment, client = streams[request]
        assert s2c == response and client.startswith(shown) and note in comment
    assert len(entries) == 2
    said_at = [line.split(": warning: ")[0] for line in stderr.splitlines()]
    assert said_at == [f"ecq2pcap: {dump}:3", f"ecq2pcap: {dump}:5"]  # (each connection's first event)
