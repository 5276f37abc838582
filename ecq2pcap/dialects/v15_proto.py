"""eCapture v1.4.3 → v2.5.1: binary frames carrying one protobuf ``LogEntry``.

(protocol doc §1.4.) The schema ``protobuf/proto/v1/ecaptureq.proto`` (proto3,
package ``event``) never changed between v1.4.3 and v2.5.1::

    enum LogType { LOG_TYPE_HEARTBEAT = 0; LOG_TYPE_PROCESS_LOG = 1; LOG_TYPE_EVENT = 2; }
    message Event { int64 timestamp = 1; string uuid = 2; string src_ip = 3; uint32 src_port = 4;
                    string dst_ip = 5; uint32 dst_port = 6; int64 pid = 7; string pname = 8;
                    uint32 type = 9; uint32 length = 10; bytes payload = 11; }
    message Heartbeat { int64 timestamp = 1; int64 count = 2; string message = 3; }
    message LogEntry { LogType log_type = 1;
                       oneof payload { Event event_payload = 2; Heartbeat heartbeat_payload = 3;
                                       string run_log = 4; } }

The descriptor is built at import time from a ``FileDescriptorProto`` in a private
pool (no protoc, no generated module); the APIs used exist from protobuf 4.25 on.

Decoding rules:

* dispatch on the ``oneof``, never on ``log_type`` (proto3 omits zeros, so a
  heartbeat has no ``log_type`` on the wire);
* heartbeat ``timestamp`` is Unix seconds; event ``timestamp`` is ns (v1.4.3+), and
  absent fields mean 0 (no type, ports, timestamp);
* ``length`` is never checked (it is the byte length in v1.x, the text length in v2);
* an event with empty uuid, pid and timestamp is eCapture v2.1+'s text rendering of one
  eBPF event: handed to :mod:`.v2_text`;
* ``run_log`` is a zerolog JSON line (with its trailing newline).
"""

from __future__ import annotations

import msgspec
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError as _PbDecodeError

from ..model import DecodeError, Heartbeat, ProcessLog, Record
from . import v2_text
from .state import StreamState
from .v1_event import timestamp_to_ns, v1_event_record

LOG_TYPE_HEARTBEAT, LOG_TYPE_PROCESS_LOG, LOG_TYPE_EVENT = 0, 1, 2


def _build_pool() -> descriptor_pool.DescriptorPool:
    F = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(name="ecq2pcap/ecaptureq_v1.proto", package="event", syntax="proto3")
    enum = fdp.enum_type.add(name="LogType")
    for number, name in enumerate(("LOG_TYPE_HEARTBEAT", "LOG_TYPE_PROCESS_LOG", "LOG_TYPE_EVENT")):
        enum.value.add(name=name, number=number)

    def add(msg, name, number, ftype, type_name=None, oneof=None):
        f = msg.field.add(name=name, number=number, type=ftype, label=F.LABEL_OPTIONAL)
        if type_name:
            f.type_name = type_name
        if oneof is not None:
            f.oneof_index = oneof

    ev = fdp.message_type.add(name="Event")
    for number, (name, ftype) in enumerate(
        (("timestamp", F.TYPE_INT64), ("uuid", F.TYPE_STRING), ("src_ip", F.TYPE_STRING),
         ("src_port", F.TYPE_UINT32), ("dst_ip", F.TYPE_STRING), ("dst_port", F.TYPE_UINT32),
         ("pid", F.TYPE_INT64), ("pname", F.TYPE_STRING), ("type", F.TYPE_UINT32),
         ("length", F.TYPE_UINT32), ("payload", F.TYPE_BYTES)),
        start=1,
    ):
        add(ev, name, number, ftype)
    hb = fdp.message_type.add(name="Heartbeat")
    add(hb, "timestamp", 1, F.TYPE_INT64)
    add(hb, "count", 2, F.TYPE_INT64)
    add(hb, "message", 3, F.TYPE_STRING)
    le = fdp.message_type.add(name="LogEntry")
    le.oneof_decl.add(name="payload")
    add(le, "log_type", 1, F.TYPE_ENUM, ".event.LogType")
    add(le, "event_payload", 2, F.TYPE_MESSAGE, ".event.Event", oneof=0)
    add(le, "heartbeat_payload", 3, F.TYPE_MESSAGE, ".event.Heartbeat", oneof=0)
    add(le, "run_log", 4, F.TYPE_STRING, oneof=0)

    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(fdp.SerializeToString())
    return pool


