"""A tolerant HPACK decoder for a passive observer: unknown table indices (capture started
mid-connection) decode to placeholders, a table-size update beyond what was advertised is noted,
and the dynamic table is clipped to ``--max-hpack-table``."""

from __future__ import annotations

import hpack
from hpack.exceptions import HPACKError, InvalidTableIndex, OversizedHeaderListError
from hpack.hpack import decode_integer
from hpack.table import HeaderTable

from ...limits import DEFAULT_LIMITS, limit_note

HPACK_STATE_UNKNOWN = "headers not decodable: HPACK state unknown (connection start not captured)"


class _TolerantTable(HeaderTable):
    """Header table that answers unknown indices with a placeholder instead of raising."""

    def __init__(self) -> None:
        super().__init__()
        self.misses = 0

    def get_by_index(self, index: int) -> tuple[bytes, bytes]:
        try:
            return super().get_by_index(index)
        except InvalidTableIndex:
            if index <= 0:
                raise
            self.misses += 1
            return (b"", b"")


class _PassiveDecoder(hpack.Decoder):
    """hpack.Decoder that notes (instead of raising on) table-size violations and
    tolerates unknown table indices; :meth:`decode_block` reports both."""

    def __init__(self, max_table: int = DEFAULT_LIMITS.hpack_table_size,
                 max_list: int = DEFAULT_LIMITS.header_list_size) -> None:
        super().__init__(max_header_list_size=max_list)
        self.header_table = _TolerantTable()
        self.max_allowed_table_size = self.header_table.maxsize
        self.max_table = max_table  # our memory bound, whatever the peers agreed
        self._size_notes: list[str] = []

    def _update_encoding_context(self, data: bytes | memoryview) -> int:
        new_size, consumed = decode_integer(data, 5)
        if new_size > self.max_allowed_table_size:
            self._size_notes.append(
                f"HPACK table size update to {new_size} exceeds the advertised {self.max_allowed_table_size}"
            )
        self.set_table_size(new_size)
        return consumed

    def set_table_size(self, size: int) -> None:
        """Resize the dynamic table, clipped to ``max_table`` (then the encoder's oldest entries
        are unknown here: their headers come out as not decodable, never as wrong ones)."""
        if size > self.max_table:
            self._size_notes.append(limit_note(
                "hpack_table_size", f"HPACK table of {size} bytes kept at {self.max_table} bytes"))
            size = self.max_table
        self.header_table_size = size

    def _assert_valid_table_size(self) -> None:
        if self.header_table_size > self.max_allowed_table_size:
            self._size_notes.append(
                f"HPACK table size {self.header_table_size} exceeds the advertised {self.max_allowed_table_size}"
            )

    def decode_block(self, block: bytes) -> tuple[list[tuple[str, str]], int, list[str]]:
        """Decode one complete header block → (headers, unknown-index count, notes).
        Raises hpack's HPACKError on a malformed block."""
        self.header_table.misses = 0
        self._size_notes = []
        raw = self.decode(block, raw=True)
        headers = [(_text(n), _text(v)) for n, v in raw if n]  # empty name = unknown entry
        return headers, self.header_table.misses, self._size_notes


def _text(b: bytes) -> str:
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return b.decode("latin-1")


def decode_headers(dec: _PassiveDecoder, block: bytes, start_known: bool) -> tuple[list[tuple[str, str]], str | None]:
    """The headers of one complete block and the stream error to note (None when clean);
    ``start_known``: the connection's start was captured (else HPACK state is unknown)."""
    try:
        headers, misses, notes = dec.decode_block(block)
    except OversizedHeaderListError:
        return [], limit_note("header_list_size", f"header list over {dec.max_header_list_size} bytes not decoded")
    except (HPACKError, IndexError, ValueError) as exc:
        if not start_known:
            return [], HPACK_STATE_UNKNOWN
        return [], f"headers not decodable: HPACK error ({exc})"
    if misses:
        if not start_known:
            return headers, HPACK_STATE_UNKNOWN
        return headers, f"headers partly not decodable: {misses} unknown HPACK table entries"
    if notes:
        return headers, "; ".join(notes)
    return headers, None
