"""Build eCapture v2.1+ streams (protobuf events holding one text rendering per SSL call).

Written from the protocol doc (§4.4, §11) and the v2 sample's lines, independently of
ecq2pcap's v2 dialect: a connect line per connection, then one message per call.
"""

from __future__ import annotations

import base64
import json
import time

from ecq2pcap.dialects.v15_proto import encode_event


class V2Stream:
    def __init__(self, start: float = 1795715800.0) -> None:
        self.t = start
        self.lines: list[bytes] = []

    def _add(self, text: bytes) -> None:
        frame = encode_event(payload=text)
        self.lines.append(json.dumps({"t": round(self.t, 6), "opcode": "binary",
                                      "data_b64": base64.b64encode(frame).decode()}).encode())

    def connect(self, pid: int, fd: int, comm: str, client: tuple[str, int], server: tuple[str, int]) -> None:
        tup = f"[{client[0]}]:{client[1]}->[{server[0]}]:{server[1]}"
        self._add(f"PID:{pid}, Comm:{comm}, TID:{pid}, FD:{fd}, Tuple: {tup}\n".encode())

    def call(self, pid: int, fd: int, comm: str, write: bool, data: bytes, dt: float = 0.001) -> None:
        self.t += dt
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(self.t)) + f".{int(self.t * 1000) % 1000:03d}"
        head = f"[{stamp}] PID:{pid} TID:{pid} Comm:{comm} FD:{fd} {'WRITE' if write else 'READ'} ({len(data)} bytes):\n"
        tail = b"" if data.endswith(b"\n") else b"\n"  # v2 adds a newline only when missing
        self._add(head.encode() + data + tail)

    def dump(self) -> bytes:
        return b"\n".join(self.lines) + b"\n"
