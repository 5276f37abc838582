"""``summary`` reads its dump files as ``convert`` does: ``--max-message-size`` skips the same lines (its
tables are those of the pcapng convert writes with the same options), and an input that cannot be read is
the same usage error (exit 2, nothing printed on stdout)."""

import json

from tests.conftest import FIXTURES
from tests.support.cli import run_main

SAMPLE = FIXTURES / "v140_client.dump.jsonl.gz"


def test_max_message_size_skips_the_lines_convert_skips(tmp_path):
    limit = "2K"  # the sample's line of an HTTP/2 download's frames (~400 KB) is over it, its others are not
    convert = run_main("convert", str(SAMPLE), "-w", str(tmp_path / "o.pcapng"), "--max-message-size", limit,
                       text=True)
    assert convert.returncode == 0
    assert "(limit: --max-message-size)" in convert.stderr
    summary = run_main("summary", str(SAMPLE), "--json", "--max-message-size", limit, text=True)
    assert summary.returncode == 0
    assert "(limit: --max-message-size)" in summary.stderr
    whole = json.loads(run_main("summary", str(SAMPLE), "--json", text=True).stdout)
    cut = json.loads(summary.stdout)
    # the skipped line held the HTTP/2 connection's answers: fewer exchanges than the whole sample has
    assert len(cut["exchanges"]) < len(whole["exchanges"])


def test_a_directory_input_is_a_usage_error(tmp_path):
    result = run_main("summary", str(tmp_path), text=True)
    assert result.returncode == 2
    assert "is a directory" in result.stderr
    assert result.stdout == ""
