"""eCapture v2.1+: an ``Event`` with only ``payload``+``length``; the payload is the
text rendering (``String()``, or ``StringHex()`` under ``--hex``) of ONE eBPF event,
with a ``\\n`` appended when it did not end in one (protocol doc §4.4, §5, §10.17, §11).

Forms (gojue/ecapture v2.5.1 ``internal/probe/*``):

=================  ===========================================================  ===========
probe              text                                                          record
=================  ===========================================================  ===========
openssl, gnutls    ``[YYYY-MM-DD HH:MM:SS.mmm] PID:p TID:t Comm:c FD:f READ|WRITE``  Capture
                   `` (N bytes):\\n`` + N raw bytes; ``(N bytes, hex)``: openssl
                   uses the 32-bytes-a-line dump (:data:`~ecq2pcap.payloads.hexdump.ECAPTURE_V2`),
                   gnutls plain lower-case ``%x``
openssl connect    ``PID:p, Comm:c, TID:t, FD:f, Tuple: [a]:p->[b]:q``           ConnectInfo
openssl destroy    ``PID:0, Comm:, TID:0, FD:0, Tuple: [::]:0->[::]:0``          ConnectInfo
gotls              ``PID:p, TID:t, Comm:c, FD:f, Tuple:[a]:p->[b]:q, Type:WRITE,``   Capture
                   `` Len:n\\nData:\\n`` + n bytes (``Data(hex):`` + ``%x``)
nspr               ``TLSDataEvent{Timestamp: …, PID: …, DataLen: n}`` (no data)  Annotation
bash, zsh          ``PID:p, UID:u, Comm:c, Retvalue:r, Line:\\n…``                 Annotation
mysql, postgres    ``MySQL Query[PID=…]: …`` / ``PID=p Comm=c Query=…``          Annotation
master secrets     ``TLS Version: …, ClientRandom: …``, ``Label: …`` …            Annotation
packets (pcap)     ``Packet captured: len=…``                                    Annotation
=================  ===========================================================  ===========

Data bytes are always **sliced**: exactly N bytes after the header line, whatever they
contain (header-like lines included); the one ``\\n`` v2 appends after data that does not
end in a newline is then left over, never stripped from the data.

**Timestamps.** The header time is the eCapture host's *local* time with millisecond
precision. It is read as UTC; when the message has an absolute receive time
(≥ 2001) the host's UTC offset is estimated as header − receive rounded to 15 minutes
(used only when within 5 minutes of such a multiple and at most 14 h) and removed.
Dates outside 2000–2199 are bogus (openssl ``--hex`` passes nanoseconds as seconds:
year 8352703; gnutls prints boot-relative ktime: 1970): the receive time is used
instead, or None. gotls, connect/destroy lines and annotations carry no time: receive
time. Data captures of a year-1970 header are labelled module ``gnutls``, others
``openssl`` (the two render identically).

**Identity.** Captures carry ``uuid=None`` (v2 sends none) and ``tuple=None`` for
openssl/gnutls: the connection table joins them with the connect line of the same
(pid, fd). gotls renders a tuple oriented by packet direction (write: local→remote,
read: remote→local); it is turned back into local→remote and then oriented
client→server by ports alone, so that every capture of one connection gets the same
tuple: a port in Linux's ephemeral range (32768–60999) facing one outside it is the
client; otherwise the lower port is the server; equal ports keep local→remote.
"""

from __future__ import annotations

import calendar
import re

from ..memo import Memo
from ..model import Annotation, Capture, ConnectInfo, DataType, PayloadForm, Record, Tuple
from ..payloads.hexdump import ECAPTURE_V2, reverse
from ..uuids import V2_TUPLE_BYTES, parse_tuple, tuple_of
from .state import StreamState

SECOND = 1_000_000_000
_QUARTER_HOUR = 900 * SECOND

