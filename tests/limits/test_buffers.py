"""--max-connection-buffer: a connection whose unfinished exchanges hold more than the limit
is ended in the HAR there (its exchanges say why) and decoded no further; the pcapng keeps it."""

from __future__ import annotations

from tests.limits.support import Dump, convert_measured, load_har


def test_pipelined_requests_without_answers(tmp_path):
    d = Dump()
    fd = d.open()
    body = b"x" * (400 << 10)
    for i in range(6):  # 2.4 MB of request bodies waiting for responses that never come
        d.send(fd, b"POST /up/%d HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (i, len(body)) + body)
    other = d.open()  # another connection is not affected
    d.send(other, b"GET /fine HTTP/1.1\r\nHost: x\r\n\r\n")
    d.recv(other, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    har = tmp_path / "o.har"
    code, _, err = convert_measured("convert", str(d.write(tmp_path / "in.jsonl")), "--har", str(har),
                                    "--max-connection-buffer", "1M")
    assert code == 0, err
    entries = {e["request"]["url"].split("/", 3)[3]: e for e in load_har(har)}
    assert entries["fine"]["response"]["status"] == 200 and "_error" not in entries["fine"]
    cut = [e for k, e in entries.items() if k.startswith("up/")]
    assert 1 <= len(cut) < 6  # ended once the connection held over 1 MiB
    for e in cut:
        assert "(over 1048576): its exchanges end here" in e["_error"] and "--max-connection-buffer" in e["_error"]
    assert "bytes after the connection's buffer limit not decoded" in err
    assert "--max-connection-buffer" in err.split("limits reached: ")[1]


def test_http2_streams_that_never_end(tmp_path):
    import hpack
    from hyperframe.frame import DataFrame, HeadersFrame, SettingsFrame

    enc = hpack.Encoder()
    d = Dump()
    fd = d.open()
    d.send(fd, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + SettingsFrame(0).serialize())
    for i in range(8):  # 8 uploads of 300 KiB in flight at once, none finished
        sid = 2 * i + 1
        head = [(":method", "POST"), (":scheme", "https"), (":authority", "x"), (":path", f"/s{i}")]
        d.send(fd, HeadersFrame(sid, data=enc.encode(head), flags={"END_HEADERS"}).serialize()
               + b"".join(DataFrame(sid, data=b"y" * 15000).serialize() for _ in range(20)))
    har = tmp_path / "o.har"
    code, _, err = convert_measured("convert", str(d.write(tmp_path / "in.jsonl")), "--har", str(har),
                                    "--max-connection-buffer", "1M")
    assert code == 0, err
    entries = load_har(har)
    assert entries and all("(limit: --max-connection-buffer)" in e["_error"] for e in entries)
    assert len(entries) < 8  # the streams after the cut were not decoded (the pcapng has them)
