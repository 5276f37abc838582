import pytest

from ecq2pcap.model import DataType, NotedTuple, Tuple
from ecq2pcap.uuids import parse_tuple, parse_uuid


def test_openssl_ipv4():
    u = parse_uuid("316_316_curl_5_1_127.0.0.1:46890-127.0.0.1:8443")
    assert (u.kind, u.pid, u.tid, u.comm, u.fd, u.data_type) == ("openssl", 316, 316, "curl", 5, DataType.WRITE)
    assert u.tuple == Tuple("127.0.0.1", 46890, "127.0.0.1", 8443)
    assert not u.sock_form


@pytest.mark.parametrize(
    "comm",
    ["Chrome_ChildIOT", "Socket Thread", "a-b/c:d", "x_1_2", "_", "名前", "nul\x00\x00"],
)
def test_comm_with_separators(comm):
    u = parse_uuid(f"10_11_{comm}_7_0_10.0.0.1:1234-10.0.0.2:443")
    assert u.comm == comm.rstrip("\x00")
    assert (u.pid, u.tid, u.fd, u.data_type) == (10, 11, 7, DataType.READ)
    assert u.tuple == Tuple("10.0.0.1", 1234, "10.0.0.2", 443)


def test_ipv6_and_v4_mapped():
    u = parse_uuid("1_2_nginx_3_0_[2001:db8::1]:5555-[::1]:443")
    assert u.tuple == Tuple("2001:db8::1", 5555, "::1", 443)
    # an AF_INET6 socket's IPv4 peer: IPv4 on the wire (RFC 4291 §2.5.5.2), so IPv4 packets that ip.addr and --host
    # find (they were IPv6 packets between ::ffff: addresses, which no network carries)
    u = parse_uuid("1_2_py_3_1_[::ffff:127.0.0.1]:5555-[::ffff:10.0.0.2]:443")
    assert u.tuple == Tuple("127.0.0.1", 5555, "10.0.0.2", 443)
    u = parse_uuid("1_2_py_3_1_[::ffff:7f00:1]:5555-[::ffff:a00:2]:443")  # (not as Go writes them: left as they are)
    assert u.tuple == Tuple("::ffff:7f00:1", 5555, "::ffff:a00:2", 443)


def test_unstripped_sock_form_with_unknown_tuple():
    u = parse_uuid("sock:316_317_curl_5_1_0.0.0.0:0-0.0.0.0:0_0")
    assert (u.kind, u.pid, u.tid, u.comm, u.fd, u.data_type) == ("openssl", 316, 317, "curl", 5, DataType.WRITE)
    assert u.tuple is None and u.sock_form


def test_unknown_tuple_without_sock_prefix():
    assert parse_uuid("1_1_c_4_0_0.0.0.0:0-0.0.0.0:0").tuple is None


def test_gnutls_nspr_form_with_nul_padding():
    u = parse_uuid("42_43_Socket Thread\x00_1")
    assert (u.kind, u.pid, u.tid, u.comm, u.fd, u.data_type, u.tuple) == (
        "nofd", 42, 43, "Socket Thread", None, DataType.WRITE, None)


def test_gotls_form():
    u = parse_uuid("42_43_server_x\x00\x00\x00\x00\x00\x00\x00\x00")
    assert (u.kind, u.pid, u.tid, u.comm) == ("gotls", 42, 43, "server_x")


def test_mysql_form():
    u = parse_uuid("42_mysqld\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")
    assert (u.kind, u.pid, u.comm) == ("pidcomm", 42, "mysqld")


@pytest.mark.parametrize("bad", ["", "curl_5", "abc_1_2", "sock:1_2_c_0_1_nonsense_0", "1_x_c_5_9_1.2.3.4:1-5.6.7.8:2"])
def test_unparsable(bad):
    with pytest.raises(ValueError):
        parse_uuid(bad)


def test_v2_tuple_form():
    assert parse_tuple("[127.0.0.1]:46890->[127.0.0.1]:8443") == Tuple("127.0.0.1", 46890, "127.0.0.1", 8443)
    assert parse_tuple("[::]:0->[::]:0") is None
    with pytest.raises(ValueError):
        parse_tuple("1.2.3.4-5.6.7.8")


