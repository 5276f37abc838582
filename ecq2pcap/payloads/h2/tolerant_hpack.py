"""HPACK (RFC 7541) for a passive observer, on hpack's public API only.

A browser or server that decodes HPACK may stop at the first error; an observer must not. The capture may
start mid-connection (the dynamic table is unknown), a peer may announce a table size the other side never
allowed, and a hostile one may ask for a 1 GiB table. So this module walks the header block itself: the
representations (§6), the integers (§5.1), the static table (Appendix A) and the dynamic table with its
eviction (§4), which are small and fixed; and it leaves to ``hpack.Decoder`` what is intricate, the Huffman
code (§5.2), by handing it each Huffman-coded string as a one-literal header block.

* an index beyond the known table decodes to an empty entry (counted; the header is left out), and a literal
  it names still enters the table, so later indices stay aligned;
* a table-size update beyond what was advertised is noted, not refused;
* the dynamic table is clipped to ``--max-hpack-table``: entries the encoder still has but we dropped decode
  as unknown, never as wrong ones.
"""

from __future__ import annotations

from collections import deque

import hpack
from hpack.exceptions import HPACKError

from ...limits import DEFAULT_LIMITS, limit_note
from ...memo import Memo

HPACK_STATE_UNKNOWN = "headers not decodable: HPACK state unknown (connection start not captured)"
DEFAULT_TABLE_SIZE = 4096  # SETTINGS_HEADER_TABLE_SIZE's initial value (RFC 9113 §6.5.2)
ENTRY_OVERHEAD = 32  # §4.1
_MAX_INTEGER_BYTES = 6  # 5 continuation bytes: up to 2^35, far beyond any size a block may carry

# RFC 7541 Appendix A; index i is STATIC_TABLE[i - 1]
STATIC_TABLE: tuple[tuple[bytes, bytes], ...] = tuple((n.encode(), v.encode()) for n, v in (
    (":authority", ""), (":method", "GET"), (":method", "POST"), (":path", "/"), (":path", "/index.html"),
    (":scheme", "http"), (":scheme", "https"), (":status", "200"), (":status", "204"), (":status", "206"),
    (":status", "304"), (":status", "400"), (":status", "404"), (":status", "500"), ("accept-charset", ""),
    ("accept-encoding", "gzip, deflate"), ("accept-language", ""), ("accept-ranges", ""), ("accept", ""),
    ("access-control-allow-origin", ""), ("age", ""), ("allow", ""), ("authorization", ""), ("cache-control", ""),
    ("content-disposition", ""), ("content-encoding", ""), ("content-language", ""), ("content-length", ""),
    ("content-location", ""), ("content-range", ""), ("content-type", ""), ("cookie", ""), ("date", ""),
    ("etag", ""), ("expect", ""), ("expires", ""), ("from", ""), ("host", ""), ("if-match", ""),
    ("if-modified-since", ""), ("if-none-match", ""), ("if-range", ""), ("if-unmodified-since", ""),
    ("last-modified", ""), ("link", ""), ("location", ""), ("max-forwards", ""), ("proxy-authenticate", ""),
    ("proxy-authorization", ""), ("range", ""), ("referer", ""), ("refresh", ""), ("retry-after", ""),
    ("server", ""), ("set-cookie", ""), ("strict-transport-security", ""), ("transfer-encoding", ""),
    ("user-agent", ""), ("vary", ""), ("via", ""), ("www-authenticate", ""),
))
_UNKNOWN = (b"", b"")


class HpackBlockError(ValueError):
    """A header block that is not valid HPACK (truncated, an index 0, an endless integer)."""


class HeaderListTooLarge(HpackBlockError):
    """The decoded header list exceeds ``--max-header-list``."""


