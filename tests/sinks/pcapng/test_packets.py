"""PacketBlocks (frame and block made in one step) against the straightforward way: TcpFlow's frames
wrapped one by one by enhanced_packet; and the C methods (``_blocks.c``, compiled here from source whatever the
install did) against both. Byte for byte, on random conversations."""

from __future__ import annotations

import json
from functools import partial

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecq2pcap.model import Direction
from ecq2pcap.sinks.pcapng.blocks import FLAG_INBOUND, FLAG_OUTBOUND, LINKTYPE_ETHERNET, LINKTYPE_RAW, enhanced_packet
from ecq2pcap.sinks.pcapng import sink
from ecq2pcap.sinks.pcapng.packets import PacketBlocks, compiled_blocks
from ecq2pcap.sinks.pcapng.tcp import MAX_MSS, TcpFlow
from tests.support.golden import GOLDEN, digests, inputs
from tests.support.speedups import compile_speedups

ENDPOINTS = {4: ("192.0.2.10", "198.51.100.7"), 6: ("2001:db8::10", "fd00::7")}
# (the long ones are cut to fit the option's 16-bit length, at a character boundary: 1 to 4 bytes a character,
# the cut landing in each of their bytes; NULs spelled \x00, lone surrogates replaced)
LONG = ["x" * 70000, "\0" * 20000] + [lead + c * (70000 // len(c.encode())) for c in ("é", "€", "😀")
                                      for lead in ("", "x", "xx", "xxx")]
comments = st.one_of(st.none(), st.text(max_size=40), st.sampled_from(LONG),
                     st.sampled_from(["\ud800", "a\udfffb\0", "\0", "a\0\0b", "é\0"]))
steps = st.lists(st.one_of(
    st.tuples(st.just("data"), st.sampled_from(Direction), st.binary(max_size=300), comments),
    st.tuples(st.just("close"), st.sampled_from(Direction), comments),
    st.tuples(st.just("segment"), st.sampled_from(Direction), st.binary(min_size=1, max_size=300), comments),
    st.tuples(st.just("parts"), st.sampled_from(Direction), st.binary(min_size=1, max_size=300), comments),
    st.tuples(st.just("preface"), st.sampled_from(Direction), st.binary(max_size=300), comments),
    st.tuples(st.just("ack"), st.sampled_from(Direction)),
), max_size=8)
idents = st.one_of(st.just(0), st.integers(0xFFFA, 0xFFFF), st.integers(0, 0xFFFF))
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


@pytest.fixture(scope="module")
def c_blocks(tmp_path_factory):
    return compile_speedups(tmp_path_factory.mktemp("speedups")).blocks


def straightforward(flow: TcpFlow, flags, packets, t, comment) -> list[bytes]:
    """What the sink wrote before PacketBlocks: each frame wrapped on its own (the packets of one event at its time)."""
    return [enhanced_packet(frame, t, comment=comment if i == 0 else None, flags=flags[d])
            for i, (d, frame) in enumerate(packets)]


def conversations(check):
    return settings(max_examples=300, deadline=None)(given(
        version=st.sampled_from([4, 6]), link=st.sampled_from([LINKTYPE_ETHERNET, LINKTYPE_RAW]),
        mss=st.one_of(st.integers(1, 120), st.just(MAX_MSS)),
        isns=st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1)),
        flags=st.sampled_from([(FLAG_OUTBOUND, FLAG_INBOUND), (FLAG_INBOUND, FLAG_OUTBOUND)]),
        t=st.one_of(st.integers(0, 2**63), st.integers(2**64 - 50, 2**70)), first=comments, steps=steps,
        ports=st.tuples(st.integers(0, 65535), st.integers(0, 65535)), idents=st.tuples(idents, idents))(check))


def _compare(plain: TcpFlow, fused, flags, t, first, steps, parts_type):
    expected = straightforward(plain, flags, plain.handshake(), t, first)
    got = fused.handshake_blocks(t, first)
    assert got == expected
    t += len(got)
    for step in steps:
        d = step[1]
        if step[0] in ("data", "preface"):
            _, d, payload, comment = step
            if step[0] == "preface":  # (what the sink sends this way: data longer than mss that starts with it)
                payload = PREFACE + payload
                packets = plain.data(d, PREFACE) + plain.data(d, payload[len(PREFACE):])
                got = fused.preface_first_blocks(d, payload, t, comment)
            else:
                packets = plain.data(d, payload)
                if packets:
                    packets += plain.ack(d.other)
                got = fused.data_blocks(d, payload, t, comment)
            expected = straightforward(plain, flags, packets, t, comment)
        elif step[0] == "segment":  # (data_block: data_blocks of 1 to mss bytes, without the ACK)
            _, d, payload, comment = step
            payload = payload[:plain.mss]
            expected = straightforward(plain, flags, plain.data(d, payload), t, comment)
            got = [fused.data_block(d, payload, t, comment)]
        elif step[0] == "parts":  # (data_block_parts: data_block's block as the parts that joined make it)
            _, d, payload, comment = step
            payload = payload[:plain.mss]
            expected = straightforward(plain, flags, plain.data(d, payload), t, comment)
            made = fused.data_block_parts(d, payload, t, comment)
            assert type(made) is parts_type[plain.v6]
            if type(made) is tuple:
                assert any(part is payload for part in made)  # (the payload not copied)
            got = [b"".join(made) if type(made) is tuple else made]
        elif step[0] == "ack":
            expected = straightforward(plain, flags, plain.ack(d), t, None)
            got = [fused.ack_block(d, t)]
        else:
            _, d, comment = step
            expected = straightforward(plain, flags, plain.close(d), t, comment)
            got = fused.close_blocks(d, t, comment)
            assert fused.closed
        assert got == expected
        t += len(got)
        assert [fused.next_seq(d) for d in Direction] == [plain.next_seq(d) for d in Direction]


