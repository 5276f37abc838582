"""Which end of the connection did eCapture hook? (protocol doc §10.7)

The v1 tuple is always client→server, but the captured process may be either end
(nginx captures are server side). A request written by the process, or a response
read by it, means the process is the client.
"""

from __future__ import annotations

from ..model import Capture, DataType, PayloadForm

_METHODS = (b"GET ", b"POST ", b"PUT ", b"HEAD ", b"DELETE ", b"OPTIONS ", b"PATCH ", b"CONNECT ",
            b"TRACE ", b"PRI * HTTP/2.0")


def _is_request(cap: Capture) -> bool | None:
    p = cap.payload
    if cap.form is PayloadForm.H2_DUMP:
        if b'header field ":method"' in p[:65536]:
            return True
        if b'header field ":status"' in p[:65536]:
            return False
        return None
    if p.startswith(_METHODS):
        return True
    if p.startswith(b"HTTP/1.") or p.startswith(b"HTTP/2"):
        return False
    return None


def infer_role(cap: Capture) -> str | None:
    """"client", "server" or None when this capture does not tell."""
    if cap.data_type is None:
        return None
    request = _is_request(cap)
    if request is None:
        return None
    wrote = cap.data_type is DataType.WRITE
    return "client" if request == wrote else "server"
