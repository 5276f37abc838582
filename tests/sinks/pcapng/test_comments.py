"""A chunk's packet comment, field by field, read back from the blocks the sink writes: whoever sent it
(tid, fd, uuid, eCapture type and origin present or not), also when the same sender comes again (the sink
keeps what it worked out about a sender), with the notes and the raw-payload remark; a SYN's likewise."""

from __future__ import annotations

import io
import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from ecq2pcap.model import ECTYPE_NAMES, Chunk, ChunkInfo, Connection, Direction, Opened, PayloadForm, Protocol
from ecq2pcap.sinks.pcapng import PcapngSink, PortMap

TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
infos = st.builds(
    ChunkInfo,
    pid=st.integers(0, 2**32), tid=st.none() | st.integers(0, 2**32), comm=TEXT, fd=st.none() | st.integers(0, 99),
    uuid=st.none() | TEXT, ectype=st.none() | st.integers(-1, 7) | st.integers(2**40, 2**41),
    form=st.sampled_from(PayloadForm), origin=TEXT, notes=st.lists(TEXT, max_size=2).map(tuple),
)


OWN_WORDS = (" uuid ", "; connection ", "; eCapture ", "; module ", "; captured process ", "; uuid ")


def sender(pid: int, tid: int | None, comm: str, fd: int | None) -> str:
    """Who sent it, as a comment spells it out (a name that holds one of the comments' own words, or starts with a
    quote, quoted with \\ and " escaped)."""
    text = f"pid {pid}"
    if tid is not None:
        text += f" tid {tid}"
    if comm.startswith('"') or any(word in comm + " " for word in OWN_WORDS):
        comm = '"' + comm.replace("\\", "\\\\").replace('"', '\\"') + '"'
    text += f" comm {comm}"
    if fd is not None:
        text += f" fd {fd}"
    return text


def expected(info: ChunkInfo, conn_id: int, direction: Direction, raw: bool, module: str = "openssl") -> str:
    """The comment spelled out, one field after the other (a uuid's NULs left out, any other NUL written as
    ``\\x00``: Wireshark shows a comment up to its first NUL)."""
    text = sender(info.pid, info.tid, info.comm, info.fd)
    if info.uuid:
        text += f" uuid {info.uuid.replace(chr(0), '')}"
    text += f"; connection {conn_id} {direction.label}; "
    if info.ectype is not None:
        name = {0: "gotls write", 1: "gotls read"} if module == "gotls" else ECTYPE_NAMES
        text += f"eCapture type {info.ectype} ({name.get(info.ectype, 'unknown')}); "
    text += f"payload {info.form.value}"
    if raw:
        text += " written as captured"
    if info.origin:
        text += f"; origin {info.origin}"
    return "; ".join((text, *info.notes)).replace("\0", "\\x00")


def comments(data: bytes) -> list[str]:
    """The comment option of every Enhanced Packet Block that has one."""
    out, pos = [], 0
    while pos < len(data):
        btype, total = struct.unpack_from("=II", data, pos)
        if btype == 6:
            caplen = struct.unpack_from("=I", data, pos + 20)[0]
            at = pos + 28 + caplen + (-caplen % 4)
            code, length = struct.unpack_from("=HH", data, at)
            if code == 1:
                out.append(data[at + 4 : at + 4 + length].decode())
        pos += total
    return out


@settings(max_examples=150, deadline=None)
@given(steps=st.lists(st.tuples(infos, st.sampled_from(Direction), st.integers(1, 3)), min_size=1, max_size=6),
       raw=st.booleans(), modules=st.lists(st.sampled_from(("openssl", "gotls", "gnutls/nspr")), min_size=3, max_size=3))
def test_a_chunk_comment_says_each_field(steps, raw, modules):
    out = io.BytesIO()
    sink = PcapngSink(out, raw_payload=raw)
    conns = {i: Connection(id=i, pid=1, comm="c", fd=3, client=("10.0.0.1", 40000 + i), server=("10.0.0.2", 443),
                           module=modules[i - 1]) for i in (1, 2, 3)}
    want = []
    for n, (info, direction, conn_id) in enumerate(steps * 2):  # each sender twice: the second time from what was kept
        sink.handle(Chunk(conns[conn_id], direction, 1000 * n, b"x", b"x", info, Protocol.HTTP1))
        want.append(expected(info, conn_id, direction, raw, modules[conn_id - 1]))
    sink.finish()
    got = [c for c in comments(out.getvalue()) if not c.startswith("ecq2pcap connection")]  # (the SYNs')
    assert got == want