DATA_HEAD = re.compile(
    rb"\[([^\]\n]*)\] PID:(\d{1,18}) TID:(\d{1,18}) Comm:(.{0,64}?) FD:(\d{1,18}) (READ|WRITE) "
    rb"\((-?\d{1,18}) bytes(, hex)?\):\n", re.S
)  # (numbers: at most 18 digits, so that int() never meets the 4,300 it refuses)
# (a tuple: at most 256 characters, as a comm at most 64; eCapture's are < 110, and a connection keeps them)
_CONNECT_HEAD = rb"PID:(\d{1,18}), Comm:(.{0,64}?), TID:(\d{1,18}), FD:(\d{1,18}), Tuple: "
_CONNECT = re.compile(_CONNECT_HEAD + rb"([^\s,]{0,256})\n?\Z", re.S)
# the connect line eCapture writes, its tuple in v2's form: read with the tuple's parts (groups 5-8) at once
# (:func:`_v2_connect_line`)
_CONNECT_V2 = re.compile(_CONNECT_HEAD + V2_TUPLE_BYTES + rb"\n?\Z", re.S)
TUPLE_CHARS = 256  # (the most _CONNECT's tuple takes)
_GOTLS_LINE = (rb"PID:(\d{1,18}), TID:(\d{1,18}), Comm:(.{0,64}?), FD:(\d{1,18}), (?:Tuple:([^\s,]{0,256}), )?"
               rb"Type:(READ|WRITE), Len:(-?\d{1,18})\n")
GOTLS_HEAD = re.compile(_GOTLS_LINE + rb"Data(\(hex\))?:\n", re.S)
_NSPR = re.compile(
    rb"TLSDataEvent\{Timestamp: ([^,]*), PID: (\d{1,18}), TID: (\d{1,18}), Comm: (.{0,64}?), FD: (-?\d{1,18}), "
    rb"Direction: (read|write), DataLen: (\d{1,18})",
    re.S,
)
_BASH = re.compile(rb"PID:(\d{1,18}), UID:(\d{1,18}), Comm:(.{0,64}?), Retvalue:(-?\d{1,18}), Line(\(hex\))?:\n", re.S)
_ZSH = re.compile(rb"PID:(\d{1,18}), UID:(\d{1,18}), \tComm:(.{0,64}?), \tLine(\(hex\))?:\n", re.S)
_MYSQL = re.compile(rb"MySQL Query\[PID=(\d{1,18}), Comm=(.{0,64}?), Len=\d+/\d+, Status=\w*\]: ", re.S)
_POSTGRES = re.compile(rb"PID=(\d{1,18}) Comm=(.{0,64}?) Query=", re.S)
_POSTGRES_HEX = re.compile(rb"PID=0x([0-9a-f]+) Timestamp=0x[0-9a-f]+ Query=([0-9a-f]*) Comm=([0-9a-f]*)")
# tcp_v4_destroy_sock's all-zero event, exactly as eCapture renders it (half of a v2 stream's connect lines): a
# destroy read without its regex, ints and tuple parse (~14k instructions), as :func:`_connect_line` reads it
_DESTROY_LINE = b"PID:0, Comm:, TID:0, FD:0, Tuple: [::]:0->[::]:0\n"
_MASTERKEY = (b"TLS Version: ", b"Version: 0x", b"Label: ", b"Label:", b"MasterSecretEvent{")
_PACKET = b"Packet captured: len="
# The forms an event log (``--eventaddr``: these renderings back to back, sources/eventlog.py) is split by:
GOTLS_FIRST_LINE = re.compile(_GOTLS_LINE, re.S)  # (a gotls event's first line: its "Data:" line follows)
CONNECT_LINE = re.compile(_CONNECT_HEAD + rb"[^\s,]{0,256}\n", re.S)  # (connect and destroy lines: one line each)
# every rendering's first header, whole (what no other text starts with): what an event log starts with
HEADERS = (DATA_HEAD, CONNECT_LINE, GOTLS_HEAD, _NSPR, _BASH, _ZSH, _MYSQL, _POSTGRES, _POSTGRES_HEX)
# the first bytes of every rendering (a data event's bracketed time, "PID:" or "PID=", nspr's struct, MySQL, master
# secrets, packets): where a rendering whose length no header gives ends
RENDERING_START = re.compile(rb"\[[^\]\n]{1,64}\] PID:\d|PID[:=]\d|TLSDataEvent\{|MySQL Query\[|"
                             + b"|".join(re.escape(start) for start in (*_MASTERKEY, _PACKET)))
_TIME = re.compile(rb"(-?\d{1,18})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)\.(\d{3})\Z")

# Linux's default net.ipv4.ip_local_port_range
_EPHEMERAL = range(32768, 61000)


