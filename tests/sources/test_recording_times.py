"""A recording line's receive time ``t`` past what a pcapng holds (64 bits of nanoseconds: 2554-07-21) is unknown, as
a line without one is, not written with the bits that fit. eCapture v2 times by it what its text does not (gotls
events, connect lines, a header date outside 2000-2199 such as year 9999): a ``t`` of year 33658 gave packets of 2092
(and a second connection), one of 2**64 ns plus a second packets of 1970."""

from __future__ import annotations

import base64
import json
import subprocess

import pytest

from ecq2pcap.cli import main
from ecq2pcap.dialects.v15_proto import encode_event
from tests.support.v2_stream import V2Stream

REQUEST, RESPONSE = b"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n", b"HTTP/1.1 204 No Content\r\n\r\n"


@pytest.mark.parametrize("t", [1e12, 2**64 / 1e9 + 1])
@pytest.mark.parametrize("header", ["9999-12-31 23:59:59.999", "99999999-01-01 00:00:00.000"])
def test_a_receive_time_past_the_pcapngs_is_unknown(tmp_path, tshark, t, header):
    s = V2Stream()
    start = s.t
    s.connect(7, 5, "curl", ("10.0.0.1", 40005), ("10.0.0.2", 443))
    s.call(7, 5, "curl", True, REQUEST)
    text = f"[{header}] PID:7 TID:7 Comm:curl FD:5 READ ({len(RESPONSE)} bytes):\n".encode() + RESPONSE
    s.lines.append(json.dumps({"t": t, "opcode": "binary",  # (a header date no eCapture's: the receive time used)
                               "data_b64": base64.b64encode(encode_event(payload=text)).decode()}).encode())
    s.call(7, 5, "curl", True, REQUEST)
    s.call(7, 5, "curl", False, RESPONSE)
    dump, out = tmp_path / "in.jsonl", tmp_path / "o.pcapng"
    dump.write_bytes(s.dump())
    assert main(["convert", str(dump), "-w", str(out), "--no-progress"]) == 0
    capinfos = subprocess.run(["capinfos", "-o", str(out)], capture_output=True, text=True, check=True).stdout
    times = [float(x) for x in subprocess.run([tshark, "-r", str(out), "-T", "fields", "-e", "frame.time_epoch"],
                                              capture_output=True, text=True, check=True).stdout.split()]
    assert "Strict time order:   True" in capinfos
    assert start <= min(times) and max(times) <= s.t


@pytest.mark.parametrize("t, started", [(1e308, None), (-1e308, None), (-5.0, None), (0.5, 1e308)])
def test_a_receive_time_no_pcapng_holds_is_unknown_not_a_crash(tmp_path, capsys, t, started):
    """``t`` of 1e308 (or a header's ``started`` of 1e308 under a relative ``t``): its microseconds overflowed an
    integer, a traceback ended the run and the rest of the input was lost. Such a time, and one before 1970, is
    unknown, as a line without one is; the lines after it convert."""
    s = V2Stream()
    s.connect(7, 5, "curl", ("10.0.0.1", 40005), ("10.0.0.2", 443))
    s.call(7, 5, "curl", True, REQUEST)
    s.call(7, 5, "curl", False, RESPONSE)
    head = [json.dumps({"ecq2pcap": "recording", "version": 1, "url": "ws://x/", "started": started}).encode()] \
        if started is not None else []
    odd = json.dumps({"t": t, "opcode": "text", "text": '{"log_type":1,"payload":{"message":"x"}}'}).encode()
    dump, har = tmp_path / "in.jsonl", tmp_path / "o.har"
    dump.write_bytes(b"\n".join([*head, odd, s.dump()]))
    assert main(["convert", str(dump), "--har", str(har), "--no-progress"]) == 0
    assert "Traceback" not in capsys.readouterr().err
    (entry,) = json.loads(har.read_text())["log"]["entries"]
    assert entry["response"]["status"] == 204
