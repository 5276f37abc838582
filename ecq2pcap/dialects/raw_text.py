"""eCapture v1.4.3–v1.5.x: binary frames that are not protobuf (protocol doc §5, §10.1).

Some modules write their ``String()``/``StringHex()`` text straight to the eCaptureQ
writer (gojue/ecapture ``user/module/imodule.go`` ``Dispatcher``: ``--hex`` sends every
"event processor" and "output" event as ``StringHex()``; ``probe_bash.go``/``probe_zsh.go``
always write text; v1.4.3 also writes mysql/postgres/gotls ``String()``). The forms,
from ``user/event/*.go``:

=====================  ===================================================  ============
module                 text                                                 record
=====================  ===================================================  ============
gotls (v1.4.3)         ``{"timestamp":…,"uuid":…,"payload":"<base64>"…}``   Capture via
                       (``Base.Encode()``; ``length`` = base64 length)      v14_json
gotls ``--hex``        ``PID: p, Comm: c, TID: t, PayloadType:0|1,``         Capture
                       `` Payload: \\n<v1 dump>\\n``
gnutls/nspr ``--hex``  ``PID:p, Comm:c, Type:Received|Send, TID:t,``        Capture
                       `` DataLen:n bytes, Payload:\\n<v1 dump>``
bash                   ``PID:p, UID:u, \\tComm:c, \\tRetvalue:r, \\tLine:\\n…``  Annotation
                       (``--hex``: the line as a v1 dump, then ``,``)
zsh                    ``PID:p, UID:u, \\tComm:c, \\tLine:\\n…``                Annotation
mysql (v1.4.3,         `` PID:p, Comm:c, Time:t,  length:(l/a),  return:…,``  Annotation
``--hex`` later)       `` Line:…``                                           "sql"
postgres               `` PID: p, Comm: c, Time: t, Query: …``              Annotation
anything else          text                                                 Annotation
                                                                            "text"
=====================  ===================================================  ============

The v1 dump (``user/event/misc.go`` ``dumpByteSlice``) has 16 bytes a line, a
**decimal** ``%04d`` offset, `` %02X`` bytes in groups of 4, and a 16-character ASCII
column; each line may start with an ANSI colour (plus a tab for gnutls/nspr "Send"),
and a colour reset follows the last line. ``comm`` is the raw 16-byte kernel buffer
(NUL padding removed here). None of these texts has a timestamp: the receive time is
used. The --hex TLS captures have no fd and no tuple, so the connection table groups
them per (pid, tid, comm) with synthetic endpoints.
"""

from __future__ import annotations

import re

from ..model import Annotation, Capture, DataType, DecodeError, PayloadForm, Record
from ..payloads.hexdump import ECAPTURE_V1, reverse
from . import v14_json


# (numbers: at most 18 digits, so that int() never meets the 4,300 it refuses)
_GOTLS_HEX = re.compile(rb"PID: (\d{1,18}), Comm: (.{0,64}?), TID: (\d{1,18}), PayloadType:(\d{1,18}), Payload: \n",
                        re.S)
_NOFD_HEX = re.compile(
    rb"PID:(\d{1,18}), Comm:(.{0,64}?), Type:(\x1b\[\d+m)?(Received|Send)?(?:\x1b\[0m)?, TID:(\d{1,18}), "
    rb"DataLen:(\d{1,18}) bytes, Payload:\n",
    re.S,
)
_BASH = re.compile(rb"PID:(\d{1,18}), UID:(\d{1,18}), \tComm:(.{0,64}?), \tRetvalue:(-?\d{1,18}), \tLine:\n", re.S)
_ZSH = re.compile(rb"PID:(\d{1,18}), UID:(\d{1,18}), \tComm:(.{0,64}?), \tLine:\n", re.S)
_MYSQL = re.compile(rb" PID:(\d{1,18}), Comm:(.{0,64}?), Time:\d+,  length:\(\d+/\d+\),  return:\w*, Line:", re.S)
_POSTGRES = re.compile(rb" PID: (\d{1,18}), Comm: (.{0,64}?), Time: \d+, Query: ", re.S)
_MASTERKEY = (b"TLS Version:", b"ClientRandom: ", b"Label")
_PACKET = re.compile(rb"Pid:(\d{1,18}), Comm:(.{0,64}?), Length:\d+, Ifindex:\d+, Payload:", re.S)

