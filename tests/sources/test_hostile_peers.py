"""Hostile or broken eCaptureQ peers (issue 7): a clear message, the documented exit code, valid outputs,
and nothing already received is lost. Every server here is a raw TCP server on 127.0.0.1 that speaks as
much WebSocket as the case needs (written by hand, so it can break the protocol)."""

from __future__ import annotations

import json
import re
import socket
import struct
import threading
import time

import pytest

from ecq2pcap.cli import main
from tests.conftest import FIXTURES, run_tshark
from tests.support.har import load_with_haralyzer, validate_har
from tests.support.raw_websocket import RawServer, frame, handshake

pytestmark = [pytest.mark.live, pytest.mark.usefixtures("both_reader_paths")]

# one complete HTTP/1 exchange of the edge-case fixture (v1.4 JSON, IPv6 curl): request, response
EXCHANGE = (FIXTURES / "v140_edge_cases.jsonl").read_text(encoding="utf-8").splitlines()[2:4]


def run_live(tmp_path, url: str, *extra: str, capsys) -> tuple[int, str, dict, str]:
    pcap, har = tmp_path / "o.pcapng", tmp_path / "o.har"
    code = main(["live", url, "-w", str(pcap), "--har", str(har), "--retry-for", "0.5", *extra])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    doc = json.loads(har.read_text(encoding="utf-8"))
    validate_har(doc)
    load_with_haralyzer(doc)
    return code, err, doc, str(pcap)


def _exchange_then(conn: socket.socket, tail: bytes) -> None:
    handshake(conn)
    for line in EXCHANGE:
        conn.sendall(frame(1, line.encode()))
    conn.sendall(tail)
    time.sleep(0.2)


def test_garbage_frames_are_reported_skipped_and_the_rest_kept(tmp_path, capsys, tshark):
    garbage = (frame(1, b"{not json") + frame(2, b"\x00\xff\x13garbage\x00") + frame(1, b'{"log_type": 99}')
               + frame(1, b'{"log_type": 2, "payload": {"uuid": 5}}'))
    with RawServer(lambda c: _exchange_then(c, garbage + frame(8, struct.pack("!H", 1000)))) as srv:
        code, err, doc, pcap = run_live(tmp_path, srv.url, capsys=capsys)
    assert code == 1  # eCapture went away for good after a connection was made
    assert len(doc["log"]["entries"]) == 1  # the exchange received before the garbage
    # each bad message named by the connection's URL and its number, with the reason
    assert f"{srv.url}#3: invalid JSON" in err and f"{srv.url}#4: binary frame of 11 bytes" in err
    assert f"{srv.url}#6: " in err  # a JSON event whose fields are wrong
    assert re.search(r"skipped\s+3\n", err) and "gave up" in err
    assert run_tshark(tshark, pcap, "-Y", "http.request", "-T", "fields", "-e", "http.request.uri").split()


def test_a_server_that_closes_mid_message(tmp_path, capsys):
    cut = frame(1, b'{"log_type": 2, "payload"', announce=1000)  # announces 1000 bytes, sends 25, closes
    with RawServer(lambda c: _exchange_then(c, cut)) as srv:
        code, err, doc, _ = run_live(tmp_path, srv.url, capsys=capsys)
    assert code == 1
    assert len(doc["log"]["entries"]) == 1
    assert "gave up" in err


def test_a_server_that_announces_a_huge_frame(tmp_path, capsys):
    huge = frame(2, b"\x00" * 16, announce=1 << 62)
    with RawServer(lambda c: _exchange_then(c, huge)) as srv:
        code, err, doc, _ = run_live(tmp_path, srv.url, "--max-message-size", "1M", capsys=capsys)
    assert code == 1
    assert len(doc["log"]["entries"]) == 1
    assert "--max-message-size" in err


def test_a_server_that_is_not_websocket(tmp_path, capsys):
    def behave(conn):
        conn.recv(4096)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello")
        time.sleep(0.2)

    with RawServer(behave) as srv:
        code, err, doc, _ = run_live(tmp_path, srv.url, capsys=capsys)
    assert code == 2  # never connected
    assert "200" in err and "WebSocket" in err
    assert doc["log"]["entries"] == []


def test_a_server_that_accepts_and_says_nothing(tmp_path, capsys):
    # (the opening handshake times out after --open-timeout; then retries are refused)
    silent = threading.Event()
    with RawServer(lambda conn: silent.wait(30)) as srv:
        code = main(["record", srv.url, "-o", str(tmp_path / "r.jsonl"), "--retry-for", "0.5",
                     "--open-timeout", "0.5"])
        silent.set()
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "timed out" in err and "gave up" in err


def _recorded_for_2_s(tmp_path, capsys, handler) -> tuple[int, str]:
    """``record`` for 2 s from a loopback server whose connections ``handler`` serves: (its connections, stderr)."""
    from websockets.sync.server import serve

    accepted = []

    def counted(ws):
        accepted.append(1)
        handler(ws)

    with serve(counted, "127.0.0.1", 0) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"ws://127.0.0.1:{server.socket.getsockname()[1]}/"
        code = main(["record", url, "-o", str(tmp_path / "r.jsonl"), "--duration", "2", "-q"])
        server.shutdown()
    err = capsys.readouterr().err
    assert code == 0 and "Traceback" not in err
    return len(accepted), err


def test_a_server_that_replays_its_logs_then_closes_is_not_reconnected_to_in_a_busy_loop(tmp_path, capsys):
    """eCapture replays its startup logs on every connection, and v1.5+ sends a heartbeat at once: a server that
    does that, then drops us, was reconnected to ~600 times a second (each connection had received messages),
    and --record grew by the replay each time. Replays and heartbeats are not what makes a connection one that
    worked: a backoff step follows."""
    from tests.support.fake_ecapture import heartbeat_frame, log_frame

    logs = [log_frame('{"level":"info","time":"2026-12-07T10:00:00Z","message":"start %d"}' % i, True)
            for i in range(20)]

    def replay_then_close(ws):
        for line in logs:
            ws.send(line)
        ws.send(heartbeat_frame(0, True))
        ws.close()

    accepted, err = _recorded_for_2_s(tmp_path, capsys, replay_then_close)
    assert 1 < accepted <= 7, accepted  # (the first's logs are new: at once; then 0.3 + 0.6 + 1.2 s)
    assert "reconnecting in 0.3 s" in err


def test_a_server_that_closes_every_connection_at_once_is_not_reconnected_to_in_a_busy_loop(tmp_path, capsys):
    """eCapture dropping us at every connect (or a proxy that closes): each connection 'worked' (its handshake did),
    so the next came at once, ~700 a second, two stderr lines each. A connection that ends within a second with
    nothing received is now followed by a backoff step."""
    accepted, err = _recorded_for_2_s(tmp_path, capsys, lambda ws: ws.close())
    assert 1 < accepted <= 6, accepted  # (0.3 + 0.6 + 1.2 s of backoff in 2 s)
    assert len(err.splitlines()) <= 2 * accepted + 2