def _integer(block: bytes, pos: int, prefix_bits: int) -> tuple[int, int]:
    """§5.1: the integer whose prefix is in ``block[pos]`` → (value, position after it)."""
    if pos >= len(block):
        raise HpackBlockError("header block ends inside an integer")
    mask = (1 << prefix_bits) - 1
    value = block[pos] & mask
    pos += 1
    if value < mask:
        return value, pos
    shift = 0
    for _ in range(_MAX_INTEGER_BYTES):
        if pos >= len(block):
            raise HpackBlockError("header block ends inside an integer")
        byte = block[pos]
        pos += 1
        value += (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos
    raise HpackBlockError("integer too long")


_HUFFMAN_DECODER = hpack.Decoder(max_header_list_size=1 << 62)  # (the list is measured by PassiveHpack, after it)


def _huffman_decoded(piece: bytes) -> bytes:
    """A Huffman-coded string literal (§5.2, its length prefix included), decoded by hpack: the one literal of a
    block (without indexing, an empty name, this value). Raises hpack's error for a bad code."""
    [(_, value)] = _HUFFMAN_DECODER.decode(b"\x00\x00" + piece, raw=True)
    return value


# a coded string's bytes, kept: a peer codes the same values again and again (content types, servers, agents) and
# hpack's decoder walks them in Python (6 µs for 16 characters, 12 for 50; a lookup 0.05 µs)
_HUFFMAN = Memo(_huffman_decoded)


class PassiveHpack:
    """The HPACK decoding context of one direction of one connection."""

    def __init__(self, max_table: int = DEFAULT_LIMITS.hpack_table_size,
                 max_list: int = DEFAULT_LIMITS.header_list_size) -> None:
        self.max_table = max_table  # our memory bound, whatever the peers agreed
        self.max_header_list_size = max_list
        self.max_allowed_table_size = DEFAULT_TABLE_SIZE  # what the decoding side advertised (SETTINGS)
        self.table_limit = min(DEFAULT_TABLE_SIZE, max_table)  # the dynamic table's current maximum size
        self.table_size = 0  # bytes in the dynamic table (§4.1)
        self._entries: deque[tuple[bytes, bytes]] = deque()  # newest first
        self._notes: list[str] = []
        self._misses = 0

    # -- the dynamic table (§4)

    def set_table_size(self, size: int) -> None:
        """Resize the dynamic table, clipped to ``max_table``."""
        if size > self.max_table:
            self._notes.append(limit_note(
                "hpack_table_size", f"HPACK table of {size} bytes kept at {self.max_table} bytes"))
            size = self.max_table
        self.table_limit = size
        self._evict(0)

    def _evict(self, room: int) -> None:
        while self._entries and self.table_size + room > self.table_limit:
            name, value = self._entries.pop()
            self.table_size -= len(name) + len(value) + ENTRY_OVERHEAD

    def _add(self, entry: tuple[bytes, bytes]) -> None:
        size = len(entry[0]) + len(entry[1]) + ENTRY_OVERHEAD
        if size > self.table_limit:  # §4.4: an entry larger than the table empties it
            self._entries.clear()
            self.table_size = 0
            return
        self._evict(size)
        self._entries.appendleft(entry)
        self.table_size += size

    def _entry(self, index: int) -> tuple[bytes, bytes]:
        if index == 0:
            raise HpackBlockError("HPACK index 0")
        if index <= len(STATIC_TABLE):
            return STATIC_TABLE[index - 1]
        i = index - len(STATIC_TABLE) - 1
        if i < len(self._entries):
            return self._entries[i]
        self._misses += 1  # an entry inserted before the capture started, or one we did not keep
        return _UNKNOWN

    # -- strings (§5.2)

    def _string(self, block: bytes, pos: int) -> tuple[bytes, int]:
        if pos >= len(block):
            raise HpackBlockError("header block ends before a string")
        huffman = block[pos] & 0x80
        length, start = _integer(block, pos, 7)
        end = start + length
        if end > len(block):
            raise HpackBlockError("header block ends inside a string")
        if not huffman:
            return block[start:end], end
        piece = block[pos:end]
        return _HUFFMAN.known.get(piece) or _HUFFMAN.miss(piece), end

    # -- blocks (§6)

    def decode_block(self, block: bytes) -> tuple[list[tuple[str, str]], int, list[str]]:
        """One complete header block → (headers, unknown-index count, notes). Raises HpackBlockError or
        hpack's HPACKError (bad Huffman code) on a malformed block; the table keeps what came before."""
        self._misses, self._notes = 0, []
        raw: list[tuple[bytes, bytes]] = []
        listed = 0
        pos = 0
        while pos < len(block):
            first = block[pos]
            if first & 0x80:  # indexed header field
                index, pos = _integer(block, pos, 7)
                entry = self._entry(index)
            elif first & 0x20 and not first & 0x40:  # dynamic table size update
                size, pos = _integer(block, pos, 5)
                if size > self.max_allowed_table_size:
                    self._notes.append(
                        f"HPACK table size update to {size} exceeds the advertised {self.max_allowed_table_size}")
                self.set_table_size(size)
                continue
            else:  # a literal: with incremental indexing (01), never indexed (0001) or without indexing (0000)
                indexing = bool(first & 0x40)
                index, pos = _integer(block, pos, 6 if indexing else 4)
                if index:
                    name = self._entry(index)[0]
                else:
                    name, pos = self._string(block, pos)
                value, pos = self._string(block, pos)
                entry = (name, value)
                if indexing:
                    self._add(entry)
            listed += len(entry[0]) + len(entry[1]) + ENTRY_OVERHEAD
            if listed > self.max_header_list_size:
                raise HeaderListTooLarge(f"header list over {self.max_header_list_size} bytes")
            raw.append(entry)
        headers = [(_text(n), _text(v)) for n, v in raw if n]  # empty name = unknown entry
        return headers, self._misses, self._notes


def _text(b: bytes) -> str:
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return b.decode("latin-1")


def decode_headers(dec: PassiveHpack, block: bytes, start_known: bool) -> tuple[list[tuple[str, str]], str | None]:
    """The headers of one complete block and the stream error to note (None when clean);
    ``start_known``: the connection's start was captured (else HPACK state is unknown)."""
    try:
        headers, misses, notes = dec.decode_block(block)
    except HeaderListTooLarge:
        return [], limit_note("header_list_size", f"header list over {dec.max_header_list_size} bytes not decoded")
    except (HPACKError, ValueError) as exc:  # HpackBlockError is a ValueError
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
