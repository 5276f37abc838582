"""WebSocket with permessage-deflate (context takeover, 12-bit windows) end to end:
a v2 stream → pcapng that tshark dissects as WebSocket, and a HAR whose
_webSocketMessages hold the inflated messages."""

from __future__ import annotations

import base64
import json
import zlib

from ecq2pcap.cli import main
from tests.conftest import run_tshark
from tests.support.har import load_with_haralyzer, validate_har
from tests.support.frames import ws_frame
from tests.support.v2_stream import V2Stream

UPGRADE = (b"GET /chat HTTP/1.1\r\nHost: ws.example:9443\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
           b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n")
SWITCH = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
          b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=12; server_max_window_bits=12\r\n\r\n")


def frame(payload: bytes, opcode: int, *, masked: bool, rsv1: bool) -> bytes:
    return ws_frame(payload, opcode, masked=masked, rsv1=rsv1)


class Deflater:
    """RFC 7692 sender with context takeover: one compressor for the whole direction."""

    def __init__(self) -> None:
        self.c = zlib.compressobj(wbits=-12)

    def __call__(self, data: bytes) -> bytes:
        out = self.c.compress(data) + self.c.flush(zlib.Z_SYNC_FLUSH)
        assert out.endswith(b"\x00\x00\xff\xff")
        return out[:-4]


def build(path):
    s = V2Stream()
    s.connect(77, 9, "chat", ("10.9.0.2", 51000), ("10.9.0.1", 9443))
    s.call(77, 9, "chat", True, UPGRADE)
    s.call(77, 9, "chat", False, SWITCH)
    to_server, to_client = Deflater(), Deflater()
    sent = []
    for i in range(12):
        text = json.dumps({"seq": i, "body": "repeat " * 20}).encode()  # repeats: later ones lean on the window
        s.call(77, 9, "chat", True, frame(to_server(text), 1, masked=True, rsv1=True))
        reply = bytes(range(256)) * 3 + bytes([i])
        s.call(77, 9, "chat", False, frame(to_client(reply), 2, masked=False, rsv1=True))
        sent += [("send", 1, text), ("receive", 2, reply)]
    s.call(77, 9, "chat", True, frame(b"\x03\xe8bye", 8, masked=True, rsv1=False))
    path.write_bytes(s.dump())
    return sent


def test_permessage_deflate_session(tmp_path, tshark):
    dump = tmp_path / "ws.jsonl"
    sent = build(dump)
    pcap, har = tmp_path / "ws.pcapng", tmp_path / "ws.har"
    assert main(["convert", str(dump), "-w", str(pcap), "--har", str(har), "-q"]) == 0

    doc = json.loads(har.read_text())
    validate_har(doc)
    [entry] = doc["log"]["entries"]
    assert entry["response"]["status"] == 101 and entry["request"]["url"] == "https://ws.example:9443/chat"
    msgs = [m for m in entry["_webSocketMessages"] if m["opcode"] in (1, 2)]
    got = [(m["type"], m["opcode"], m["data"].encode() if m["opcode"] == 1 else base64.b64decode(m["data"]))
           for m in msgs]
    assert got == sent
    assert "_error" not in entry

    # Wireshark dissects the frames (and inflates them itself) on the same TCP connection
    ws = run_tshark(tshark, pcap, "-Y", "websocket", "-T", "fields", "-e", "websocket.opcode", "-e", "websocket.rsv")
    opcodes = [line.split("\t")[0] for line in ws.splitlines()]
    assert opcodes.count("1") == 12 and opcodes.count("2") == 12 and opcodes.count("8") == 1
    text = run_tshark(tshark, pcap, "-Y", "websocket.opcode==1", "-T", "fields", "-e", "websocket.payload.text")
    assert text.splitlines() == [t.decode() for _, op, t in sent if op == 1]  # tshark inflated every one


def test_messages_after_one_ecapture_cut_are_read_and_the_loss_is_said(tmp_path, tshark, capsys):
    """eCapture keeps 16 KiB of one SSL call: a 40,000-byte message sent in one call swallowed the messages after
    it (read as its payload) in the HAR and in Wireshark. Its lost end is made up (bytes that unmask to zeros),
    and said; the next messages are read."""
    s = V2Stream()
    s.connect(78, 9, "chat", ("10.9.0.2", 51001), ("10.9.0.1", 9443))
    s.call(78, 9, "chat", True, UPGRADE.replace(b"Sec-WebSocket-Extensions: permessage-deflate; "
                                                b"client_max_window_bits\r\n", b""))
    s.call(78, 9, "chat", False, SWITCH.split(b"Sec-WebSocket-Extensions")[0] + b"\r\n")
    s.call(78, 9, "chat", True, frame(b"A" * 40000, 1, masked=True, rsv1=False)[:16384])  # what eCapture keeps
    s.call(78, 9, "chat", True, frame(b"after-big", 1, masked=True, rsv1=False))
    s.call(78, 9, "chat", False, frame(b"echo", 1, masked=False, rsv1=False))
    s.call(78, 9, "chat", True, frame(b"last", 1, masked=True, rsv1=False))
    dump, pcap, har = tmp_path / "ws.jsonl", tmp_path / "ws.pcapng", tmp_path / "ws.har"
    dump.write_bytes(s.dump())
    assert main(["convert", str(dump), "-w", str(pcap), "--har", str(har)]) == 0
    assert "1 × data lost by eCapture" in capsys.readouterr().err

    doc = json.loads(har.read_text())
    validate_har(doc)
    [entry] = doc["log"]["entries"]
    got = [(m["type"], m["data"]) for m in entry["_webSocketMessages"]]
    assert got[1:] == [("send", "after-big"), ("receive", "echo"), ("send", "last")]
    assert got[0][1].rstrip("\0") == "A" * (16384 - 8) and len(got[0][1]) == 40000
    assert "a WebSocket text frame: its last 23,624 bytes lost by eCapture" in entry["_error"]
    text = run_tshark(tshark, pcap, "-Y", "websocket.opcode==1", "-T", "fields", "-e", "websocket.payload.text")
    assert text.splitlines()[1:] == ["after-big", "echo", "last"]


def test_messages_after_a_dropped_event_are_read_from_the_next_capture_that_starts_with_frames(tmp_path):
    """A server's burst of 5,000-byte messages read in 16 KiB records, one record dropped by eCapture: the next
    record starts inside a message, its bytes read as a frame header broke the rules, and the HAR stopped reading
    that direction for good: the messages after the burst, each in a capture of its own, were lost (audit 41). It
    goes on at the first capture that starts with frames; what was between is skipped and said."""
    s = V2Stream()
    s.connect(79, 9, "chat", ("10.9.0.3", 51002), ("10.9.0.1", 9443))
    s.call(79, 9, "chat", True, UPGRADE.replace(b"Sec-WebSocket-Extensions: permessage-deflate; "
                                                b"client_max_window_bits\r\n", b""))
    s.call(79, 9, "chat", False, SWITCH.split(b"Sec-WebSocket-Extensions")[0] + b"\r\n")
    burst = b"".join(frame(bytes([65 + i]) * 5000, 2, masked=False, rsv1=False) for i in range(8))
    records = [burst[i:i + 16384] for i in range(0, len(burst), 16384)]
    assert records[2][:2] != b"\x82\x7e"  # (the record after the dropped one starts inside a message)
    for i, record in enumerate(records):
        if i != 1:  # (dropped by eCapture)
            s.call(79, 9, "chat", False, record)
    for text in (b"one", b"two"):
        s.call(79, 9, "chat", False, frame(text, 1, masked=False, rsv1=False))
    s.call(79, 9, "chat", True, frame(b"bye", 1, masked=True, rsv1=False))
    dump, har = tmp_path / "ws.jsonl", tmp_path / "ws.har"
    dump.write_bytes(s.dump())
    assert main(["convert", str(dump), "--har", str(har), "-q"]) == 0
    [entry] = json.loads(har.read_text())["log"]["entries"]
    got = [(m["type"], m["data"]) for m in entry["_webSocketMessages"] if m["opcode"] == 1]
    assert got == [("receive", "one"), ("receive", "two"), ("send", "bye")]
    assert "s2c: parsing resumed at a capture that starts with WebSocket frames" in entry["_error"]


def test_text_messages_of_control_bytes_go_as_base64_past_the_entrys_escapes(tmp_path, monkeypatch):
    """JSON writes a control byte as \\u0000, 6 bytes for one: 4,200 text messages of 16 KB of NUL bytes made a 403 MB
    HAR and 555 MB of memory (tests/limits/test_bombs.py measures it). Once the entry's escapes are over their
    allowance (made small here), a text message they would make larger than base64 is written as base64, marked as
    a binary one is; the others are as they were, and every one's data is its bytes."""
    monkeypatch.setattr("ecq2pcap.sinks.har.websocket.ESCAPES_KEPT", 400)
    messages = [b"\0" * 60, b"hi", b"\0" * 60, b"line\nand \"quoted\"\t\\", b"\x01" * 80, b"a" * 90 + b"\0" * 5,
                "caf\u00e9 \u2603".encode()]
    s = V2Stream()
    s.connect(80, 9, "chat", ("10.9.0.4", 51003), ("10.9.0.1", 9443))
    s.call(80, 9, "chat", True, UPGRADE.replace(b"Sec-WebSocket-Extensions: permessage-deflate; "
                                                b"client_max_window_bits\r\n", b""))
    s.call(80, 9, "chat", False, SWITCH.split(b"Sec-WebSocket-Extensions")[0] + b"\r\n")
    for m in messages:
        s.call(80, 9, "chat", False, frame(m, 1, masked=False, rsv1=False))
    dump, har = tmp_path / "ws.jsonl", tmp_path / "ws.har"
    dump.write_bytes(s.dump())
    assert main(["convert", str(dump), "--har", str(har), "-q"]) == 0
    doc = json.loads(har.read_text())
    validate_har(doc)
    load_with_haralyzer(doc)
    [entry] = doc["log"]["entries"]
    got = entry["_webSocketMessages"]
    # 60 NULs add 300 bytes of escapes: the first within the 400 allowed, the second and the 80 \x01 over it
    assert [m.get("_encoding") for m in got] == [None, None, "base64", None, "base64", None, None]
    assert [base64.b64decode(m["data"]) if m.get("_encoding") else m["data"].encode() for m in got] == messages
    assert {m["opcode"] for m in got} == {1}


def test_a_repeated_error_is_said_once_with_its_count(tmp_path, capsys):
    """Text frames without FIN, each interrupting the message before: the entry's _error said "message interrupted
    by a new message (incomplete)" for each of them, ~1,000 times and more with no cap, as it said a parser error
    for each bad frame (found by an audit of hostile inputs). Each is said once with its count, and warned once."""
    s = V2Stream()
    s.connect(81, 9, "chat", ("10.9.0.5", 51004), ("10.9.0.1", 9443))
    s.call(81, 9, "chat", True, UPGRADE.replace(b"Sec-WebSocket-Extensions: permessage-deflate; "
                                                b"client_max_window_bits\r\n", b""))
    s.call(81, 9, "chat", False, SWITCH.split(b"Sec-WebSocket-Extensions")[0] + b"\r\n")
    for i in range(1000):
        s.call(81, 9, "chat", False, ws_frame(b"part %d" % i, 1, masked=False, fin=False))
    s.call(81, 9, "chat", False, ws_frame(b"", 9, masked=False, rsv1=True) * 300)  # pings with RSV1 set
    s.call(81, 9, "chat", False, frame(b"done", 1, masked=False, rsv1=False))
    dump, har = tmp_path / "ws.jsonl", tmp_path / "ws.har"
    dump.write_bytes(s.dump())
    assert main(["convert", str(dump), "--har", str(har)]) == 0
    err = capsys.readouterr().err
    doc = json.loads(har.read_text())
    validate_har(doc)
    [entry] = doc["log"]["entries"]
    assert entry["_error"].split("; ") == [
        "WebSocket message: message interrupted by a new message (incomplete) (×1000)",
        "WebSocket: s2c: control frame with RSV1 set (×300)"]
    assert [m["data"] for m in entry["_webSocketMessages"] if m["opcode"] == 1] == [f"part {i}" for i in range(1000)] \
        + ["done"]
    assert err.count("interrupted by a new message") == 1 and "(×1000)" in err
    assert "1 × HAR: WebSocket message" in err