# bytes that may appear in text frames (NUL: %s of a raw [16]byte comm)
_TEXT_CONTROLS_OK = bytes(range(32, 256)) + b"\t\n\r\x1b\x00"


def _comm(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


def _s(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def _capture(pid, tid, comm, data_type, payload, module, origin, recv_time_ns) -> Capture:
    return Capture(
        pid=pid, tid=tid, comm=comm, fd=None, data_type=data_type, tuple=None, timestamp_ns=recv_time_ns,
        payload=payload, form=PayloadForm.RAW, ectype=None, uuid=None, module=module, origin=origin,
        notes=("eCapture --hex text frame: hex dump reversed to bytes",),
    )


def _looks_textual(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return len(data.translate(None, _TEXT_CONTROLS_OK)) * 20 <= len(data)


def decode_raw_text(data: bytes, origin: str, recv_time_ns: int | None = None) -> list[Record]:
    """Records of one non-protobuf binary frame. Raises :class:`DecodeError` only for a
    broken gotls JSON event or bytes that are not text at all."""
    if data.startswith(b"{"):
        try:
            return [v14_json.decode_event_json(data, origin, recv_time_ns)]
        except ValueError as exc:  # ours, msgspec's DecodeError (bad JSON) and UnicodeDecodeError alike
            raise DecodeError(f"raw JSON frame (eCapture v1.4.3 gotls): {exc}") from None

    def ann(kind: str, body: bytes, pid: int | None = None, comm: bytes = b"") -> list[Record]:
        return [Annotation(kind, _s(body), pid=pid, comm=_comm(comm), timestamp_ns=recv_time_ns, origin=origin)]

    if (m := _GOTLS_HEX.match(data)) is not None:
        try:
            payload = reverse(data[m.end() :], ECAPTURE_V1)
        except ValueError:
            return ann("unreadable-hex", data, int(m[1]), m[2])
        ptype = int(m[4])
        data_type = DataType.WRITE if ptype == 0 else DataType.READ if ptype == 1 else None
        return [_capture(int(m[1]), int(m[3]), _comm(m[2]), data_type, payload, "gotls", origin, recv_time_ns)]
    if (m := _NOFD_HEX.match(data)) is not None:
        try:
            payload = reverse(data[m.end() :], ECAPTURE_V1)
        except ValueError:
            return ann("unreadable-hex", data, int(m[1]), m[2])
        data_type = {b"Received": DataType.READ, b"Send": DataType.WRITE}.get(m[4])
        return [_capture(int(m[1]), int(m[5]), _comm(m[2]), data_type, payload, "gnutls/nspr", origin, recv_time_ns)]
    if (m := _BASH.match(data)) is not None or (m := _ZSH.match(data)) is not None:
        body = data[m.end() :]
        if m.re is _BASH and body.endswith(b","):  # StringHex: a v1 dump, then ","
            try:
                body = reverse(body, ECAPTURE_V1)
            except ValueError:
                pass
        elif body.endswith(b"\0,"):  # zsh StringHex: the raw NUL-padded line buffer, then ","
            body = body.split(b"\0", 1)[0]
        return ann("bash" if m.re is _BASH else "zsh", body.rstrip(b"\n"), int(m[1]), m[3])
    if (m := _MYSQL.match(data)) is not None or (m := _POSTGRES.match(data)) is not None:
        return ann("sql", data[m.end() :].split(b"\0", 1)[0], int(m[1]), m[2])
    if data.startswith(_MASTERKEY):
        return ann("masterkey", data)
    if (m := _PACKET.match(data)) is not None:
        return ann("packet", data, int(m[1]), m[2])
    if not data:
        raise DecodeError("empty binary frame")
    if not _looks_textual(data):
        raise DecodeError(
            f"binary frame of {len(data)} bytes is neither a protobuf LogEntry nor eCapture text "
            f"(starts {data[:16].hex(' ')})"
        )
    return ann("text", data.rstrip(b"\n"))
