"""Which end of the connection did eCapture hook? (protocol doc §10.7)

The v1 tuple is always client→server, but the captured process may be either end
(nginx captures are server side). A request written by the process, or a response
read by it, means the process is the client.

HTTP/2 adds one more sign: the server speaks first (its SETTINGS frame, written right
after the TLS handshake, before it reads the client's preface; protocol doc §11.14).
The first bytes of one direction of a connection that are a SETTINGS frame on stream
0 (not an ACK) were sent by the server: written by the process, it is the server;
read, it is the client. Only a direction's first bytes say this (a client sends its
own SETTINGS, but after the preface).
"""

from __future__ import annotations

from ..model import Capture, DataType, PayloadForm

METHODS = (b"GET ", b"POST ", b"PUT ", b"HEAD ", b"DELETE ", b"OPTIONS ", b"PATCH ", b"CONNECT ",
            b"TRACE ", b"PRI * HTTP/2.0")


def may_start_request(p: bytes) -> bool:
    """``p`` starts with a method, or is the first piece of one a read cut short (``G``, ``POS``)."""
    return p.startswith(METHODS) or 0 < len(p) < 8 and any(m.startswith(p) for m in METHODS)


def _is_request(cap: Capture) -> bool | None:
    p = cap.payload
    if cap.form is PayloadForm.H2_DUMP:
        if b'header field ":method"' in p[:65536]:
            return True
        if b'header field ":status"' in p[:65536]:
            return False
        return None
    if p.startswith(METHODS):
        return True
    if p.startswith(_STATUS) and p[9:12].isdigit() or p.startswith(b"HTTP/2"):
        return False  # (a status line: "HTTP/1.1\r\n" is the end of a request line a read cut, not a response)
    return None


_STATUS = (b"HTTP/1.0 ", b"HTTP/1.1 ")


def is_server_settings(p: bytes) -> bool:
    """A SETTINGS frame (type 4) on stream 0, not an ACK, of a plausible length."""
    return (len(p) >= 9 and p[3] == 0x04 and p[4] == 0 and p[5:9] == b"\0\0\0\0"
            and p[0] == 0 and int.from_bytes(p[1:3], "big") % 6 == 0)


def infer_role(cap: Capture, first_of_direction: bool = False) -> str | None:
    """"client", "server" or None when this capture does not tell.

    ``first_of_direction``: no earlier bytes of the connection went this way."""
    if cap.data_type is None:
        return None
    request = _is_request(cap)
    if request is None and first_of_direction and cap.form is PayloadForm.RAW and is_server_settings(cap.payload):
        request = False  # the server's opening SETTINGS: a "response"
    if request is None:
        return None
    wrote = cap.data_type is DataType.WRITE
    return "client" if request == wrote else "server"
