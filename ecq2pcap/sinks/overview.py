"""The overview sink: one row per connection and per HTTP exchange, no file written.

It runs the real pcapng and HAR sinks into nothing and counts what they produce, so
its figures are what the pcapng of the same input holds: frames and bytes (whole
frames, as ``tshark -z conv,tcp`` counts them) and TCP payload bytes each way, the
time from the connection's first packet to its last, and the exchanges of the HAR.
"""

from __future__ import annotations

import struct
from dataclasses import asdict, dataclass, field

from ..model import Closed, Connection, Direction, FlowEvent, Opened
from ..report import Report
from .har import HarSink
from .har.entries import UNKNOWN_METHOD
from .har.options import HarOptions
from .pcapng import PcapngSink
from .pcapng.ports import shown_ports

__all__ = ["ConnectionRow", "ExchangeRow", "OverviewSink"]

_BLOCK = struct.Struct("=II")
_EPB = struct.Struct("=IIIII")  # interface, ts high, ts low, caplen, origlen
_OPT = struct.Struct("=HH")
_U32 = struct.Struct("=I")
_EPB_TYPE, _EPB_FLAGS, _OUTBOUND = 6, 2, 2


@dataclass
class ConnectionRow:
    id: int
    pid: int
    comm: str
    client: str
    server: str  # real address:port
    shown_server_port: int  # the port in the pcapng (--port-map, or kept: Connection.keep_port)
    shown_client_port: int  # the port in the pcapng (another when its 4-tuple was open: Connection.shown_client_port)
    frames_c2s: int = 0
    frames_s2c: int = 0
    bytes_c2s: int = 0  # whole frames, like tshark -z conv,tcp
    bytes_s2c: int = 0
    payload_c2s: int = 0  # TCP payload
    payload_s2c: int = 0
    http: str = ""  # HTTP version(s) of its exchanges
    exchanges: int = 0
    start_ns: int = 0
    end_ns: int = 0
    uuids: list[str] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return (self.end_ns - self.start_ns) / 1e9

    def as_dict(self) -> dict:
        d = asdict(self)
        d["duration"] = round(self.duration_s, 9)
        return d


@dataclass
class ExchangeRow:
    time: str  # ISO 8601, as in the HAR
    connection: int
    method: str | None  # None: the request was not captured
    url: str | None
    status: int | None  # None: the response was not captured
    size: int | None  # response body bytes (decoded); None without a response
    http: str
    stream: int | None = None
    error: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def _endpoint(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


class _Tally:
    """The pcapng sink's output file: parses each write's packet blocks for the current connection."""

    def __init__(self) -> None:
        self.row: ConnectionRow | None = None
        self.conn: Connection | None = None
        self.link_len = 14  # Ethernet header; 0 for raw IP

    def write(self, data: bytes) -> int:
        row, conn = self.row, self.conn
        pos, end = 0, len(data)
        while row is not None and pos + 8 <= end:
            btype, total = _BLOCK.unpack_from(data, pos)
            if btype == _EPB_TYPE:
                _, hi, lo, caplen, _ = _EPB.unpack_from(data, pos + 8)
                ts = hi << 32 | lo
                opt = pos + 28 + ((caplen + 3) & ~3)
                outbound = False
                while opt + 4 <= pos + total - 4:
                    code, length = _OPT.unpack_from(data, opt)
                    if code == 0:
                        break
                    if code == _EPB_FLAGS:
                        outbound = (_U32.unpack_from(data, opt + 4)[0] & 3) == _OUTBOUND
                    opt += 4 + ((length + 3) & ~3)
                c2s = outbound == conn.outbound(Direction.C2S)
                payload = caplen - self._headers(data, pos + 28)
                if c2s:
                    row.frames_c2s += 1
                    row.bytes_c2s += caplen
                    row.payload_c2s += payload
                else:
                    row.frames_s2c += 1
                    row.bytes_s2c += caplen
                    row.payload_s2c += payload
                if not row.start_ns or ts < row.start_ns:
                    row.start_ns = ts
                row.end_ns = max(row.end_ns, ts)
            pos += total
        return end

    def _headers(self, data: bytes, frame: int) -> int:
        """Bytes before the TCP payload: link header, IPv4 (its IHL) or IPv6, TCP (its data offset)."""
        ip = frame + self.link_len
        ip_len = (data[ip] & 15) * 4 if data[ip] >> 4 == 4 else 40
        return self.link_len + ip_len + (data[ip + ip_len + 12] >> 4) * 4

    def flush(self) -> None:
        pass


class _Null:
    def write(self, data) -> int:
        return len(data)

    def flush(self) -> None:
        pass


class OverviewSink:
    """Collects :class:`ConnectionRow` and :class:`ExchangeRow`; ``pcapng_options`` are PcapngSink's
    (port map, link type, mss, raw payload: they change the figures)."""

    def __init__(self, report: Report | None = None, har_options: HarOptions | None = None,
                 **pcapng_options) -> None:
        self.report = report if report is not None else Report()
        self._tally = _Tally()
        self._tally.link_len = 0 if pcapng_options.get("link_type") == "raw" else 14
        # flushed per event: each write the tally sees holds the blocks of the event being handled
        self._pcapng = PcapngSink(self._tally, report=self.report, flush_each_event=True, **pcapng_options)
        self._har = HarSink(_Null(), report=self.report, on_entry=self._entry,
                            options=har_options if har_options is not None else HarOptions())
        self._rows: dict[int, ConnectionRow] = {}
        self.exchanges: list[ExchangeRow] = []

    @property
    def connections(self) -> list[ConnectionRow]:
        return sorted(self._rows.values(), key=lambda r: r.id)

    def handle(self, event: FlowEvent) -> None:
        conn = event.conn
        row = self._rows.get(conn.id)
        if row is None:
            client_port, server_port = shown_ports(self._pcapng.port_map, conn)
            row = self._rows[conn.id] = ConnectionRow(
                conn.id, conn.pid, conn.comm, _endpoint(*conn.client), _endpoint(*conn.server), server_port,
                client_port)
        if type(event) in (Opened, Closed) or not row.uuids:
            row.uuids = list(conn.uuids)
        self._tally.row, self._tally.conn = row, conn
        try:
            self._pcapng.handle(event)
        finally:
            self._tally.row = self._tally.conn = None
        self._har.handle(event)

    def finish(self) -> None:
        self._pcapng.finish()
        self._har.finish()

    def _entry(self, entry: dict) -> None:
        req, resp = entry["request"], entry["response"]
        conn = int(entry.get("connection", 0))
        version = entry["request"].get("httpVersion") or resp.get("httpVersion") or ""
        no_request = req.get("method") == UNKNOWN_METHOD and req.get("url", "").endswith("#request-not-captured")
        status = resp.get("status") or None  # 0: no response captured
        self.exchanges.append(ExchangeRow(
            entry["startedDateTime"], conn, None if no_request else req.get("method"),
            None if no_request else req.get("url"), status,
            resp.get("content", {}).get("size", 0) if status else None, version, entry.get("_streamId"),
            entry.get("_error")))
        row = self._rows.get(conn)
        if row is not None:
            row.exchanges += 1
            if version and version not in row.http.split(", "):
                row.http = f"{row.http}, {version}" if row.http else version