def test_a_server_side_sender_on_successive_connections_names_each_one():
    """Protocol doc §11.12: on a server (nginx) every connection has the same pid and fd, so the kept sender text
    serves them all; each chunk's comment still names its own connection and uuid."""
    out = io.BytesIO()
    sink = PcapngSink(out)
    want = []
    for n in (1, 2, 3):
        conn = Connection(id=n, pid=812, comm="nginx", fd=9, client=(f"10.0.0.{n}", 50000 + n),
                          server=("10.0.0.9", 443), process_role="server")
        uuid = f"812_812_nginx_9_0_10.0.0.{n}:{50000 + n}-10.0.0.9:443"
        info = ChunkInfo(pid=812, tid=812, comm="nginx", fd=9, uuid=uuid, ectype=1, form=PayloadForm.HTTP1_RENDERED,
                         origin=f"d:{n}")
        sink.handle(Chunk(conn, Direction.C2S, 1000 * n, b"x", b"x", info, Protocol.HTTP1))
        want.append(f"pid 812 tid 812 comm nginx fd 9 uuid {uuid}; connection {n} c2s; eCapture type 1 "
                    f"(HTTP/1 request); payload http1_rendered; origin d:{n}")
    sink.finish()
    assert [c for c in comments(out.getvalue()) if not c.startswith("ecq2pcap connection")] == want


def expected_syn(conn: Connection, version: str | None, mapped: dict[int, int]) -> str:
    """A connection's SYN comment spelled out, one field after the other."""
    real = conn.server[1]
    shown = mapped.get(real, real if real in (80, 8080) else 80)
    text = f"ecq2pcap connection {conn.id}: " + sender(conn.pid, conn.tid, conn.comm, conn.fd)
    parts = [text] + ([f"eCapture {version}"] if version else []) + ([f"module {conn.module}"] if conn.module else [])
    parts.append(f"captured process is the {conn.process_role} (its sends are marked outbound)")
    if shown != real and conn.synthetic_reason:  # (an invented port: no hint to keep it)
        parts.append(f"server port {real}, invented, shown as {shown}")
    elif shown != real:
        parts.append(f"server port {real} shown as {shown}" + (" (--port-map)" if real in mapped else
                                                                "; use --keep-ports to keep it"))
    if conn.synthetic_reason:
        parts.append(f"endpoints invented: {conn.synthetic_reason}")
    if conn.uuids:
        parts.append(f"uuid {conn.uuids[0].replace(chr(0), '')}")
    return "; ".join(parts)


connections = st.builds(
    lambda pid, tid, comm, fd, port, role, module, reason, uuids: dict(
        pid=pid, tid=tid, comm=comm, fd=fd, server=("10.0.0.2", port), process_role=role, module=module,
        synthetic_reason=reason, uuids=uuids),
    st.integers(0, 3), st.none() | st.integers(0, 3), st.sampled_from(["curl", "nginx"]), st.none() | st.integers(3, 4),
    st.sampled_from([80, 443, 8080, 8443]), st.sampled_from(["client", "server"]),
    st.sampled_from(["openssl", "gotls", ""]), st.none() | st.just("no tuple"), st.lists(TEXT, max_size=2).map(tuple))


@settings(max_examples=100, deadline=None)
@given(steps=st.lists(st.tuples(connections, st.none() | st.sampled_from(["v1.4.2", "v0.9"])), min_size=1,
                      max_size=8))
def test_a_syn_comment_says_each_field(steps):
    """Each connection's SYN comment, field by field, for connections that share some fields and not others
    (the sink keeps the text of what they share: the sender, the version, module, role and ports)."""
    out = io.BytesIO()
    mapped = {8443: 8080}
    sink = PcapngSink(out, port_map=PortMap(mapped))
    want = []
    for n, (fields, version) in enumerate(steps * 2, 1):  # each twice: the second time from what was kept
        conn = Connection(id=n, client=("10.0.0.1", 40000 + n), **fields)
        sink.ecapture_version = lambda version=version: version
        sink.handle(Opened(conn, 1000 * n))
        want.append(expected_syn(conn, version, mapped))
    sink.finish()
    assert [c for c in comments(out.getvalue()) if c.startswith("ecq2pcap connection")] == want
