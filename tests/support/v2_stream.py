"""Build eCapture v2.1+ streams (protobuf events holding one text rendering per SSL call).

Written from the protocol doc (§4.4, §11) and the v2 sample's lines, independently of
ecq2pcap's v2 dialect (the renderings are the fixture builders' :mod:`fixtures.encoders`):
a connect line per connection, then one message per call.
"""

from __future__ import annotations

import base64
import json

from ecq2pcap.dialects.v15_proto import encode_event
from fixtures.encoders import v2_connect_text, v2_data_text


class V2Stream:
    def __init__(self, start: float = 1795715800.0) -> None:
        self.t = start
        self.lines: list[bytes] = []

    def _add(self, text: bytes) -> None:
        frame = encode_event(payload=text)
        self.lines.append(json.dumps({"t": round(self.t, 6), "opcode": "binary",
                                      "data_b64": base64.b64encode(frame).decode()}).encode())

    def connect(self, pid: int, fd: int, comm: str, client: tuple[str, int], server: tuple[str, int]) -> None:
        self._add(v2_connect_text(pid, pid, comm, fd, client, server))

    def call(self, pid: int, fd: int, comm: str, write: bool, data: bytes, dt: float = 0.001) -> None:
        self.t += dt
        self._add(v2_data_text(self.t, pid, pid, comm, fd, write, data))

    def dump(self) -> bytes:
        return b"\n".join(self.lines) + b"\n"