def test_thousands_of_digits_are_refused_in_a_short_message_not_by_int():
    """int() refuses 4,300 digits and more with its own ValueError (whose text the user saw as the
    reason a line was skipped); the message quotes at most 120 characters of a hostile uuid."""
    huge = "9" * 5000
    for uuid, reason in ((f"{huge}_1_curl_5_1_10.0.0.1:1-10.0.0.2:2", "does not start with <pid>_"),
                         (f"1_1_curl_{huge}_1_10.0.0.1:1-10.0.0.2:2", "expected <pid>_<tid>"),
                         (f"1_1_curl_5_1_10.0.0.1:1-10.0.0.2:{huge}", "port out of range")):
        with pytest.raises(ValueError, match=reason) as info:
            parse_uuid(uuid)
        assert len(str(info.value)) < 250 and "5,000" not in str(info.value) and "characters)" in str(info.value)
    assert parse_tuple(f"10.0.0.1:0-10.0.0.2:{huge}") is None  # a zero port: the unknown tuple, as before
    assert parse_tuple("10.0.0.1:0000080-10.0.0.2:443").src_port == 80


def test_a_connections_other_uuid_is_parsed_with_the_first():
    """Both uuids of a connection (data types 0 and 1) are parsed at the first one's event; the other,
    when its event comes, gives what parsing it alone gives."""
    from ecq2pcap import uuids
    from ecq2pcap.uuids import parse_uuid_generally
    for first, other in (("77_78_my_app_9_1_10.0.0.1:40000-10.0.0.2:443",
                          "77_78_my_app_9_0_10.0.0.1:40000-10.0.0.2:443"),
                         ("77_78_c_1_0_[::1]:5-[2001:db8::1]:443", "77_78_c_1_1_[::1]:5-[2001:db8::1]:443")):
        a = parse_uuid(first)
        assert other in uuids.PARSED.known  # kept before its own event comes
        b = parse_uuid(other)
        assert a == parse_uuid_generally(first) and b == parse_uuid_generally(other)
        assert {a.data_type, b.data_type} == {DataType.READ, DataType.WRITE} and a.tuple == b.tuple


def test_hostile_long_uuids_are_parsed_but_not_kept():
    """Thousands of parsed uuids are kept for the events that repeat them: a megabyte-long one must not be
    (50 of 200 KB would hold 10 MB)."""
    import tracemalloc
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(50):
            comm = f"{i}" + "x" * 200_000
            assert parse_uuid(f"1_2_{comm}_5_1_10.0.0.1:1-10.0.0.2:2").comm == comm  # openssl form
            assert parse_uuid(f"1_2_{comm}").comm == comm  # gotls form (the general walk)
            assert parse_tuple(f"10.0.0.1:1-10.0.0.2:{'0' * 200_000}{i + 1}").dst_port == i + 1
        assert tracemalloc.get_traced_memory()[0] - before < 2_000_000
    finally:
        tracemalloc.stop()


