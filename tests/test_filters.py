"""--pid/--comm/--host/--port: each filter keeps exactly the expected connections, whole."""

import json

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ecq2pcap.filters import ConnectionFilter, ConnectionView
from ecq2pcap.model import Chunk, Closed, Connection, Direction, Opened
from ecq2pcap.payloads.authority import AuthorityFinder, host_part
from tests.conftest import FIXTURES
from tests.support.dissect import dissect, syns
from tests.support import mixed_stream
from tests.support.cli import run_main

ALL = ["/a", "/b", "/c", "/d", "/e?x=1"]


def ecq2pcap(*args):
    return run_main(*args)


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    return mixed_stream.write(tmp_path_factory.mktemp("mixed") / "mixed.jsonl")


@pytest.mark.parametrize("args,kept", [
    ((), ALL),
    (("--comm", "curl"), ["/a", "/b"]),
    (("--comm", "curl", "--comm", "wget"), ["/a", "/b", "/c"]),
    (("--comm", "py*"), ["/e?x=1"]),
    (("--pid", "100", "--port", "8443"), ["/b"]),
    (("--pid", "100,300"), ["/a", "/b", "/d"]),
    (("--port", "443"), ["/a", "/c", "/d"]),
    (("--port", "50000"), ["/d"]),  # a client port counts too
    (("--host", "*.example.com"), ["/a", "/c", "/d"]),
    (("--host", "API.example.com", "--comm", "wget"), ["/c"]),
    (("--host", "10.0.0.2"), ["/b"]),
    (("--host", "10.0.0.9"), ["/d"]),  # an address of either end
    (("--host", "plain.test", "--host", "www.other.test"), ["/b", "/e?x=1"]),
    (("--comm", "nobody"), []),
])
def test_filter_keeps_exactly_the_matching_connections(tmp_path, tshark, mixed, args, kept):
    pcap, har = tmp_path / "out.pcapng", tmp_path / "out.har"
    p = ecq2pcap("convert", str(mixed), "-w", str(pcap), "--har", str(har), *args)
    assert p.returncode == 0, p.stderr
    # pcapng: the requests tshark finds, and every packet belongs to a kept connection (handshake to FIN)
    frames = dissect(tshark, pcap)
    assert sorted(u for f in frames for u in f["http.request.uri"]) == kept
    assert len({f.first("tcp.stream") for f in frames}) == len(kept)
    fins = [f for f in frames if f.flag("tcp.flags.fin")]
    assert len(syns(frames)) == len(kept) and len(fins) == 2 * len(kept)
    entries = json.loads(har.read_text())["log"]["entries"]
    assert sorted(e["request"]["url"].split("/", 3)[3] for e in entries) == [u.lstrip("/") for u in kept]
    stderr = p.stderr.decode()
    if args:
        assert f"({5 - len(kept)} filtered out by" in stderr
    else:
        assert "filtered out" not in stderr


def test_filters_apply_to_recordings_and_delimited_dumps(tmp_path, tshark):
    # the realistic sample: curl (3 connections) and python (1), all to localhost:8443
    pcap = tmp_path / "out.pcapng"
    p = ecq2pcap("convert", str(FIXTURES / "v2_client.frames.jsonl.gz"), "-w", str(pcap), "--comm", "python")
    assert p.returncode == 0, p.stderr
    frames = dissect(tshark, pcap)
    assert len({f.first("tcp.stream") for f in frames}) == 1
    assert any(f.has("websocket") for f in frames)
    assert b"(3 filtered out by --comm python)" in p.stderr
    # the HTTP/2 connection is selected by its :authority
    p = ecq2pcap("convert", str(FIXTURES / "v2_client.frames.jsonl.gz"), "-w", str(pcap), "--host", "localhost",
                 "--pid", "318")
    assert p.returncode == 0, p.stderr
    assert any(":authority" in f["http2.header.name"] for f in dissect(tshark, pcap))


@pytest.mark.parametrize("bad", [("--pid", "x"), ("--port", "70000"), ("--comm", ",")])
def test_bad_filter_values_are_usage_errors(tmp_path, mixed, bad):
    p = ecq2pcap("convert", str(mixed), "-w", str(tmp_path / "x.pcapng"), *bad)
    assert p.returncode == 2 and b"Traceback" not in p.stderr and bad[0].encode() in p.stderr


# -- units


def _conn(pid=1, comm="curl", client=("10.0.0.5", 1234), server=("10.0.0.1", 443)):
    return Connection(id=1, pid=pid, comm=comm, fd=3, client=client, server=server)


