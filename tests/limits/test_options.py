"""The limits reach every parser: options given on the command line bite in HTTP/1, HTTP/2
and WebSocket alike, are stated in the HAR and counted in the summary."""

import json

import pytest

from ecq2pcap.cli import main
from ecq2pcap.limits import Limits, limit_note, limits_in, parse_size
from tests.conftest import FIXTURES


def test_sizes_parse_with_binary_suffixes():
    assert parse_size("64M") == parse_size("64MiB") == 64 << 20
    assert parse_size("512k") == 512 << 10 and parse_size("7") == 7
    with pytest.raises(ValueError):
        parse_size("lots")


def test_a_limit_note_names_its_flag():
    note = limit_note("body_size", "body cut")
    assert limits_in(note) == ["--max-body-size"] and "--max-body-size" in note


def test_flags_reach_http2_and_websocket(tmp_path, capsys):
    har = tmp_path / "o.har"
    code = main(["convert", str(FIXTURES / "v2_client.frames.jsonl.gz"), "--har", str(har), "--no-progress",
                 "--max-body-size", "16", "--max-ws-message-size", "4"])
    assert code == 0
    entries = json.loads(har.read_text())["log"]["entries"]
    h2 = [e for e in entries if e["request"]["httpVersion"] == "HTTP/2" and e["response"]["bodySize"] > 16]
    ws = [e for e in entries if e.get("_webSocketMessages")]
    assert h2 and ws
    for e in h2:
        assert "truncated at 16 bytes (limit: --max-body-size)" in e["_error"]
        assert len(e["response"]["content"].get("text", "")) <= 16
    assert "truncated at 4 bytes (limit: --max-ws-message-size)" in ws[0]["_error"]
    assert all(len(m["data"]) <= 8 for m in ws[0]["_webSocketMessages"] if m["opcode"] in (1, 2))  # base64 of 4
    err = capsys.readouterr().err
    assert "limits reached: " in err and "--max-body-size" in err.split("limits reached: ")[1]


def test_bad_size_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["convert", str(FIXTURES / "v2_client.frames.jsonl.gz"), "--har", str(tmp_path / "o.har"),
              "--max-body-size", "huge"])
    assert exc.value.code == 2 and "--max-body-size" in capsys.readouterr().err


def test_limits_from_args_keep_defaults_for_missing_ones():
    class Args:
        body_size = 10
        open_connections = None

    assert Limits.from_args(Args()) == Limits(body_size=10)


def test_a_warning_counts_the_limits_it_names_every_time():
    """Report.warn counts the limits of its reason and detail (kept by the pair: the open limit's
    warning comes for every connection it ends), and Report.skip those of its reason, each time they are
    given; texts naming none count none."""
    from ecq2pcap.report import Report

    report = Report()
    note = limit_note("open_connections", "ended early")
    for _ in range(3):
        report.warn("connection ended early (too many open)", detail=note)
        report.warn("something else", detail="no limit here (limit: none said so)")
        report.warn(limit_note("body_size", "cut"))
        report.warn("plain")
        report.skip("d:1", limit_note("message_size", "message skipped"))
    assert report.limits == {"--max-connections": 3, "none said so": 3, "--max-body-size": 3,
                             "--max-message-size": 3}
    assert limits_in("no note here") == [] and limits_in("a (limit: --x) b (limit: --y)") == ["--x", "--y"]