_EVENT_UUIDS = [
    "316_316_curl_5_1_127.0.0.1:46890-127.0.0.1:8443",
    "10_11_Chrome_ChildIOT_7_0_10.0.0.1:1234-10.0.0.2:443",
    "10_11_Socket Thread_7_1_10.0.0.1:1234-10.0.0.2:443",
    "10_11_x_1_2_7_0_10.0.0.1:1234-10.0.0.2:443",  # a comm that looks like numbers
    "10_11__7_0_10.0.0.1:1234-10.0.0.2:443",  # an empty comm
    "10_11_a_0_1_7_0_10.0.0.1:1234-10.0.0.2:443",  # a comm ending in what looks like a data type
    "10_11_名前\x00\x00_7_1_10.0.0.1:1234-10.0.0.2:443",
    "10_11_c\n_7_1_10.0.0.1:1234-10.0.0.2:443",
    "1_2_nginx_3_0_[2001:db8::1]:5555-[::1]:443",
    "1_2_py_3_1_[::ffff:127.0.0.1]:5555-[::ffff:127.0.0.1]:443",
    "sock:316_317_curl_5_1_0.0.0.0:0-0.0.0.0:0_0",
    "sock:316_317_curl_5_1_10.0.0.1:1234-10.0.0.2:443_0",
    "1_1_c_4_0_0.0.0.0:0-0.0.0.0:0",
    "1_1_c_4_0_0.0.0.0:1234-10.0.0.2:443",
    "1_1_c_4_0_10.0.0.1:01234-10.0.0.2:443",  # a leading zero
    "1_1_c_4_0_10.0.0.1:1234-10.0.0.2:0443",
    "1_1_c_4_2_10.0.0.1:1234-10.0.0.2:443",  # no data type 2
    "1_1_c_x4_0_10.0.0.1:1234-10.0.0.2:443",
    "x1_1_c_4_0_10.0.0.1:1234-10.0.0.2:443",
    "1_c_4_0_10.0.0.1:1234-10.0.0.2:443",
    f"{'9' * 19}_1_c_4_0_10.0.0.1:1234-10.0.0.2:443",  # more digits than a number has
    f"1_1_c_{'9' * 19}_0_10.0.0.1:1234-10.0.0.2:443",
    "1_1_c_4x0_10.0.0.1:1234-10.0.0.2:443",
    "1_1_c_4_0_10.0.0.1:1234-10.0.0.2:99999",
    "_0_10.0.0.1:1234-10.0.0.2:443",
    "0_10.0.0.1:1234-10.0.0.2:443",
    "1_1_c_4_0_1.2:3-4:5-10.0.0.2:443",
    "1_1_c_4_0_10.0.0.1:1234-1.2:3-4:5",
    "1_1_c_4_0_10.0.0.1:True-10.0.0.2:443",
    "1_1_c_4_0_999.0.0.1:1234-10.0.0.2:443",  # no IP address (the shortcut's fields may name it: see _fields_of)
    "1_1_c_4_0_10.0.0.1:1234-10.0.0.256:443",
    "1_1_c_4_0_01.0.0.1:1234-10.0.0.2:443",
    "1_1_c_4_0_1.2.3:1234-10.0.0.2:443",
    "1_1_c_4_0_[zz::1]:1234-[::2]:443",
    "1_1_c_4_0_10.0.0.1:1234-[::2]:443",
    "1_1_c_4_0_[fe80::1%eth0]:1234-[fe80::2]:443",
    "42_43_Socket Thread\x00_1",
    "42_43_server_x\x00\x00\x00",
    "42_mysqld\x00\x00",
    "",
]
_EVENT_FIELDS = [
    ("10.0.0.1", 1234, "10.0.0.2", 443), ("127.0.0.1", 46890, "127.0.0.1", 8443), ("", 0, "", 0),
    ("", 5555, "", 443), ("0.0.0.0", 1234, "10.0.0.2", 443), ("10.0.0.1", 1234, "10.0.0.2", 0),
    ("10.0.0.1", 1234, "10.0.0.2", 99999), ("1.2:3-4", 5, "10.0.0.2", 443), ("10.0.0.1", 1234, "1.2:3-4", 5),
    ("10.0.0.1", True, "10.0.0.2", 443),
    ("::1", 5555, "::1", 443), ("10.0.0.1", 1234, "10.0.0.2:443_x", 1), ("10.0.0.1", 1234, "10.0.0.", 443),
]


def _outcome(parse, uuid):
    """What parsing ``uuid`` gives, its tuple's type and note too (a Tuple equals a NotedTuple of its values)."""
    try:
        info = parse(uuid)
    except ValueError as exc:
        return str(exc)
    return info, type(info.tuple), getattr(info.tuple, "note", None)


@pytest.mark.parametrize("uuid", _EVENT_UUIDS)
def test_an_events_uuid_parsed_with_its_tuple_fields_gives_what_parsing_it_alone_gives(uuid):
    """parse_event_uuid's shortcut (the uuid's end is the tuple the event's fields name) gives what the
    general parse gives, for any fields, and keeps the other direction's uuid as parsing it gives."""
    from ecq2pcap import uuids
    from ecq2pcap.uuids import parse_event_uuid, parse_uuid_generally
    expected = _outcome(parse_uuid_generally, uuid)
    for fields in _EVENT_FIELDS + [(f"{a}", b, f"{c}", d) for a, b, c, d in [_fields_of(uuid)] if a is not None]:
        uuids.PARSED.known.clear()
        assert _outcome(lambda u: parse_event_uuid(u, *fields), uuid) == expected, fields
        for kept, info in uuids.PARSED.known.items():
            assert (info, type(info.tuple)) == _outcome(parse_uuid_generally, kept)[:2]


def _fields_of(uuid):
    """The tuple fields an event of ``uuid`` would carry (None when its end is no plain IPv4 tuple)."""
    import re
    m = re.search(r"_([0-9.]+):(\d+)-([0-9.]+):(\d+)$", uuid)
    return (m[1], int(m[2]), m[3], int(m[4])) if m else (None, 0, None, 0)


