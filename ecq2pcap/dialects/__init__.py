"""Dialects: one module per eCapture wire version; detection is per message.

=============  ==========================  =================================
eCapture       frame                        module
=============  ==========================  =================================
v1.4.0–1.4.2   text, JSON ``eqMessage``     :mod:`.v14_json`
v1.4.3–1.5.x   binary, protobuf LogEntry    :mod:`.v15_proto` (next issue)
v1.4.3+        binary raw text / JSON       :mod:`.raw_text` (next issue)
v2.1+          protobuf, text renderings    :mod:`.v2_text` (next issue)
=============  ==========================  =================================
"""

from __future__ import annotations

from ..model import DecodeError, Message, Opcode, Record
from . import v14_json


def decode(message: Message) -> list[Record]:
    """Records of one message; raises :class:`DecodeError` with a reason."""
    if message.opcode is Opcode.TEXT:
        return v14_json.decode(message)
    raise DecodeError("binary frame (eCapture v1.4.3 or later): this dialect is not supported yet")
