"""eCapture v2.1+ connect and destroy lines read by their shortcuts (the destroy line's bytes, a v2 tuple's parts in
the connect regex), held to the general reading."""

from __future__ import annotations

import re

import pytest

from ecq2pcap.dialects.v2_text import decode_v2_payload


DESTROY_LIKE = [b"PID:0, Comm:, TID:0, FD:0, Tuple: [::]:0->[::]:0\n", b"PID:0, Comm:, TID:0, FD:0, Tuple: [::]:0->[::]:0",
                b"PID:0, Comm:, TID:0, FD:0, Tuple: [::]:0->[::]:0\nx", b"PID:0, Comm:, TID:0, FD:0, Tuple: [::]:0->[::]:0\n\n",
                b"PID:0, Comm:, TID:0, FD:0, Tuple: [0.0.0.0]:0->[0.0.0.0]:0\n", b"PID:0, Comm:x, TID:0, FD:0, Tuple: [::]:0->[::]:0\n",
                b"PID:0, Comm:, TID:0, FD:0, Tuple: [::1]:5->[::2]:443\n", b"PID:0, Comm:, TID:1, FD:2, Tuple: [::]:0->[::]:0\n",
                b"PID:00, Comm:, TID:0, FD:0, Tuple: [::]:0->[::]:0\n", b"PID:0, Comm:, TID:0, FD:0, Tuple: 0.0.0.0:0-0.0.0.0:0\n",
                b"PID:0, Comm:, TID:0, FD:0, Tuple: [::]:0->[::]:0 \n", b"PID:9, Comm:, TID:0, FD:0, Tuple: [::]:0->[::]:0\n"]


@pytest.mark.parametrize("recv", [None, 10, 1795715801 * 1_000_000_000])
@pytest.mark.parametrize("text", DESTROY_LIKE)
def test_the_destroy_line_read_at_once_is_the_one_its_regex_reads(text, recv):
    """eCapture's all-zero destroy line is known by its bytes (the shortcut): the same record as the connect-line
    reading (regex, numbers, tuple) gives it, and lines that differ from it in any way are read that way."""
    from ecq2pcap.dialects.v2_text import _CONNECT, _connect_line
    from ecq2pcap.model import ConnectInfo

    m = _CONNECT.match(text)
    general = [_connect_line(m, text, "f:1", recv)] if m is not None else None
    (got,) = decode_v2_payload(text, "f:1", recv)
    assert general is None and not isinstance(got, ConnectInfo) or [got] == general


_HEAD = "PID:7, Comm:{}, TID:8, FD:12, Tuple: "
CONNECT_LIKE = [
    *(_HEAD.format("curl") + t + "\n" for t in (
        "[10.0.0.8]:21257->[172.16.0.6]:443", "10.0.0.8:21257->172.16.0.6:443", "[2001:db8::1]:5000->[2001:db8::2]:443",
        "[::ffff:10.0.0.1]:40000->[::ffff:10.0.0.2]:8443", "[fe80::1%eth0]:1->[fe80::2%eth0]:2", "[::]:0->[::]:0",
        "[0.0.0.0]:5->[1.2.3.4]:6", "[1.2.3.4]:0->[5.6.7.8]:443", "[1.2.3.4]:00080->[5.6.7.8]:0443",
        "[1.2.3.4]:65535->[5.6.7.8]:65536", "[1.2.3.4]:1234567->[5.6.7.8]:443", f"[1.2.3.4]:{'0' * 300}80->[5.6.7.8]:443",
        "[1.2.3.4]:1-[5.6.7.8]:2", "1.2.3.4:1-5.6.7.8:2", "[1.2.3.4]:1->[5.6.7.8]:", "[1.2.3.4]:1->5.6.7.8", "nonsense",
        "[1.2.3.4]:1->[5.6.7.8]:2->[9.9.9.9]:3", "[]:1->[]:2", "[1.2.3.4]:١->[5.6.7.8]:2", "[1.2.3.4]:1-> [5.6.7.8]:2",
        "[" + "1" * 126 + "]:1->[" + "2" * 120 + "]:2", "[" + "1" * 127 + "]:1->[" + "2" * 120 + "]:2",  # (256, 257)
        "[" + "1" * 125 + "]:1->[" + "2" * 120 + "]:2")),
    *(_HEAD.format(comm) + "[10.0.0.8]:1->[10.0.0.9]:2\n" for comm in (
        "", "my app", "a, TID:1, FD:2, Tuple: x", "a, TID:1, FD:2, Tuple: [1.1.1.1]:1->[2.2.2.2]:2", "x" * 64, "x" * 65,
        "tab\there", "new\nline", "ünï", "Chrome_ChildIOT")),
    _HEAD.format("curl") + "[10.0.0.8]:1->[10.0.0.9]:2", _HEAD.format("curl") + "[10.0.0.8]:1->[10.0.0.9]:2\n\n",
    _HEAD.format("curl") + "[10.0.0.8]:1->[10.0.0.9]:2 \n", "PID:7, Comm:c, TID:8, FD:12, Tuple:[10.0.0.8]:1->[10.0.0.9]:2\n",
    "PID:0, Comm:, TID:0, FD:0, Tuple: [::]:0->[::]:0\n", "PID:0, Comm:, TID:0, FD:0, Tuple: [::1]:5->[::2]:443\n",
    "PID:" + "9" * 19 + ", Comm:c, TID:8, FD:12, Tuple: [10.0.0.8]:1->[10.0.0.9]:2\n",
    "PID:7, Comm:c, TID:8, FD:12, Tuple: [10.0.0.8]:1->[10.0.0.9]:2, Type:WRITE, Len:4\nData:\nping\n",
]


@pytest.mark.parametrize("recv", [None, 10])
@pytest.mark.parametrize("text", [t.encode() for t in CONNECT_LIKE] + [b"PID:7, Comm:\xff\xfe, TID:8, FD:12, Tuple: "
                                                                      b"[10.0.0.8]:1->[10.0.0.9]:2\n"])
def test_a_connect_line_read_with_its_tuples_parts_is_the_one_read_generally(text, recv, monkeypatch):
    """A connect line whose tuple is in v2's form is read with the tuple's parts in one regex (_CONNECT_V2): the same
    record as the general reading (the line's regex, then parse_tuple), whatever the comm, tuple, numbers and end."""
    from ecq2pcap.dialects import v2_text

    fast = decode_v2_payload(text, "f:1", recv)
    monkeypatch.setattr(v2_text, "_CONNECT_V2", re.compile(rb"(?!)"))  # (never matches: the general reading)
    assert fast == decode_v2_payload(text, "f:1", recv)
