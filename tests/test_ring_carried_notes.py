"""What the close of a connection carried into a new ring file would say, when that file holds none of its bytes
(its close writes nothing there: test_ring_carried.py).

* --raw-payload: the note on zeros made up for a frame's rest eCapture lost, and not written, goes on the
  connection's next packet. The zeros are made up only together with the capture that shows the loss (the
  frames it starts with), so that next packet is that capture's, in whichever file it falls: the note is never
  left for a close, carried or not.
* eCapture v1's stale re-emits (protocol doc §11.6: after a WebSocket upgrade every idle flush re-renders the
  upgrade request and its 101), left out and said on the FIN: with no FIN in the file where the connection
  closes, the HAR entry of the upgrade (written at the close, in that file's HAR) and the summary say them.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.support import mixed_stream
from tests.support.cli import run_main
from tests.support.dissect import dissect
from tests.support.made_up import SWITCH, UPGRADE
from tests.support.v2_stream import V2Stream

NOT_WRITTEN = re.compile(r"before this: a WebSocket binary frame: its last 4,900 bytes lost by eCapture .*"
                         r"\(--raw-payload: not written\)")


def _comments(tshark, pcap, port: str) -> list[str]:
    return [c for f in dissect(tshark, pcap) if port in (f.first("tcp.srcport"), f.first("tcp.dstport"))
            for c in f["frame.comment"]]


@pytest.mark.parametrize("gap", [0.001, 3.0])  # (the capture that shows the loss in the cut frame's file, or the next)
def test_raw_payload_zeros_not_written_are_said_before_a_carried_close(tmp_path, tshark, gap):
    s = V2Stream()
    s.connect(61, 7, "ws", ("10.7.0.2", 52000), ("10.7.0.1", 443))
    s.call(61, 7, "ws", True, UPGRADE)
    s.call(61, 7, "ws", False, SWITCH)
    s.call(61, 7, "ws", False, bytes([0x82, 126]) + (5000).to_bytes(2, "big") + b"a" * 100)  # (its rest: lost)
    s.call(61, 7, "ws", False, bytes([0x81, 5]) + b"hello", gap)
    s.t += 3  # (a file change at the next connection: connection 1 is carried and closes there, at the end)
    s.connect(62, 8, "curl", ("10.7.0.3", 52001), ("10.7.0.1", 443))
    s.call(62, 8, "curl", True, b"GET / HTTP/1.1\r\nHost: b\r\n\r\n")
    dump = tmp_path / "in.jsonl"
    dump.write_bytes(s.dump())
    p = run_main("convert", str(dump), "-w", str(tmp_path / "cap.pcapng"), "-b", "duration:2", "--raw-payload",
                 text=True)
    assert p.returncode == 0, p.stderr
    files = sorted(tmp_path.glob("cap_*.pcapng"))
    said = [(n, c) for n, f in enumerate(files) for c in _comments(tshark, f, "52000") if NOT_WRITTEN.search(c)]
    assert len(said) == 1 and said[0][0] == (0 if gap < 1 else 1), said
    assert f"origin {dump}:5;" in said[0][1]  # (on the packet of the capture that showed it)
    assert not _comments(tshark, files[-1], "52000")  # (the carried close: nothing of it in the last file)
    assert "see the packet comments" in p.stderr


def _v14_websocket_with_reemit() -> list[str]:
    ws, curl = "10.0.0.5:40001-10.0.0.1:443", "10.0.0.5:40002-10.0.0.1:443"
    line = mixed_stream.event_line  # (eCapture v1.4.2: whole seconds; data type 1 = the client wrote it)
    return [line(0, 100, "ws", 5, 1, ws, 1, UPGRADE), line(0, 100, "ws", 5, 0, ws, 3, SWITCH),
            line(1, 100, "ws", 5, 0, ws, 0, bytes([0x81, 5]) + b"hello"),
            line(1, 100, "ws", 5, 0, ws, 3, SWITCH),  # (§11.6: the idle flush re-renders the 101)
            line(6, 100, "curl", 6, 1, curl, 1, b"GET / HTTP/1.1\r\nHost: b\r\n\r\n"),  # (the next file)
            line(6, 100, "curl", 6, 0, curl, 3, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")]


REEMIT = "1 stale re-emit(s) of the previous HTTP/1 headers omitted"


def test_a_stale_reemit_of_a_carried_websocket_is_said_by_its_har_entry_and_the_summary(tmp_path, tshark):
    dump = tmp_path / "in.jsonl"
    dump.write_text("\n".join(_v14_websocket_with_reemit()) + "\n")
    one = run_main("convert", str(dump), "-w", str(tmp_path / "one.pcapng"), text=True)  # (no ring: on the FIN)
    (fin,) = [c for c in _comments(tshark, tmp_path / "one.pcapng", "40001") if "closed" in c]
    assert REEMIT in fin and "stale re-emits left out 1" in one.stderr

    p = run_main("convert", str(dump), "-w", str(tmp_path / "cap.pcapng"), "--har", str(tmp_path / "cap.har"),
                 "-b", "duration:2", text=True)
    assert p.returncode == 0, p.stderr
    pcaps, hars = sorted(tmp_path.glob("cap_*.pcapng")), sorted(tmp_path.glob("cap_*.har"))
    assert len(pcaps) == len(hars) == 2
    assert not _comments(tshark, pcaps[1], "40001")  # (carried, closed with no byte in the file: not in it)
    assert not any(REEMIT in c for f in pcaps for c in _comments(tshark, f, "40001"))  # (no FIN of it anywhere)
    (upgrade,) = [e for e in json.loads(hars[1].read_text())["log"]["entries"] if e["request"]["url"].endswith("/ws")]
    assert REEMIT in upgrade["comment"] and upgrade["response"]["status"] == 101
    assert "stale re-emits left out 1" in p.stderr
