"""repair_rendered on real eCapture v1.4.2 renderings (the v140_client sample): every exchange's request and
response, repaired, parse with h11 as the expected file's method, path, status and bodies (a 101 as an
informational response), and the sample's stale re-emits are header-only messages that end where they should.
The h11 parsers are test_http1_render.py's."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json

import h11

from ecq2pcap.payloads.http1_render import repair_rendered

from .test_http1_render import parse_request, parse_response


def _sample_events(samples_dir):
    with gzip.open(samples_dir / "v140_client.dump.jsonl.gz", "rt") as f:
        for line in f:
            msg = json.loads(line)
            if msg.get("log_type") == 2:
                p = msg["payload"]
                yield p, base64.b64decode(p["payload_base64"])


def test_real_sample_renderings(samples_dir):
    expected = json.loads((samples_dir / "v140_client.expected.json").read_text())
    events = list(_sample_events(samples_dir))
    uuids_of = {c["conn"]: set(c["uuids"]) for c in expected["connections"]}
    checked = 0
    for ex in expected["exchanges"]:
        responses = [data for p, data in events if p["type"] == 3 and p["uuid"] in uuids_of[ex["conn"]]]
        requests = [data for p, data in events if p["type"] == 1 and p["uuid"] in uuids_of[ex["conn"]]]
        assert responses and requests
        req_wire, _ = repair_rendered(requests[0])
        req, req_body, rest = parse_request(req_wire)
        assert req.method.decode() == ex["method"] and req.target.decode() == ex["path"] and rest == b""
        assert len(req_body) == ex["request_body_length"]
        wire, notes = repair_rendered(responses[0], request_method=ex["method"])
        resp, body, rest = (None, b"", b"")
        if ex["status"] == 101:
            c = h11.Connection(h11.CLIENT)
            upgrade = [("Host", "x"), ("Upgrade", "websocket"), ("Connection", "upgrade")]
            c.send(h11.Request(method="GET", target="/", headers=upgrade))
            c.send(h11.EndOfMessage())
            c.receive_data(wire)
            ev = c.next_event()
            assert isinstance(ev, h11.InformationalResponse) and ev.status_code == 101
        else:
            resp, body, rest = parse_response(wire)
            assert resp.status_code == ex["status"] and rest == b""
            assert len(body) == ex["response_body_length"]
            assert hashlib.sha256(body).hexdigest() == ex["response_body_sha256"]
        checked += 1
    assert checked == len(expected["exchanges"]) == 3


def test_real_sample_stale_reemit_is_header_only(samples_dir):
    # the sample's stale re-emits (final Display at socket close) carry headers without a body
    stale = []
    seen: set[str] = set()
    for p, data in _sample_events(samples_dir):
        if p["type"] != 3:
            continue
        if p["uuid"] in seen and data.startswith(b"HTTP/1.1 200"):
            stale.append(data)
        seen.add(p["uuid"])
    assert stale
    for data in stale:
        wire, notes = repair_rendered(data)
        assert any("body not captured" in n for n in notes)
        resp, body, rest = parse_response(wire + b"HTTP/1.1 200 OK\r\n")
        assert body == b"" and rest == b"HTTP/1.1 200 OK\r\n"
