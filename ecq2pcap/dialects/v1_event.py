"""The v1.x event (openssl/gnutls/nspr/gotls/mysql/postgres) as a record.

eCapture v1.4.0–v1.5.x send the same event fields whether the envelope is JSON
(v1.4.0–1.4.2, v1.4.3 gotls) or protobuf (v1.4.3+); this module turns those fields
into a :class:`~ecq2pcap.model.Capture` or :class:`~ecq2pcap.model.Annotation`.
"""

from __future__ import annotations

from ..model import NS_LIMIT, Annotation, Capture, DataType, PayloadForm, Tuple
from ..payloads.hexdump import GO, looks_like_go_dump, reverse
from ..uuids import PARSED, UuidInfo, checked_tuple, parse_event_uuid

_PLACEHOLDER_IPS = {"", "0.0.0.0", "127.0.0.1", "::"}
_HTTP1_STARTS = (b"HTTP/1.", b"GET ", b"POST ", b"PUT ", b"HEAD ", b"DELETE ", b"OPTIONS ",
                 b"PATCH ", b"CONNECT ", b"TRACE ")


_SECONDS_LIMIT = -(-NS_LIMIT // 1_000_000_000)  # (whole seconds below it: its nanoseconds fit)


def timestamp_to_ns(value: int | float | None) -> int | None:
    """eCapture timestamps are seconds (v1.4.0–1.4.2, bash, heartbeats) or
    nanoseconds (v1.4.3+); 0 means unknown (:func:`v1_event_record` then times it when it was received, if known). Tell the unit by magnitude. A time past what a pcapng holds (64 bits of
    nanoseconds, past 2554-07-21: no eCapture's) is unknown too (its packets were timed with the bits that fit)."""
    if type(value) is int:  # (what eCapture sends: the same bounds, exact without the float comparisons)
        if value <= 0:
            return None
        if value < 100_000_000_000:
            value *= 1_000_000_000
        elif value < 100_000_000_000_000:
            value *= 1_000_000
        elif value < 100_000_000_000_000_000:
            value *= 1_000
        return value if value < NS_LIMIT else None
    if not value or value < 0:
        return None
    if value < 1e11:  # seconds until year 5138
        value *= 1_000_000_000
    elif value < 1e14:  # milliseconds
        value *= 1_000_000
    elif value < 1e17:  # microseconds
        value *= 1_000
    return int(value) if value < NS_LIMIT else None


# an event eCapture gave no usable time (0, as in the v1.4.0 README's sample, or one past what a pcapng holds) is timed
# when its message was received (eCaptureQ's receive time, a recording's ``t``), as a v2 event without a time is
RECEIVED_NOTE = "eCapture gave no capture time: the time it was received is used"


def _fields_tuple(src_ip: str, src_port: int, dst_ip: str, dst_port: int) -> Tuple | None:
    """The src/dst fields, unless they are eCapture's placeholders."""
    if not src_port or not dst_port or src_ip in _PLACEHOLDER_IPS and dst_ip in _PLACEHOLDER_IPS:
        return None
    if not src_ip or not dst_ip:
        return None
    return checked_tuple(src_ip, src_port, dst_ip, dst_port)  # (999.0.0.1: a NotedTuple, its endpoints invented)


# (Enum members cost ~0.15 µs to read on Python 3.11; aliases ~0.02)
_RENDERED, _RAW = PayloadForm.HTTP1_RENDERED, PayloadForm.RAW
_MODULES = {"openssl": "openssl", "nofd": "gnutls/nspr", "gotls": "gotls"}  # by uuid kind


def _classify(payload: bytes, ectype: int) -> tuple[bytes, PayloadForm, tuple[str, ...]]:
    """The payload (a Go hex dump reversed), its form, and what was noted (mostly nothing: ``()``, no list made)."""
    notes: tuple[str, ...] = ()
    if looks_like_go_dump(payload):
        try:
            payload = reverse(payload, GO)
            notes = ("payload was a Go hex dump: reversed to bytes",)
        except ValueError as exc:
            notes = (f"payload looks like a hex dump but could not be reversed ({exc}): kept as text",)
    if ectype in (1, 3):
        if payload.startswith(_HTTP1_STARTS):
            return payload, _RENDERED, notes
        if payload:
            notes += (f"eCapture type {ectype} but not an HTTP/1 rendering: treated as raw data",)
        return payload, _RAW, notes
    if ectype in (2, 4):
        if payload.startswith(b"\nFrame Type\t=>\t") or payload.startswith(b"Frame Type\t=>\t"):
            return payload, PayloadForm.H2_DUMP, notes
        if payload:
            notes += (f"eCapture type {ectype} but not an HTTP/2 text dump: treated as raw data",)
    return payload, _RAW, notes


# eCapture's uuid is < 130 characters, its pname 15 (the kernel's comm), an address text < 50: a connection
# keeps them while it is open (4,096 at once), so much longer ones (a 32 MiB line may hold them) are refused
UUID_CHARS, PNAME_CHARS, ADDRESS_CHARS = 1024, 256, 64
FIELD_CHARS = {"uuid": UUID_CHARS, "pname": PNAME_CHARS, "src_ip": ADDRESS_CHARS, "dst_ip": ADDRESS_CHARS}


def _refuse_long_fields(**values: str) -> None:
    for name, value in values.items():
        if len(value) > FIELD_CHARS[name]:
            raise ValueError(f"{name} of {len(value):,} characters: longer than eCapture writes "
                             f"(at most {FIELD_CHARS[name]:,} taken)")


def v1_event_record(ev, payload: bytes, origin: str, recv_time_ns: int | None = None) -> Capture | Annotation:
    """Build the record for one v1 event: ``ev`` holds its fields by the schema's names (timestamp, uuid, src_ip,
    src_port, dst_ip, dst_port, pid, pname, type: the JSON event's or the protobuf's), ``payload`` its bytes,
    ``recv_time_ns`` when its message was received, if known (its time when eCapture gave none: :data:`RECEIVED_NOTE`).
    Raises ValueError for an unparsable uuid. (The event as one argument, not its eleven fields by keyword:
    ~1k instructions less an event.)"""
    uuid, pname, src_ip, dst_ip, pid, ectype = ev.uuid, ev.pname, ev.src_ip, ev.dst_ip, ev.pid, ev.type
    if len(uuid) > UUID_CHARS or len(pname) > PNAME_CHARS or len(src_ip) > ADDRESS_CHARS or len(dst_ip) > ADDRESS_CHARS:
        _refuse_long_fields(uuid=uuid, pname=pname, src_ip=src_ip, dst_ip=dst_ip)
    # (parse_uuid without its call; a new one with the tuple the fields name)
    info: UuidInfo = PARSED.known.get(uuid) or parse_event_uuid(uuid, src_ip, ev.src_port, dst_ip, ev.dst_port)
    comm = pname.rstrip("\x00") or info.comm
    t = ev.timestamp  # (whole seconds, v1.4's, without timestamp_to_ns's call)
    ts = t * 1_000_000_000 if type(t) is int and 0 < t < _SECONDS_LIMIT else timestamp_to_ns(t)
    received = ts is None and recv_time_ns is not None  # (eCapture gave no time: when it was received)
    if received:
        ts = recv_time_ns
    kind = info.kind
    if kind == "pidcomm":  # mysql / postgres: queries, not TLS data
        text = payload.decode("utf-8", "replace")
        return Annotation("sql", text, pid=pid or info.pid, comm=comm, timestamp_ns=ts, origin=origin)

    data_type = info.data_type
    module = _MODULES[kind]
    if kind == "gotls":
        # gotls: `type` is the Go event type, 0 write / 1 read; payload is raw
        data_type = DataType.WRITE if ectype == 0 else DataType.READ if ectype == 1 else None
        form, notes = _RAW, ()
    elif (ectype == 1 or ectype == 3) and payload.startswith(_HTTP1_STARTS):
        form, notes = _RENDERED, ()  # (_classify's answer for most events, without its call and the Go dump test's:
        # such a payload is no Go hex dump, whose first line starts with its offset)
    else:
        payload, form, notes = _classify(payload, ectype)

    if received:
        notes = (*notes, RECEIVED_NOTE)
    tup = info.tuple if kind == "openssl" else None
    if tup is None and kind == "openssl" and not info.sock_form:
        tup = _fields_tuple(src_ip, ev.src_port, dst_ip, ev.dst_port)
    # (by position, in the fields' order: ~0.6k instructions less than by keyword)
    return Capture(pid or info.pid, info.tid, comm, info.fd, data_type, tup, ts, payload, form, ectype, uuid, module,
                   origin, notes)
