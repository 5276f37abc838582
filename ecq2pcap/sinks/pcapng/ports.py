"""Which server port the capture shows.

Every eCapture connection is TLS underneath, so its real server port (443, 8443,
9443, ...) is almost never one Wireshark dissects as HTTP. Stock Wireshark finds
HTTP/1 on any port (the ``http_tcp`` heuristic), but HTTP/2 only on ports registered
to the HTTP dissector, and plaintext on 443 is taken for TLS. A pcapng file cannot
carry a Decode-As hint, so by default every server port that is not already an HTTP
port is shown as 80 (as PolarProxy and TLExport do); the real port goes into the
connection's packet comment.
"""

from __future__ import annotations

from collections.abc import Mapping

from ...model import Connection

# TCP ports on which stock tshark 4.0 hands TCP to its http dissector (``tshark -G
# decodes``: ``tcp.port <n> http``), measured to decode both HTTP/1 and HTTP/2 with its
# preface. 631 is left out: it is registered too, but IPP then claims the bodies (and
# the HTTP/2 preface) and reports them malformed. 8000, 8008, 8443, 8888, 443 are not
# HTTP ports there.
HTTP_PORTS = frozenset({80, 1900, 2710, 2869, 3128, 3132, 3689, 5985, 8080, 8088, 11371})
DEFAULT_SHOWN_PORT = 80
PORT_KEPT = ("server port kept: another connection from the same client address and port to this server was open "
             "(shown on one port, they would be one stream to Wireshark)")


def shown_ports(port_map: "PortMap", conn: Connection) -> tuple[int, int]:
    """The client and server ports the pcapng shows for ``conn``."""
    return opening_ports(port_map, conn, None)[:2]


def opening_ports(port_map: "PortMap", conn: Connection, note: str | None) -> tuple[int, int, str | None]:
    """The client and server ports the pcapng shows for ``conn``, and its SYN comment's ``note`` with what it says of
    them: a server port kept (``Connection.keep_port``), a client port shown instead of the real one (its 4-tuple was
    open in another connection: ``Connection.shown_client_port``, see :mod:`ecq2pcap.flows.client_ports`)."""
    real = conn.server[1]
    shown = port_map.server_port(real)
    if conn.keep_port and shown != real:  # (see PORT_KEPT)
        shown, note = real, (f"{note}; {PORT_KEPT}" if note else PORT_KEPT)
    if not conn.shown_client_port:
        return conn.client[1], shown, note
    moved = (f"client port {conn.client[1]} shown as {conn.shown_client_port}: connection {conn.same_tuple_as} had "
             "this 4-tuple open (one socket under two fds or processes, e.g. dup() or fork(), or both ends captured; "
             "on one 4-tuple Wireshark would make them one stream)")
    return conn.shown_client_port, shown, (f"{note}; {moved}" if note else moved)


class PortMap:
    """Maps a connection's real server port to the port written in the capture.

    ``mapping`` holds explicit ``real → shown`` entries (``--port-map``); they always
    apply. Other ports are shown as ``default_port`` unless they are in
    :data:`HTTP_PORTS`, or ``keep_ports`` is set (``--keep-ports``: no default rewrite).
    """

    def __init__(
        self,
        mapping: Mapping[int, int] | None = None,
        *,
        keep_ports: bool = False,
        default_port: int = DEFAULT_SHOWN_PORT,
    ):
        self.mapping = dict(mapping or {})
        for real, shown in self.mapping.items():
            _check_port(real, f"{real}:{shown}")
            _check_port(shown, f"{real}:{shown}")
        _check_port(default_port, str(default_port))
        self.keep_ports = keep_ports
        self.default_port = default_port

    @classmethod
    def parse(cls, text: str, *, keep_ports: bool = False) -> "PortMap":
        """Parse ``"443:80,8443:8080"`` (spaces allowed, empty text: no entries)."""
        mapping: dict[int, int] = {}
        for entry in text.split(","):
            entry = entry.strip()
            if not entry and not text.strip():
                continue
            real_text, sep, shown_text = entry.partition(":")
            try:
                if not sep:
                    raise ValueError
                real, shown = int(real_text.strip()), int(shown_text.strip())
            except ValueError:
                raise ValueError(
                    f"invalid port map entry {entry!r}: expected REAL:SHOWN (e.g. 443:80), "
                    "several separated by commas"
                ) from None
            _check_port(real, entry)
            _check_port(shown, entry)
            if mapping.get(real, shown) != shown:
                raise ValueError(f"port map gives port {real} twice ({real}:{mapping[real]} and {entry})")
            mapping[real] = shown
        return cls(mapping, keep_ports=keep_ports)

    def server_port(self, real_port: int) -> int:
        """The port to show for a server whose real port is ``real_port``."""
        shown = self.mapping.get(real_port)
        if shown is not None:
            return shown
        if self.keep_ports or real_port in HTTP_PORTS:
            return real_port
        return self.default_port

    def __repr__(self) -> str:
        return f"PortMap({self.mapping!r}, keep_ports={self.keep_ports!r}, default_port={self.default_port!r})"


def _check_port(port: int, entry: str) -> None:
    if not 1 <= port <= 65535:
        raise ValueError(f"invalid port map entry {entry!r}: ports must be 1-65535")
