"""--raw-payload writes captures as they came: their packet comments said the flows' repairs as if made
("Transfer-Encoding: chunked removed" on a packet that holds it), and the zeros made up for a frame's rest eCapture
lost were neither written nor said in any packet, while the summary pointed to the packet comments."""

from __future__ import annotations

from ecq2pcap.cli import main
from tests.support import mixed_stream
from tests.support.dissect import dissect, follow
from tests.support.made_up import SWITCH, UPGRADE
from tests.support.v2_stream import V2Stream

TUP = "10.0.0.1:40000-10.0.0.2:443"


def _event(outbound: bool, etype: int, payload: bytes) -> str:  # (eCapture v1.4.2, a client)
    return mixed_stream.event_line(0, 100, "curl", 7, int(outbound), TUP, etype, payload)


def test_a_repaired_capture_written_as_captured_says_the_repairs_are_not_in_it(tmp_path, tshark):
    dump = tmp_path / "in.jsonl"
    dump.write_text(_event(True, 1, b"GET /c HTTP/1.1\r\nHost: x\r\n\r\n") + "\n"
                    + _event(False, 3, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nhello world") + "\n")
    for raw in (True, False):
        out = tmp_path / f"{raw}.pcapng"
        assert main(["convert", str(dump), "-w", str(out), "-q", *(["--raw-payload"] if raw else [])]) == 0
        frames = dissect(tshark, out, payload=True)
        (comment,) = [c for f in frames for c in f["frame.comment"] if "HTTP/1 response" in c]
        assert "Transfer-Encoding: chunked removed" in comment
        assert ("Transfer-Encoding: chunked" in follow(frames)[1].decode()) == raw  # (as captured, or repaired)
        assert ("not in this packet: the HAR read its body with them" in comment) == raw


def test_zeros_not_written_for_a_lost_frame_rest_are_said_in_a_packet(tmp_path, tshark):
    s = V2Stream()
    s.connect(61, 7, "ws", ("10.7.0.2", 52000), ("10.7.0.1", 443))
    s.call(61, 7, "ws", True, UPGRADE)
    s.call(61, 7, "ws", False, SWITCH)
    s.call(61, 7, "ws", False, bytes([0x82, 126]) + (5000).to_bytes(2, "big") + b"a" * 100)  # (its rest: lost)
    s.call(61, 7, "ws", False, bytes([0x81, 5]) + b"hello")
    dump = tmp_path / "in.jsonl"
    dump.write_bytes(s.dump())
    out = tmp_path / "o.pcapng"
    assert main(["convert", str(dump), "-w", str(out), "-q", "--raw-payload"]) == 0
    frames = dissect(tshark, out, payload=True)
    said = [c for f in frames for c in f["frame.comment"] if "lost by eCapture" in c]
    assert said and all("--raw-payload: not written" in c for c in said)
    assert b"\0" * 100 not in follow(frames)[1]  # (no zeros: as captured)
