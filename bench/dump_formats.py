"""The output formats of bench/make_dump.py: eCapture v1.4.2 JSON lines, v1.5.2 protobuf frames and v2.5 text
events (both as ecq2pcap recordings), each with the startup logs and heartbeats eCapture sends."""

from __future__ import annotations

import base64
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from fixtures.encoders import V2_DESTROY_TEXT, v2_connect_text, v2_data_text  # noqa: E402

T0 = 1_795_715_800  # 2026-11-26T17:56:40Z, as in the shared sample


def _startup_logs_v14() -> list[dict]:
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(T0))
    base = [
        {"AppName": "eCapture(旁观者)"},
        {"HomePage": "https://ecapture.cc"},
        {"Repository": "https://github.com/gojue/ecapture"},
        {"Version": "linux_amd64:v1.4.2-20250927-5e0c4b7:6.1.0-28-amd64"},
        {"Listen for eCaptureQ": "ws://127.0.0.1:28257/"},
        {"Pid": 19544, "Kernel Info": "6.1.119"},
        {"isReload": False, "moduleName": "EBPFProbeOPENSSL", "message": "module initialization."},
        {"Android": False, "library version": "linux_default_3_0", "message": "OpenSSL/BoringSSL version found"},
        {"mapSize(MB)": 4, "message": "perfEventReader created"},
        {"isReload": False, "moduleName": "EBPFProbeOPENSSL", "message": "module started successfully."},
    ]
    return [{"level": "info", **f, "time": when} for f in base]


def _js(text: str) -> bytes:
    return json.dumps(text).encode()


class V14Writer:
    """eCapture v1.4.2 JSON lines (websocat dump)."""

    hb_every = 60

    def __init__(self, out):
        self.out = out
        for log in _startup_logs_v14():
            self.line(json.dumps({"log_type": 1, "payload": log}, ensure_ascii=False, separators=(",", ":")).encode())

    def line(self, data: bytes) -> None:
        self.out.write(data + b"\n")

    def heartbeat(self, t: float, count: int) -> None:
        self.line(b'{"log_type":0,"payload":{"timestamp":%d,"count":%d,"message":"heartbeat:%d"}}'
                  % (T0 + int(t), count, count))

    def event(self, ev) -> None:  # (a make_dump.Ev)
        c = ev.conn
        b64 = base64.b64encode(ev.payload)
        ts = T0 + ev.ts_ns // 1_000_000_000
        src, sport, dst, dport, pname = c.fields(ev.unknown)
        self.line(
            b'{"log_type":2,"payload":{"timestamp":%d,"uuid":%s,"src_ip":"%s","src_port":%d,"dst_ip":"%s",'
            b'"dst_port":%d,"pid":%d,"pname":%s,"type":%d,"length":%d,"payload_base64":"%s"}}'
            % (ts, _js(c.uuid(ev.dt, ev.unknown)), src.encode(), sport, dst.encode(), dport,
               c.pid, _js(pname), ev.etype, len(b64), b64)
        )


class V15Writer:
    """eCapture v1.5.2 protobuf frames as an ecq2pcap recording."""

    hb_every = 15
    version = "v1.5.2-20251227-0f1e2d3"

    def __init__(self, out):
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from ecq2pcap.dialects import v15_proto
        from ecq2pcap.model import Message, Opcode
        from ecq2pcap.sources.recording import frame_line, header_line

        self.pb, self.Message, self.Opcode, self.frame_line = v15_proto, Message, Opcode, frame_line
        self.out = out
        self.n = 0
        self.line(header_line("ws://127.0.0.1:28257/", float(T0)))
        self.frame(v15_proto.encode_heartbeat(T0, 0), 0.0)
        for log in _startup_logs_v14():
            log = {**log, "Version": log["Version"].replace("v1.4.2-20250927-5e0c4b7", self.version)} \
                if "Version" in log else log
            text = json.dumps(log, ensure_ascii=False, separators=(",", ":")) + "\n"
            self.frame(v15_proto.encode_run_log(text), 0.01)

    def line(self, data: bytes) -> None:
        self.out.write(data + b"\n")

    def frame(self, data: bytes, t: float) -> None:
        self.n += 1
        msg = self.Message(data, self.Opcode.BINARY, f"gen#{self.n}", int((T0 + t) * 1e9))
        self.line(self.frame_line(msg))

    def heartbeat(self, t: float, count: int) -> None:
        self.frame(self.pb.encode_heartbeat(T0 + int(t), count), t)

    def event(self, ev) -> None:  # (a make_dump.Ev)
        c = ev.conn
        src, sport, dst, dport, pname = c.fields(ev.unknown)
        data = self.pb.encode_event(
            timestamp=T0 * 1_000_000_000 + ev.ts_ns, uuid=c.uuid(ev.dt, ev.unknown), src_ip=src, src_port=sport,
            dst_ip=dst, dst_port=dport, pid=c.pid, pname=pname.rstrip("\x00"), type=ev.etype, payload=ev.payload,
        )
        self.frame(data, ev.emit)


class V2Writer(V15Writer):
    """eCapture v2.5 as an ecq2pcap recording: protobuf events holding only a text rendering each: one per SSL
    call (its bytes as they were), a connection's connect line before its first call, and an identity-less
    destroy line after its last (an event of type :data:`DESTROY` from the generator)."""

    version = "v2.5.1-20260621-e28d4c5"
    DESTROY = -1

    def event(self, ev) -> None:  # (a make_dump.Ev)
        c = ev.conn
        if ev.etype == self.DESTROY:
            self.frame(self.pb.encode_event(payload=V2_DESTROY_TEXT), ev.emit)
            return
        if not c.announced:
            c.announced = True
            self.frame(self.pb.encode_event(payload=v2_connect_text(c.pid, c.tid, c.comm, c.fd, c.client, c.server)),
                       ev.emit)
        text = v2_data_text(T0 + ev.ts_ns / 1e9, c.pid, c.tid, c.comm, c.fd, ev.dt == 1, ev.payload)
        self.frame(self.pb.encode_event(payload=text), ev.emit)
