"""PortMap: default rewrite to 80, --port-map parsing, --keep-ports; HTTP_PORTS checked
against tshark's own dissector table."""

from __future__ import annotations

import subprocess

import pytest

from ecq2pcap.sinks.pcapng import HTTP_PORTS, PortMap


def test_default_rewrites_every_non_http_port_to_80():
    pm = PortMap()
    for port in (443, 8443, 9443, 8000, 8888, 1, 65535):
        assert pm.server_port(port) == 80
    for port in (80, 8080, 3128, 8088):
        assert pm.server_port(port) == port


def test_keep_ports_disables_the_default_rewrite():
    pm = PortMap(keep_ports=True)
    assert pm.server_port(443) == 443 and pm.server_port(8443) == 8443


def test_parse_entries_override_the_default():
    pm = PortMap.parse(" 443:80, 8443:8080 ,80:8088")
    assert pm.mapping == {443: 80, 8443: 8080, 80: 8088}
    assert pm.server_port(8443) == 8080
    assert pm.server_port(80) == 8088  # even an HTTP port can be remapped explicitly
    assert pm.server_port(9443) == 80  # default still applies to the rest


def test_explicit_entries_apply_with_keep_ports():
    pm = PortMap.parse("8443:8080", keep_ports=True)
    assert pm.server_port(8443) == 8080 and pm.server_port(443) == 443


def test_parse_empty_text():
    assert PortMap.parse("").mapping == {}
    assert PortMap.parse("  ").server_port(443) == 80


@pytest.mark.parametrize(
    "text, message",
    [
        ("443", "invalid port map entry '443': expected REAL:SHOWN"),
        ("443:http", "invalid port map entry '443:http'"),
        ("443:80,", "invalid port map entry ''"),
        ("443:80:1", "invalid port map entry '443:80:1'"),
        ("0:80", "ports must be 1-65535"),
        ("443:70000", "ports must be 1-65535"),
        ("443:80,443:8080", "port 443 twice"),
    ],
)
def test_parse_errors(text, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        PortMap.parse(text)


def test_duplicate_identical_entry_is_fine():
    assert PortMap.parse("443:80,443:80").mapping == {443: 80}


def test_http_ports_are_registered_to_http_in_tshark(tshark):
    """Every port we leave alone must really be an HTTP port of this tshark, and the
    usual TLS ports must not be (else the default rewrite would be pointless)."""
    out = subprocess.run([tshark, "-G", "decodes"], capture_output=True, text=True, check=True).stdout
    rows = [line.split("\t") for line in out.splitlines()]
    http_ports = {int(r[1]) for r in rows if len(r) == 3 and r[0] == "tcp.port" and r[2] == "http"}
    assert HTTP_PORTS <= http_ports
    assert not {443, 8443, 9443, 8000, 8888} & http_ports
