"""What the SETTINGS frames of one HTTP/2 connection bind, as a passive observer sees them (sans-IO).

SETTINGS sent in direction D govern what travels the other way: its HPACK table size limit (raised at once, lowered
only when D's SETTINGS are acknowledged — the ACK travels the other way, before the next header block) and its
largest frame. A passive decoder only raises its own tolerances early; it never rejects what a peer accepted.
"""

from __future__ import annotations

import struct

from hyperframe.frame import SettingsFrame

from ...model import Direction
from .sniff import DEFAULT_MAX_FRAME
from .tolerant_hpack import PassiveHpack

_SETTING = struct.Struct(">HL")


class SettingsLedger:
    def __init__(self) -> None:
        self.sent: tuple[dict[int, int], dict[int, int]] = ({}, {})  # last value of each setting sent per direction
        self.max_frame = [DEFAULT_MAX_FRAME, DEFAULT_MAX_FRAME]  # largest frame accepted per direction
        self._unacked: tuple[list[dict[int, int]], list[dict[int, int]]] = ([], [])

    def record(self, d: Direction, ack: bool, body: bytes, hpack: tuple[PassiveHpack, PassiveHpack],
               start_known: bool | None) -> None:
        """A SETTINGS frame travelled ``d`` (an ACK, or ``body``: its (name, value) pairs, whole: see
        :func:`~.sniff.layout_problem`); ``hpack[x]`` decodes header blocks sent in direction x."""
        other = d.other
        if ack:
            # acknowledges SETTINGS sent the other way: now they bind the encoder sending in d
            pending = self._unacked[other]
            if pending:
                size = pending.pop(0).get(SettingsFrame.HEADER_TABLE_SIZE)
                if size is not None and start_known:
                    hpack[d].max_allowed_table_size = size
            return
        values = dict(_SETTING.iter_unpack(body))  # (a name given twice: its last value, as hyperframe reads it)
        self.sent[d].update(values)
        self._unacked[d].append(values)
        size = values.get(SettingsFrame.HEADER_TABLE_SIZE)
        if size is not None:  # settings sent in d govern header blocks sent the other way
            dec = hpack[other]
            dec.max_allowed_table_size = max(dec.max_allowed_table_size, size)
        max_frame = values.get(SettingsFrame.MAX_FRAME_SIZE)
        if max_frame is not None:
            self.max_frame[other] = max(self.max_frame[other], max_frame)