def test_the_uuid_shortcut_is_taken():
    """(What the test above holds equal is the shortcut, not the general parse each time.)"""
    from ecq2pcap import uuids
    from ecq2pcap.uuids import parse_event_uuid
    uuids.PARSED.known.clear()
    calls = []
    compute = uuids.PARSED.compute
    uuids.PARSED.compute = lambda uuid: calls.append(uuid) or compute(uuid)
    try:
        parse_event_uuid("10_11_Chrome_ChildIOT_7_0_10.0.0.1:1234-10.0.0.2:443", "10.0.0.1", 1234, "10.0.0.2", 443)
        assert calls == []
        parse_event_uuid("1_2_nginx_3_0_[2001:db8::1]:5555-[::1]:443", "", 0, "", 0)
        assert len(calls) == 1
    finally:
        uuids.PARSED.compute = compute


@pytest.mark.parametrize("tup, bad", [
    ("999.0.0.1:5000-10.1.0.1:443", "'999.0.0.1', which is not an IP address"),
    ("10.0.0.1:5000-10.1.0.256:443", "'10.1.0.256', which is not an IP address"),
    ("01.2.3.4:5000-10.1.0.1:443", "'01.2.3.4', which is not an IP address"),  # (octal to inet_aton: not guessed)
    ("[zz::1]:5000-[::2]:443", "'zz::1', which is not an IP address"),
    ("[::ffff:999.1.1.1]:5000-[::1]:443", "'999.1.1.1', which is not an IP address"),
    ("[fe80::1%]:5000-[fe80::2]:443", "'fe80::1%', which is not an IP address"),  # (an empty zone id)
    ("999.0.0.1:5000-999.0.0.2:443", "'999.0.0.1' and '999.0.0.2', which are not IP addresses"),
    ("10.0.0.1:5000-[::2]:443", "mixes IPv4 and IPv6 addresses"),
    ("[fe80::1%eth0]:5000-10.1.0.1:443", "mixes IPv4 and IPv6 addresses"),
    ("[1.2.3.4]:5000->[::1]:443", "mixes IPv4 and IPv6 addresses"),  # (v2's form)
])
def test_a_tuple_without_usable_addresses_is_kept_noted_unusable(tup, bad):
    """Such a tuple was taken as it was, and the pcapng sink could not write its connection at all (its packets
    in no pcapng, said without a location). It still tells its connection from others: kept, as a NotedTuple whose
    note says why its endpoints are invented (the connection table invents them; its SYN's comment says so)."""
    for t in _tuples(tup):
        assert type(t) is NotedTuple and t.unusable
        assert t.note == f"the tuple eCapture gave, {tup!r}, {'' if 'mixes' in bad else 'has '}{bad}"
        assert (t.src_port, t.dst_port) == (5000, 443)


def _tuples(tup):
    """``tup`` parsed alone and as a v1 openssl uuid's (v2's form is in none)."""
    return [parse_tuple(tup)] + ([parse_uuid(f"1_1_curl_4_1_{tup}").tuple] if "->" not in tup else [])


def test_an_ipv6_zone_id_is_left_out_of_the_tuple_and_said():
    """A zone id (fe80::1%eth0) names a link of the host that had the socket; no packet holds one (the pcapng writer
    wrote the address without it, silently). The tuple is the addresses without it, noted."""
    t = parse_uuid("1_1_curl_4_1_[fe80::1%eth0]:5000-[fe80::2%2]:443").tuple
    assert type(t) is NotedTuple and not t.unusable and t == Tuple("fe80::1", 5000, "fe80::2", 443)
    assert t.note == ("the tuple eCapture gave, '[fe80::1%eth0]:5000-[fe80::2%2]:443', has an IPv6 zone id in "
                      "'fe80::1%eth0' and 'fe80::2%2', which no packet holds: written without it")


@pytest.mark.parametrize("tup", ["10.0.0.1:5000-10.1.0.1:443", "[2001:db8::1]:5-[::1]:443", "[FE80::A]:5-[fe80::b]:443",
                                 "[::ffff:10.0.0.1]:5-[::ffff:10.0.0.2]:443", "[127.0.0.1]:5->[127.0.0.1]:443"])
def test_a_usable_tuple_is_a_plain_one(tup):
    assert [type(t) for t in _tuples(tup)] == [Tuple] * len(_tuples(tup))


def test_the_event_fields_tuple_is_checked_too():
    """A v1 event whose uuid names the unknown tuple takes its src/dst fields: an address there that is no IP
    address gives a NotedTuple too (it was taken as it was, and the connection was in no pcapng)."""
    from ecq2pcap.dialects.v1_event import _fields_tuple
    t = _fields_tuple("bogus", 5000, "10.1.0.1", 443)
    assert type(t) is NotedTuple and t.unusable and "'bogus', which is not an IP address" in t.note
    assert type(_fields_tuple("10.0.0.1", 5000, "10.1.0.1", 443)) is Tuple