def _chunk(conn, data, direction=Direction.C2S):
    return Chunk(conn, direction, 1, data, data, None)


def test_host_filter_waits_for_the_request_head_then_releases_in_order():
    view = ConnectionView(ConnectionFilter.build(hosts=["api.example.com"]))
    conn = _conn()
    first = [Opened(conn, 0), _chunk(conn, b"GET / HTTP/1.1\r\nAccept: */*\r\n")]
    assert view.process(first) == []  # the head is not complete: undecided
    rest = [_chunk(conn, b"Host: api.example.com:443\r\n\r\n"), Closed(conn, 2, "end")]
    assert view.process(rest) == first + rest
    other = _conn(client=("10.0.0.5", 999))
    assert view.process([Opened(other, 0), _chunk(other, b"GET / HTTP/1.1\r\nHost: b.test\r\n\r\n")]) == []
    assert view.report.counts["filtered_connections"] == 1


def test_undecided_connection_is_decided_at_its_end():
    view = ConnectionView(ConnectionFilter.build(hosts=["x.test"]))
    conn = _conn()
    assert view.process([Opened(conn, 0), _chunk(conn, b"HTTP/1.1 200 OK\r\n\r\n", Direction.S2C)]) == []
    assert view.process([Closed(conn, 1, "end")]) == []
    assert view.report.counts["filtered_connections"] == 1


@pytest.mark.parametrize("data,name", [
    (b"GET /x HTTP/1.1\r\nHost: Example.COM:8443\r\n\r\n", "example.com"),
    (b"GET /x HTTP/1.1\r\nhost:[2001:db8::1]:443\r\n\r\n", "2001:db8::1"),
    (b"GET http://proxy.test/x HTTP/1.1\r\n\r\n", "proxy.test"),
    (b"GET /x HTTP/1.0\r\n\r\n", None),
    (b"\x16\x03\x01\x00\x05hello\n", None),
])
def test_authority_of_http1(data, name):
    f = AuthorityFinder()
    for i in range(len(data)):  # byte by byte: the answer does not depend on chunking
        f.feed(data[i:i + 1])
    assert f.done and f.name == name


def test_authority_of_http2():
    import hpack
    from hyperframe.frame import HeadersFrame, SettingsFrame

    from ecq2pcap.payloads.h2 import PREFACE

    hf = HeadersFrame(1, hpack.Encoder().encode([(":method", "GET"), (":authority", "h2.example:443"),
                                                 (":path", "/"), (":scheme", "https")]), flags=["END_HEADERS"])
    f = AuthorityFinder()
    wire = PREFACE + SettingsFrame(0).serialize() + hf.serialize()
    f.feed(wire[:30])
    assert not f.done
    assert f.feed(wire[30:]) == "h2.example"


def test_host_part_rejects_junk():
    assert host_part("a b") is None and host_part("") is None and host_part("x.test.") == "x.test"


_HEAD_PARTS = st.sampled_from([b"\r\n", b"\n", b"\r", b"host", b"HOST", b"Host", b"hostname", b":", b" ", b"\t",
                               b"a.test", b"B.Test:8443", b"x", b"\xe9", b"X-Host"])


@settings(max_examples=2000, deadline=None)
@given(st.lists(_HEAD_PARTS, max_size=12).map(b"".join))
@example(b"GET / HTTP/1.1\r\nhostname: no\r\nHost: yes\r\n\r\n")
@example(b"GET / HTTP/1.1\r\nX: y\r\nHOST:\t a.test \r\n\r\n")
@example(b"GET / HTTP/1.1\r\nHost: a\rb\r\nhost: c\r\n\r\n")  # a CR inside the first value: not a Host line
def test_host_value_is_what_one_case_insensitive_search_finds(head):
    # the Host value found where the lower-cased head has "\nhost": what the one regex search over every byte
    # (the straightforward way, as before) finds, first line included
    import re

    from ecq2pcap.payloads import authority

    m = re.compile(rb"\r?\nhost[ \t]*:[ \t]*([^\r\n]*)\r?\n", re.IGNORECASE).search(head)
    assert authority._host_value(head) == (m.group(1) if m else None)