_POOL = _build_pool()
LogEntry = message_factory.GetMessageClass(_POOL.FindMessageTypeByName("event.LogEntry"))
Event = message_factory.GetMessageClass(_POOL.FindMessageTypeByName("event.Event"))
HeartbeatMsg = message_factory.GetMessageClass(_POOL.FindMessageTypeByName("event.Heartbeat"))
_from_string = LogEntry.FromString  # (LogEntry() then its ParseFromString: two calls)

_json = msgspec.json.Decoder()


# --------------------------------------------------------------------------- decoding


def parse_log_entry(data: bytes):
    """(the parsed ``LogEntry``, the name of its oneof's set field), or None when the bytes are not one: a parse
    error, or no oneof set (which covers bytes that parse as unknown fields only). Unknown fields next to a set
    oneof are tolerated, as a newer eCapture might add some. (Made and parsed in one call, and the name asked once
    and handed on: ~2.5k instructions a message less.)"""
    try:
        msg = _from_string(data)
    except (_PbDecodeError, ValueError, RuntimeError):
        return None
    which = msg.WhichOneof("payload")
    return None if which is None else (msg, which)


def _process_log(text: str, origin: str) -> ProcessLog:
    line = text.rstrip("\r\n")
    fields = None
    try:
        value = _json.decode(line)
    except (msgspec.DecodeError, UnicodeError):
        value = None
    if isinstance(value, dict):
        fields = value
    return ProcessLog(line, fields, origin)


def decode_log_entry(
    data: bytes, origin: str, recv_time_ns: int | None = None, state: StreamState | None = None
) -> list[Record] | None:
    """Records of one binary frame, or None when it is not a ``LogEntry`` (the caller then
    treats it as raw text). Raises :class:`DecodeError` for a LogEntry whose v1 event
    cannot be used (unparsable uuid)."""
    parsed = parse_log_entry(data)
    if parsed is None:
        return None
    msg, which = parsed
    if which == "heartbeat_payload":
        hb = msg.heartbeat_payload
        return [Heartbeat(timestamp_to_ns(hb.timestamp), hb.count, hb.message, origin)]
    if which == "run_log":
        return [_process_log(msg.run_log, origin)]
    ev = msg.event_payload
    if not ev.uuid and not ev.pid and not ev.timestamp:
        # v2.1+: only payload+length, the payload is the text rendering of one eBPF event
        return v2_text.decode_v2_payload(ev.payload, origin, recv_time_ns, state)
    try:
        record = v1_event_record(ev, ev.payload, origin, recv_time_ns)
    except ValueError as exc:
        raise DecodeError(f"protobuf event: {exc}") from None
    return [record]


# --------------------------------------------------------------------------- encoding


def encode_event(log_type: int = LOG_TYPE_EVENT, **fields) -> bytes:
    """A serialized ``LogEntry`` holding an ``Event`` with these fields (names as in the
    schema: timestamp, uuid, src_ip, src_port, dst_ip, dst_port, pid, pname, type,
    length, payload). ``length`` defaults to ``len(payload)`` like eCapture v1.4.3+."""
    if "payload" in fields and "length" not in fields:
        fields["length"] = len(fields["payload"])
    entry = LogEntry(log_type=log_type, event_payload=Event(**fields))
    return entry.SerializeToString(deterministic=True)


def encode_heartbeat(timestamp: int, count: int = 0, message: str | None = None) -> bytes:
    """A serialized heartbeat ``LogEntry`` (``timestamp`` in Unix seconds; log_type 0 is
    omitted on the wire, as eCapture's Go encoder does)."""
    hb = HeartbeatMsg(timestamp=timestamp, count=count, message=f"heartbeat:{count}" if message is None else message)
    return LogEntry(log_type=LOG_TYPE_HEARTBEAT, heartbeat_payload=hb).SerializeToString(deterministic=True)


def encode_run_log(text: str) -> bytes:
    """A serialized process-log ``LogEntry`` (``text`` is a zerolog JSON line with ``\\n``)."""
    return LogEntry(log_type=LOG_TYPE_PROCESS_LOG, run_log=text).SerializeToString(deterministic=True)


def delimit(entry: bytes) -> bytes:
    """``entry`` with a varint length prefix (protobuf's length-delimited stream form)."""
    n, out = len(entry), bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out) + entry
