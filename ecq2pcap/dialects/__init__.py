"""Dialects: one module per eCapture wire version; detection is per message.

=============  ===========================================  ======================
eCapture       frame                                        module
=============  ===========================================  ======================
v1.4.0–1.4.2   text, JSON ``eqMessage``                     :mod:`.v14_json`
v1.4.3–1.5.x   binary, protobuf ``LogEntry``                :mod:`.v15_proto`
v1.4.3–1.5.x   binary raw text: gotls JSON, bash, --hex …   :mod:`.raw_text`
v2.0.0         protobuf heartbeats and logs only            :mod:`.v15_proto`
v2.1+          protobuf events holding one text rendering   :mod:`.v2_text`
v2.1+          an event log (``--eventaddr``): renderings   :mod:`.v2_text`
               back to back, split by the source
v2.x           console output (stdout without eCaptureQ):   :mod:`.v2_console`
               log lines holding renderings, escaped
=============  ===========================================  ======================

A text frame is JSON; a binary frame is tried as a protobuf ``LogEntry`` first and,
when it is not one (parse error or no oneof set), read as raw text (protocol doc §10.1).
"""

from __future__ import annotations

from ..model import DecodeError, Message, Opcode, Record
from . import raw_text, v2_console, v14_json, v15_proto, v2_text
from .state import StreamState

_TEXT = Opcode.TEXT  # (Enum members cost ~0.15 µs to read on Python 3.11; aliases ~0.02)
_EVENT_TEXT, _CONSOLE = Opcode.EVENT_TEXT, Opcode.CONSOLE


def decode(message: Message, state: StreamState | None = None) -> list[Record]:
    """Records of one message; raises :class:`DecodeError` with a user-facing reason.

    ``state`` carries what earlier messages of the same stream taught (one per stream)."""
    try:
        if message.opcode is _TEXT:
            return v14_json.decode(message)
        data = message.data
        if message.opcode is _EVENT_TEXT:  # (an event log's rendering: what a v2.1+ Event message's payload holds)
            return v2_text.decode_v2_payload(data, message.origin, message.recv_time_ns, state)
        if message.opcode is _CONSOLE:  # (a line of eCapture v2's console output, with its message's further lines)
            return v2_console.decode(data, message.origin, state)
        if not data:
            raise DecodeError("empty binary frame")
        records = v15_proto.decode_log_entry(data, message.origin, message.recv_time_ns, state)
        if records is not None:
            return records
        return raw_text.decode_raw_text(data, message.origin, message.recv_time_ns)
    except RecursionError:  # (msgspec's answer to JSON nested past its depth limit; no eCapture message nests)
        raise DecodeError("nested too deeply to be an eCaptureQ message") from None