def _s(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


# --------------------------------------------------------------------------- time


def _utc_offset_ns(header_ns: int, recv_time_ns: int | None) -> int:
    """The eCapture host's UTC offset, estimated from an absolute receive time (else 0)."""
    if recv_time_ns is None or recv_time_ns < 1_000_000_000 * SECOND:
        return 0
    delta = header_ns - recv_time_ns
    quarters = round(delta / _QUARTER_HOUR)
    if quarters == 0 or abs(quarters) > 14 * 4 or abs(delta - quarters * _QUARTER_HOUR) > 300 * SECOND:
        return 0
    return quarters * _QUARTER_HOUR


def _second(text: bytes) -> tuple[int, int] | None:
    """(ns, year) of a header's ``YYYY-MM-DD HH:MM:SS`` that :func:`header_time` takes without a note, else None."""
    m = _TIME.match(text + b".000")
    if m is None or not 2000 <= int(m[1]) < 2200:
        return None
    try:
        return calendar.timegm((int(m[1]), int(m[2]), int(m[3]), int(m[4]), int(m[5]), int(m[6]))) * SECOND, int(m[1])
    except (ValueError, OverflowError):
        return None


# each second's time kept (the same second heads many events: a match and timegm were ~140 of a v2 event's ~4,200
# bytecodes), for headers of that second and three digits of milliseconds; anything else the general reading
_SECONDS = Memo(_second, max_entries=1024)
# a header's end, its dot and three digits of milliseconds (all 1,000 of them), to its nanoseconds: one lookup, not
# a test of the dot, one of the digits and int() (~2.5k instructions of a v2 data line)
_MILLIS = {b".%03d" % ms: ms * 1_000_000 for ms in range(1000)}


def header_time(
    text: bytes, recv_time_ns: int | None, state: StreamState | None = None
) -> tuple[int | None, int | None, str | None]:
    """(timestamp_ns, header year or None, note) of a ``YYYY-MM-DD HH:MM:SS.mmm`` header."""
    millis = _MILLIS.get(text[-4:])
    second = text[:-4]
    known = None if millis is None else (_SECONDS.known.get(second) or _SECONDS.miss(second))
    if known is not None:
        ns, year = known
        ns += millis
    else:
        m = _TIME.match(text)
        if m is None:
            fallback = "receive time" if recv_time_ns is not None else "no time"
            return recv_time_ns, None, f"unreadable header time {_s(text)!r}: {fallback} used"
        year = int(m[1])
        if not 2000 <= year < 2200:
            fallback = "receive time" if recv_time_ns is not None else "no time"
            return recv_time_ns, year, f"bogus header time {_s(text)} (eCapture bug): {fallback} used"
        try:
            secs = calendar.timegm((year, int(m[2]), int(m[3]), int(m[4]), int(m[5]), int(m[6])))
        except (ValueError, OverflowError):
            return recv_time_ns, year, f"invalid header time {_s(text)}"
        ns = secs * SECOND + int(m[7]) * 1_000_000
    if state is not None and state.utc_offset_ns is not None:
        return ns - state.utc_offset_ns, year, None
    offset = _utc_offset_ns(ns, recv_time_ns)
    if state is not None and recv_time_ns is not None and recv_time_ns >= 1_000_000_000 * SECOND:
        state.utc_offset_ns = offset  # decided once per stream
    return ns - offset, year, None


# --------------------------------------------------------------------------- hex


def _unhex(text: bytes) -> bytes:
    """Plain ``%x`` hex (gnutls, gotls, bash under --hex), surrounding whitespace ignored."""
    return bytes.fromhex(text.strip().decode("ascii", "replace"))  # non-ASCII: a plain ValueError


# --------------------------------------------------------------------------- tuples


def gotls_client_server(tup: Tuple, data_type: DataType) -> Tuple:
    """Orient a v2 gotls tuple client→server (see the module docstring)."""
    if data_type is DataType.READ:  # rendered remote→local
        tup = tup.swapped()  # (a NotedTuple stays one)
    lport, rport = tup.src_port, tup.dst_port  # local→remote now
    if (lport in _EPHEMERAL) != (rport in _EPHEMERAL):
        local_is_client = lport in _EPHEMERAL
    else:
        local_is_client = lport >= rport
    return tup if local_is_client else tup.swapped()


# --------------------------------------------------------------------------- decoding


def _slice(text: bytes, start: int, n: int, notes: list[str]) -> bytes:
    """Exactly ``n`` bytes from ``start`` (never strip a newline)."""
    avail = len(text) - start
    if n < 0:  # (no length eCapture writes: what follows the header is kept, not dropped unsaid with an empty event)
        notes.append(f"negative length {n} in header: the {avail} bytes that follow it taken")
        return text[start:]
    if n > avail:
        notes.append(f"header announces {n} bytes but only {avail} follow: kept what there is")
        return text[start:]
    extra = avail - n
    if extra > 1 or (extra == 1 and text[-1:] != b"\n"):
        notes.append(f"{extra} unexpected byte(s) after the announced {n} bytes: ignored")
    return text[start : start + n]


def _data_event(m: re.Match, text: bytes, origin: str, recv_time_ns: int | None,
                state: StreamState | None = None) -> Record:
    notes: list[str] = []
    ts, year, note = header_time(m[1], recv_time_ns, state)
    if note:
        notes.append(note)
    n = int(m[7])
    if m[8]:  # ", hex"
        body = text[m.end() :]
        try:
            payload = reverse(body, ECAPTURE_V2) if body.startswith(b"0000  ") else _unhex(body)
        except ValueError:
            return Annotation("unreadable-hex", _s(text), pid=int(m[2]), comm=_s(m[4]), timestamp_ns=ts, origin=origin)
        notes.append("payload was an eCapture --hex dump: reversed to bytes")
        if len(payload) != max(n, 0):
            notes.append(f"header announces {n} bytes, the hex dump holds {len(payload)}")
    else:
        payload = _slice(text, m.end(), n, notes)
    return _data_capture(m, ts, year, payload, notes, origin)


def data_capture(m: re.Match, payload: bytes, notes: list[str], origin: str, recv_time_ns: int | None,
                 state: StreamState | None = None) -> Capture:
    """The capture of a :data:`DATA_HEAD` header (not ``, hex``) whose data bytes the caller read (the console's
    escaped text: :mod:`.v2_console`), with what it noted of them."""
    ts, year, note = header_time(m[1], recv_time_ns, state)
    return _data_capture(m, ts, year, payload, [note, *notes] if note else notes, origin)


def _data_capture(m: re.Match, ts: int | None, year: int | None, payload: bytes, notes: list[str],
                  origin: str) -> Capture:
    return Capture(
        pid=int(m[2]),
        tid=int(m[3]),
        comm=_s(m[4]),
        fd=int(m[5]),
        data_type=DataType.READ if m[6] == b"READ" else DataType.WRITE,
        tuple=None,
        timestamp_ns=ts,
        payload=payload,
        form=PayloadForm.RAW,
        ectype=None,
        uuid=None,
        module="gnutls" if year is not None and year < 2000 else "openssl",
        origin=origin,
        notes=tuple(notes),
    )


def _gotls_event(m: re.Match, text: bytes, origin: str, recv_time_ns: int | None) -> Record:
    if m[8]:  # Data(hex)
        try:
            payload = _unhex(text[m.end() :])
        except ValueError:
            return Annotation("unreadable-hex", _s(text), pid=int(m[1]), comm=_s(m[3]), timestamp_ns=recv_time_ns, origin=origin)
        return gotls_capture(m, payload, ["payload was hex text: decoded"], origin, recv_time_ns)
    notes: list[str] = []
    payload = _slice(text, m.end(), int(m[7]), notes)
    return gotls_capture(m, payload, notes, origin, recv_time_ns)


def gotls_capture(m: re.Match, payload: bytes, notes: list[str], origin: str, recv_time_ns: int | None) -> Capture:
    """The capture of a :data:`GOTLS_HEAD` header with its data bytes (read by the caller) and what was noted of them
    (after what the tuple needs said)."""
    data_type = DataType.READ if m[6] == b"READ" else DataType.WRITE
    tup = None
    if m[5]:
        try:
            tup = parse_tuple(_s(m[5]))
        except ValueError:
            notes = [f"unreadable tuple {_s(m[5])!r}", *notes]
        if tup is not None:
            tup = gotls_client_server(tup, data_type)
    return Capture(
        pid=int(m[1]), tid=int(m[2]), comm=_s(m[3]), fd=int(m[4]), data_type=data_type, tuple=tup,
        timestamp_ns=recv_time_ns, payload=payload, form=PayloadForm.RAW, ectype=None, uuid=None,
        module="gotls", origin=origin, notes=tuple(notes),
    )


def _connect_line(m: re.Match, text: bytes, origin: str, recv_time_ns: int | None) -> Record:
    pid, fd = int(m[1]), int(m[4])
    try:
        tup = parse_tuple(_s(m[5]))
    except ValueError:
        return Annotation("text", _s(text), pid=pid, comm=_s(m[2]), timestamp_ns=recv_time_ns, origin=origin)
    return _connect_info(m, pid, fd, tup, origin, recv_time_ns)


def _v2_connect_line(m: re.Match, origin: str, recv_time_ns: int | None) -> Record | None:
    """:func:`_connect_line`'s record of a :data:`_CONNECT_V2` match: its tuple made of the parts the match found, as
    parse_tuple would (which would run the v1 form's regex, then the v2 one, behind a cache that the distinct tuples
    of connect lines miss: ~11k instructions a line). None when the tuple is no connection's (a port out of range)
    or longer than _CONNECT takes: the general reading then says what it is."""
    if m.end(8) - m.start(5) > TUPLE_CHARS:
        return None
    src, sport, dst, dport = m.group(5, 6, 7, 8)
    try:  # (the tuple's text only in tuple_of's message, which the general reading gives instead)
        tup = tuple_of(src.decode(), sport.decode(), dst.decode(), dport.decode(), "")
    except ValueError:
        return None
    return _connect_info(m, int(m[1]), int(m[4]), tup, origin, recv_time_ns)


def _connect_info(m: re.Match, pid: int, fd: int, tup: Tuple | None, origin: str, recv_time_ns: int | None) -> Record:
    if tup is None and pid == 0:  # tcp_v4_destroy_sock: an all-zero event
        return ConnectInfo("destroy", 0, 0, None, timestamp_ns=recv_time_ns, origin=origin)
    return ConnectInfo("connect", pid, fd, tup, comm=_s(m[2]), tid=int(m[3]), timestamp_ns=recv_time_ns, origin=origin)


def _annotation(text: bytes, origin: str, recv_time_ns: int | None) -> Annotation:
    def ann(kind: str, body: bytes, pid: int | None = None, comm: bytes = b"") -> Annotation:
        return Annotation(kind, _s(body), pid=pid, comm=_s(comm), timestamp_ns=recv_time_ns, origin=origin)

    if (m := _NSPR.match(text)) is not None:
        return ann("nspr-metadata", m[0] + b"}", int(m[2]), m[4])
    if (m := _BASH.match(text)) is not None or (m := _ZSH.match(text)) is not None:
        kind = "bash" if m.re is _BASH else "zsh"
        body = text[m.end() :]
        if m[0].endswith(b"(hex):\n"):
            try:
                body = _unhex(body)
            except ValueError:
                pass
        return ann(kind, body.rstrip(b"\n"), int(m[1]), m[3])
    if (m := _MYSQL.match(text)) is not None:
        return ann("sql", text[m.end() :].rstrip(b"\n"), int(m[1]), m[2])
    if (m := _POSTGRES_HEX.match(text)) is not None:
        try:
            query = bytes.fromhex(m[2].decode()).split(b"\0", 1)[0]
            comm = bytes.fromhex(m[3].decode()).split(b"\0", 1)[0]
        except ValueError:
            return ann("sql", text.rstrip(b"\n"), int(m[1], 16))
        return ann("sql", query + b" (first 32 bytes)", int(m[1], 16), comm)
    if (m := _POSTGRES.match(text)) is not None:
        return ann("sql", text[m.end() :].rstrip(b"\n"), int(m[1]), m[2])
    if text.startswith(_MASTERKEY):
        return ann("masterkey", text.rstrip(b"\n"))
    if text.startswith(_PACKET):
        return ann("packet", text.rstrip(b"\n"))
    return ann("text", text.rstrip(b"\n"))


def decode_v2_payload(
    text: bytes, origin: str, recv_time_ns: int | None = None, state: StreamState | None = None
) -> list[Record]:
    """Records of one v2.1+ event payload; never raises (unknown text → Annotation "text")."""
    if text.startswith(b"["):
        m = DATA_HEAD.match(text)
        if m is not None:
            return [_data_event(m, text, origin, recv_time_ns, state)]
    elif text.startswith(b"PID:"):
        if text == _DESTROY_LINE:
            return [ConnectInfo("destroy", 0, 0, None, timestamp_ns=recv_time_ns, origin=origin)]
        m = _CONNECT_V2.match(text)
        if m is not None and (record := _v2_connect_line(m, origin, recv_time_ns)) is not None:
            return [record]
        m = _CONNECT.match(text)
        if m is not None:
            return [_connect_line(m, text, origin, recv_time_ns)]
        m = GOTLS_HEAD.match(text)
        if m is not None:
            return [_gotls_event(m, text, origin, recv_time_ns)]
    return [_annotation(text, origin, recv_time_ns)]
