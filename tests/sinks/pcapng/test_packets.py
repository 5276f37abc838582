"""PacketBlocks (frame and block made in one step) against the straightforward way: TcpFlow's frames
wrapped one by one by enhanced_packet. Byte for byte, on random conversations."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ecq2pcap.model import Direction
from ecq2pcap.sinks.pcapng.blocks import FLAG_INBOUND, FLAG_OUTBOUND, LINKTYPE_ETHERNET, LINKTYPE_RAW, enhanced_packet
from ecq2pcap.sinks.pcapng.packets import PacketBlocks
from ecq2pcap.sinks.pcapng.tcp import MAX_MSS, TcpFlow

ENDPOINTS = {4: ("192.0.2.10", "198.51.100.7"), 6: ("2001:db8::10", "fd00::7")}
comments = st.one_of(st.none(), st.text(max_size=40), st.just("x" * 70000))  # (the last is cut to fit)
steps = st.lists(st.one_of(
    st.tuples(st.just("data"), st.sampled_from(Direction), st.binary(max_size=300), comments),
    st.tuples(st.just("close"), st.sampled_from(Direction), comments),
    st.tuples(st.just("segment"), st.sampled_from(Direction), st.binary(min_size=1, max_size=300), comments),
    st.tuples(st.just("parts"), st.sampled_from(Direction), st.binary(min_size=1, max_size=300), comments),
), max_size=8)
idents = st.one_of(st.just(0), st.integers(0xFFFA, 0xFFFF), st.integers(0, 0xFFFF))


def straightforward(flow: TcpFlow, flags, packets, t, comment) -> list[bytes]:
    """What the sink wrote before PacketBlocks: each frame wrapped on its own (the packets of one event at its time)."""
    return [enhanced_packet(frame, t, comment=comment if i == 0 else None, flags=flags[d])
            for i, (d, frame) in enumerate(packets)]


@settings(max_examples=300, deadline=None)
@given(version=st.sampled_from([4, 6]), link=st.sampled_from([LINKTYPE_ETHERNET, LINKTYPE_RAW]),
       mss=st.one_of(st.integers(1, 120), st.just(MAX_MSS)), isns=st.tuples(st.integers(0, 2**32 - 1),
                                                                            st.integers(0, 2**32 - 1)),
       flags=st.sampled_from([(FLAG_OUTBOUND, FLAG_INBOUND), (FLAG_INBOUND, FLAG_OUTBOUND)]),
       t=st.integers(0, 2**63), first=comments, steps=steps,
       ports=st.tuples(st.integers(0, 65535), st.integers(0, 65535)), idents=st.tuples(idents, idents))
def test_the_same_blocks_as_frames_wrapped_one_by_one(version, link, mss, isns, flags, t, first, steps, ports, idents):
    c, s = ENDPOINTS[version]
    kwargs = dict(client_isn=isns[0], server_isn=isns[1], link_type=link, mss=mss)
    plain, fused = TcpFlow(c, ports[0], s, ports[1], **kwargs), PacketBlocks(c, ports[0], s, ports[1], flags=flags,
                                                                            **kwargs)
    for flow in (plain, fused):  # (each side's IPv4 identification from 0; here also where it wraps)
        flow._sides[0].ident, flow._sides[1].ident = idents
    expected = straightforward(plain, flags, plain.handshake(), t, first)
    got = fused.handshake_blocks(t, first)
    assert got == expected
    t += len(got)
    for step in steps:
        if step[0] == "data":
            _, d, payload, comment = step
            packets = plain.data(d, payload)
            if packets:
                packets += plain.ack(d.other)
            expected = straightforward(plain, flags, packets, t, comment)
            got = fused.data_blocks(d, payload, t, comment)
        elif step[0] == "segment":  # (data_block: data_blocks of 1 to mss bytes, without the ACK)
            _, d, payload, comment = step
            payload = payload[:mss]
            expected = straightforward(plain, flags, plain.data(d, payload), t, comment)
            got = [fused.data_block(d, payload, t, comment)]
        elif step[0] == "parts":  # (data_block_parts: data_block's block as the parts that joined make it)
            _, d, payload, comment = step
            payload = payload[:mss]
            expected = straightforward(plain, flags, plain.data(d, payload), t, comment)
            made = fused.data_block_parts(d, payload, t, comment)
            assert type(made) is (tuple if version == 4 else bytes)
            got = [b"".join(made) if version == 4 else made]
        else:
            _, d, comment = step
            expected = straightforward(plain, flags, plain.close(d), t, comment)
            got = fused.close_blocks(d, t, comment)
        assert got == expected
        t += len(got)
        assert [fused.next_seq(d) for d in Direction] == [plain.next_seq(d) for d in Direction]