@conversations
def test_the_same_blocks_as_frames_wrapped_one_by_one(version, link, mss, isns, flags, t, first, steps, ports,
                                                       idents):
    c, s = ENDPOINTS[version]
    kwargs = dict(client_isn=isns[0], server_isn=isns[1], link_type=link, mss=mss)
    plain, fused = TcpFlow(c, ports[0], s, ports[1], **kwargs), PacketBlocks(c, ports[0], s, ports[1], flags=flags,
                                                                            **kwargs)
    for flow in (plain, fused):  # (each side's IPv4 identification from 0; here also where it wraps)
        flow._sides[0].ident, flow._sides[1].ident = idents
    _compare(plain, fused, flags, t, first, steps, {False: tuple, True: bytes})


def test_the_c_methods_make_the_same_blocks(c_blocks):
    @conversations
    def check(version, link, mss, isns, flags, t, first, steps, ports, idents):
        c, s = ENDPOINTS[version]
        plain = TcpFlow(c, ports[0], s, ports[1], client_isn=isns[0], server_isn=isns[1], link_type=link, mss=mss)
        plain._sides[0].ident, plain._sides[1].ident = idents
        fused = c_blocks(*made_args(c, ports, s, isns, link, mss, flags), *idents)
        assert (fused.v6, fused.mss, fused.closed) == (version == 6, mss, False)
        _compare(plain, fused, flags, t, first, steps, {False: tuple, True: tuple})

    check()


def made_args(c, ports, s, isns, link, mss, flags):
    """compiled_blocks' arguments to ``_speedups.blocks`` (to give it the idents too: the sink's start at 0)."""
    seen = []
    compiled_blocks(lambda *args: seen.append(args), c, ports[0], s, ports[1], *isns, link, mss, flags)
    return seen[0]


_EXPECTED = json.loads(GOLDEN.read_text())


@pytest.mark.parametrize("key", sorted(_EXPECTED))
def test_outputs_with_the_c_methods_are_the_recorded_bytes(key, c_blocks, monkeypatch):
    """Every fixture, every option set of the goldens (made by the pure-Python code): the same bytes with the C
    methods making the sink's blocks (whatever the install built: the whole suite runs with that one)."""
    monkeypatch.setattr(sink, "packet_blocks", partial(compiled_blocks, c_blocks))
    name, variant = key.rsplit(" ", 1)
    path = next(p for p in inputs() if p.name == name)
    assert digests(path, variant) == _EXPECTED[key]


@pytest.mark.parametrize("version", [4, 6])
def test_a_segment_past_its_ip_length_is_an_error(version, c_blocks):
    """data_block and data_block_parts make one segment whatever the MSS: its payload at most what the IP header's
    16-bit length holds (65495 bytes IPv4, 65515 IPv6). One byte more: PacketBlocks' pack raises, and so do the C
    methods (which wrote the length cut to 16 bits: a malformed packet), their connection left as it was."""
    c, s = ENDPOINTS[version]
    most = 0xFFFF - 20 - (20 if version == 4 else 0)
    made = partial(PacketBlocks, c, 1, s, 2, 7, 9, LINKTYPE_RAW, 100)
    fused = c_blocks(*made_args(c, (1, 2), s, (7, 9), LINKTYPE_RAW, 100, (FLAG_OUTBOUND, FLAG_INBOUND)))
    for method in ("data_block", "data_block_parts"):
        with pytest.raises(Exception):
            getattr(made(), method)(Direction.C2S, bytes(most + 1), 5, None)
        with pytest.raises(ValueError, match="more than its IP header's length holds"):
            getattr(fused, method)(Direction.C2S, bytes(most + 1), 5, None)
    assert fused.next_seq(Direction.C2S) == 7
    payload = bytes(range(256)) * (most // 256) + bytes(most % 256)  # (the most: the same block as PacketBlocks')
    assert fused.data_block(Direction.C2S, payload, 5, "x") == made().data_block(Direction.C2S, payload, 5, "x")
