"""An HTTP/1 connection upgraded to h2c (101, then HTTP/2's opening) goes on: the client's preface after the 101 is
its first, not a new connection's (it was split in two, the rest on made-up addresses, "not placed")."""

from __future__ import annotations

from ecq2pcap.flows.placement import Shape, cannot_continue

from .test_placement import PREFACE, REQ2, SETTINGS, v2

H2C_UPGRADE = (b"GET /up HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
               b"HTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n")
H2C_SWITCH = b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"


def test_http2_after_a_101_continues_the_connection():
    h2c = Shape()
    h2c.update(v2(H2C_UPGRADE, 0, 0))
    h2c.update(v2(H2C_SWITCH, 1, 0))
    assert not cannot_continue(h2c, v2(SETTINGS, 1, 0), one_socket=True)  # the server's, in a write of its own
    assert not cannot_continue(h2c, v2(PREFACE + SETTINGS, 0, 0), one_socket=True)
    h2c.update(v2(SETTINGS, 1, 0))
    h2c.update(v2(PREFACE + SETTINGS, 0, 0))
    # then it is an HTTP/2 connection: a second preface, or HTTP/1, is another connection's
    assert cannot_continue(h2c, v2(PREFACE, 0, 0)) and cannot_continue(h2c, v2(REQ2, 0, 0))


def test_http2_after_http1_without_a_101_is_a_new_connection():
    h1 = Shape()
    h1.update(v2(H2C_UPGRADE, 0, 0))
    h1.update(v2(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 1, 0))  # (the upgrade refused)
    assert cannot_continue(h1, v2(PREFACE + SETTINGS, 0, 0)) and cannot_continue(h1, v2(SETTINGS, 1, 0))
