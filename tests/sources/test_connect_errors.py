"""What a failed or ended connection to eCapture is said to be: a TLS error is named (its errno, OpenSSL's error
kind 1, was read as EPERM: "Operation not permitted") and ends the source with a hint, as eCapture speaks only plain
ws://; our own keepalive timeout is not "dropped without a close frame"."""

from __future__ import annotations

import time

import pytest

from ecq2pcap.sources import websocket as websocket_mod
from tests.support.raw_websocket import RawServer, handshake
from tests.support.sources import receive_until_the_end

pytestmark = pytest.mark.live


def test_wss_to_a_plain_listener_is_named_and_not_retried():
    def plain_http(conn):  # (as Go's net/http answers a TLS ClientHello)
        conn.recv(4096)
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
                     b"Connection: close\r\n\r\n400 Bad Request")

    with RawServer(plain_http) as srv:
        url = srv.url.replace("ws://", "wss://")
        start = time.monotonic()
        src, got, error = receive_until_the_end(url, timeout=10)  # (retrying forever: the default)
    assert time.monotonic() - start < 5 and got == []
    text = str(error)
    assert "TLS" in text and "ws://" in text and "wrong version number" in text
    assert "Operation not permitted" not in text and src.connections == 0


def test_our_keepalive_timeout_is_said_as_such(monkeypatch):
    monkeypatch.setattr(websocket_mod, "PING_INTERVAL_S", 0.2)
    monkeypatch.setattr(websocket_mod, "PING_TIMEOUT_S", 0.5)

    def frozen(conn):  # accepts, then neither sends nor answers pings
        handshake(conn)
        time.sleep(3)

    with RawServer(frozen) as srv:
        src, got, error = receive_until_the_end(srv.url, timeout=10, retry_for=0)
    assert "did not answer pings for 0.5 s" in str(error)
    assert "dropped without a close frame" not in str(error)