@pytest.mark.parametrize("head, name", [
    (b"GET / HTTP/1.1\r\nHost: First.Test:8443\r\nAccept: */*\r\n\r\n", "first.test"),
    (b"POST /x HTTP/1.1\r\nUser-Agent: u\r\nHostname: decoy\r\nContent-Length: 0\r\nhOST:\tlast.test\r\n\r\n",
     "last.test"),
    (b"GET / HTTP/1.1\nX-Host: no\nhost: lf.test\n\n", "lf.test"),  # bare LF line ends
    (b"GET https://abs.test/p HTTP/1.1\r\nAccept: */*\r\n\r\n", "abs.test"),  # no Host: the absolute URI's
])
def test_the_host_name_is_found_wherever_its_line_is(head, name):
    # eCapture v1 re-renders heads (headers canonicalized, protocol doc §10.12), clients order them as they like:
    # the name is the first Host line's, wherever it sits, in any case; a second connection reads it from what
    # was kept
    for _ in range(2):
        assert AuthorityFinder().feed(head) == name


def _request(conn, host):
    return _chunk(conn, f"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())


def _numbered(conn_id, server=("10.0.0.1", 443)):
    """Connection ``conn_id`` of curl (its own fd and client port) to ``server``."""
    return Connection(id=conn_id, pid=1, comm="curl", fd=conn_id, client=("10.0.0.5", 1000 + conn_id), server=server)


def test_without_a_filter_a_connection_to_an_address_named_before_is_not_read():
    """The names serve the pcapng's NRBs, one an address: a connection to an address named in an earlier list
    goes by that name (its own request is not read); in the list that names it, every connection is read."""
    view = ConnectionView()
    a1, a2, a3 = (_numbered(i) for i in (1, 2, 3))
    b = _numbered(4, server=("10.0.0.9", 443))
    view.process([Opened(a1, 0), _request(a1, "a.test"), Opened(a2, 1), _request(a2, "also-a.test")])
    assert view.host(a1) == "a.test" and view.host(a2) == "also-a.test"  # the same list: each its own
    view.process([Opened(a3, 2), _request(a3, "other-a.test"), Opened(b, 3), _request(b, "b.test")])
    assert view.host(a3) == "a.test" and view.host(b) == "b.test"
    # an address as its own name names nothing: the next connection to it is read
    ip, ip2 = _numbered(5, server=("10.0.0.7", 80)), _numbered(6, server=("10.0.0.7", 80))
    view.process([Opened(ip, 4), _request(ip, "10.0.0.7")])
    view.process([Opened(ip2, 5), _request(ip2, "seven.test")])
    assert view.host(ip2) == "seven.test"


@pytest.mark.parametrize("flt", [ConnectionFilter.build(comms=["curl"]), ConnectionFilter.build(hosts=["*.test"])])
def test_with_a_filter_every_connection_is_read_for_its_own_name(flt):
    """A filtered-out connection names no address in the pcapng: with a filter nothing is taken as named."""
    view = ConnectionView(flt)
    first, second = _numbered(1), _numbered(2)
    view.process([Opened(first, 0), _request(first, "a.test")])
    view.process([Opened(second, 1), _request(second, "other.test")])
    assert view.host(second) == "other.test"


def test_without_names_asked_for_no_request_is_read_unless_host_filters():
    conn = _conn()
    view = ConnectionView(names=False)
    view.process([Opened(conn, 0), _request(conn, "a.test")])
    assert view.host(conn) is None
    view = ConnectionView(ConnectionFilter.build(hosts=["a.test"]), names=False)
    assert view.process([Opened(conn, 0), _request(conn, "a.test")])  # kept: its name was read
    assert view.host(conn) == "a.test"


def test_named_addresses_are_bounded_and_learned_again(monkeypatch):
    import ecq2pcap.filters as filters

    monkeypatch.setattr(filters, "MAX_NAMED_ADDRESSES", 2)
    view = ConnectionView()
    for i in (1, 2, 3):  # the third address finds the two before it kept: all three forgotten, then it is named
        conn = _numbered(i, server=(f"10.0.1.{i}", 443))
        view.process([Opened(conn, i), _request(conn, f"n{i}.test")])
    view.process([])
    again = _numbered(4, server=("10.0.1.1", 443))
    view.process([Opened(again, 4), _request(again, "again.test")])
    assert view.host(again) == "again.test"  # read again: its address was forgotten
    assert view.host(_numbered(5, server=("10.0.1.3", 443))) == "n3.test"


def test_a_request_head_split_over_lists_stops_being_read_once_its_address_is_named():
    """A connection whose head is not complete when another one names its server address (in that list) is not
    read on in the next list: its address's name is the one its packets go by."""
    view = ConnectionView()
    split, other = _numbered(1), _numbered(2)
    view.process([Opened(split, 0), _chunk(split, b"GET / HTTP/1.1\r\n"), Opened(other, 1), _request(other, "a.test")])
    assert view.host(split) is None
    view.process([_chunk(split, b"Host: own.test\r\n\r\n")])
    assert view.host(split) == "a.test"
