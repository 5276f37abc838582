"""eCapture v1.4.0–v1.4.2: text frames of JSON ``{"log_type": N, "payload": …}``.

(protocol doc §1.3.) ``length`` is the length of the base64 text, not of the bytes,
so it is never checked. ``payload_base64`` was renamed ``payload`` in v1.4.3's gotls
JSON, which :func:`decode_event_json` also accepts.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from ..model import Annotation, DecodeError, Heartbeat, Message, ProcessLog, Record
from .v1_event import timestamp_to_ns, v1_event_record


class _Envelope(msgspec.Struct):
    log_type: int
    payload: msgspec.Raw = msgspec.Raw(b"null")


class _Heartbeat(msgspec.Struct):
    timestamp: int = 0
    count: int = 0
    message: str = ""


_U32 = Annotated[int, msgspec.Meta(ge=0, le=0xFFFFFFFF)]
_Port = Annotated[int, msgspec.Meta(ge=0, le=0xFFFF)]


class _Event(msgspec.Struct):
    uuid: str
    timestamp: int = 0
    src_ip: str = ""
    src_port: _Port = 0
    dst_ip: str = ""
    dst_port: _Port = 0
    pid: _U32 = 0  # (Go's uint32: a negative or huge one is not eCapture's)
    pname: str = ""
    type: int = 0
    length: int = 0
    payload_base64: bytes | None = None
    payload: bytes | None = None


class _EventEnvelope(msgspec.Struct):
    """An event line in one pass (the envelope's ``Raw`` payload would be scanned twice: ~5 µs of a 16 KB event)."""

    log_type: int
    payload: _Event | None = None


_envelope = msgspec.json.Decoder(_Envelope)
_event_envelope = msgspec.json.Decoder(_EventEnvelope)
_heartbeat = msgspec.json.Decoder(_Heartbeat)
_event = msgspec.json.Decoder(_Event)
_any = msgspec.json.Decoder()


def _reason(exc: Exception) -> str:
    text = str(exc)
    if "base64" in text:
        return f"bad base64 in event payload ({text})"
    return text


def decode_event_json(data: bytes | msgspec.Raw, origin: str, recv_time_ns: int | None = None) -> Record:
    """One event object (the envelope's payload, or v1.4.3 gotls's bare JSON), received at ``recv_time_ns``."""
    try:
        ev = _event.decode(data)
    except msgspec.ValidationError as exc:
        raise DecodeError(f"event: {_reason(exc)}") from None
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise DecodeError(f"event: invalid JSON ({exc})") from None
    return _record(ev, origin, recv_time_ns)


def _record(ev: _Event, origin: str, recv_time_ns: int | None) -> Record:
    payload = ev.payload_base64 if ev.payload_base64 is not None else ev.payload
    if payload is None:
        raise DecodeError("event has no payload_base64")
    try:
        return v1_event_record(ev, payload, origin, recv_time_ns)
    except ValueError as exc:
        raise DecodeError(str(exc)) from None


def decode(message: Message) -> list[Record]:
    try:  # most lines are events: typed in one pass; anything else (or wrong) takes the general path below
        event = _event_envelope.decode(message.data)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError):
        event = None
    if event is not None and event.log_type == 2 and event.payload is not None:
        return [_record(event.payload, message.origin, message.recv_time_ns)]
    try:
        env = _envelope.decode(message.data)
    except msgspec.ValidationError as exc:
        raise DecodeError(f"not an eCaptureQ JSON message: {exc}") from None
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise DecodeError(f"invalid JSON: {exc}") from None
    try:
        if env.log_type == 2:
            return [decode_event_json(env.payload, message.origin, message.recv_time_ns)]
        if env.log_type == 0:
            hb = _heartbeat.decode(env.payload)
            return [Heartbeat(timestamp_to_ns(hb.timestamp), hb.count, hb.message, message.origin)]
        if env.log_type == 1:
            fields = _any.decode(env.payload)
            if isinstance(fields, dict):
                text = msgspec.json.encode(fields).decode()
                return [ProcessLog(text, fields, message.origin)]
            return [ProcessLog(str(fields), None, message.origin)]
    except msgspec.ValidationError as exc:
        raise DecodeError(f"log_type {env.log_type}: {_reason(exc)}") from None
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise DecodeError(f"invalid JSON payload: {exc}") from None
    # unknown types are kept visible (counted, listed), not fatal
    text = bytes(env.payload).decode("utf-8", "replace")
    return [Annotation(f"unknown log_type {env.log_type}", text, origin=message.origin)]
