"""End to end on the server-side fixtures built from real traffic (fixtures/build_server_side.py).

The same checks the shared samples get in test_convert_e2e (HAR against the generator's
expectations, WebSocket messages, tshark's dissection and expert info), plus: re-rendering the
recorded calls gives the committed fixtures byte for byte. (test_crosscheck runs them through
``live`` at full speed and at the recorded pace.)

Connections c2–c5 have their first calls captured before eCapture knew their socket (v1: the
shared unknown-tuple uuid; v2: the accept line comes after them). Every check is run twice: on the
connections without such calls and on all of them (such calls belong to the connection whose own
calls follow on that (pid, fd): ``ecq2pcap.flows.placement``).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json

import pytest

from fixtures import build_server_side
from tests.conftest import FIXTURES
from tests.support.dissect import assert_exchanges_dissected, bad_expert, dissect, websocket_data_frames
from tests.support.har import load_with_haralyzer, validate_har
from tests.test_convert_e2e import body_of, check_body, convert, expected_for, find_entries

STREAMS = ["gen_server_v140.dump.jsonl.gz", "gen_server_v15.frames.jsonl.gz", "gen_server_v2.frames.jsonl.gz"]
SCOPES = [pytest.param("settled", id="settled"), pytest.param("all", id="all")]


def entries_for(entries: list[dict], ex: dict) -> list[dict]:
    """Entries matching an expected exchange: as in test_convert_e2e, and by the decoded body when
    intact (several connections here reuse HTTP/2 stream ids and paths)."""
    found = find_entries(entries, ex)
    if ex.get("body") == "intact":
        found = [e for e in found if hashlib.sha256(body_of(e)).hexdigest() == ex["response_body_sha256"]]
    return found


def scoped(expected: dict, scope: str) -> dict:
    """The expectations of every connection ("all"), or of those whose calls all came after their
    tuple was known ("settled")."""
    if scope == "all":
        return expected
    settled = {c["conn"] for c in expected["connections"] if not c["calls_before_tuple"]}
    return {**expected, **{k: [x for x in expected[k] if x["conn"] in settled]
                           for k in ("exchanges", "partial_exchanges", "websocket_messages")}}


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    cache = {}

    def get(stream):
        if stream not in cache:
            cache[stream] = convert(tmp_path_factory.mktemp(stream.split(".")[0]), FIXTURES / stream)
        return cache[stream]

    return get


@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("stream", STREAMS)
def test_har_matches_expected(converted, stream, scope):
    expected = scoped(expected_for(FIXTURES, stream), scope)
    _, _, doc = converted(stream)
    validate_har(doc)
    entries = doc["log"]["entries"]
    assert len(load_with_haralyzer(doc)) == len(entries)
    for ex in expected["exchanges"]:
        found = entries_for(entries, ex)
        assert len(found) == 1, f"{ex['truth_id']} ({ex['method']} {ex['url']}): {len(found)} entries"
        e = found[0]
        assert "_error" not in e, (ex["truth_id"], e.get("_error"))
        assert e["request"]["httpVersion"] == ex["http_version"]
        if ex.get("content_type"):
            assert e["response"]["content"]["mimeType"].startswith(ex["content_type"])
        check_body(e, ex)
        assert e["_ecapture"]["pid"] == next(c["pid"] for c in expected["connections"] if c["conn"] == ex["conn"])
    for ex in expected["partial_exchanges"]:
        found = entries_for(entries, ex)
        assert len(found) == 1, f"partial {ex['truth_id']}: {len(found)} entries"
        assert "not captured" in found[0]["_error"]  # marked, never passed off as complete
        check_body(found[0], ex)
    if scope == "all":  # stale re-emits and lost messages never become entries of their own
        assert len(entries) == len(expected["exchanges"]) + len(expected["partial_exchanges"])


@pytest.mark.parametrize("stream", STREAMS)
def test_websocket_messages(converted, stream):
    expected = expected_for(FIXTURES, stream)["websocket_messages"]  # all on c4, whose upgrade preceded its tuple
    assert expected
    _, _, doc = converted(stream)
    got = []
    for e in doc["log"]["entries"]:
        for m in e.get("_webSocketMessages", []):
            data = m["data"].encode() if m["opcode"] == 1 else base64.b64decode(m["data"])
            got.append(("c2s" if m["type"] == "send" else "s2c", m["opcode"], hashlib.sha256(data).hexdigest()))
    want = [(m["dir"], m["opcode"], m["sha256"]) for m in expected]
    for d in ("c2s", "s2c"):  # order within each direction
        assert [g for g in got if g[0] == d] == [w for w in want if w[0] == d]


@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("stream", STREAMS)
def test_pcapng_in_tshark(converted, tshark, stream, scope):
    expected = scoped(expected_for(FIXTURES, stream), scope)
    pcap, _, _ = converted(stream)
    frames = dissect(tshark, pcap)
    assert not bad_expert(frames)
    assert_exchanges_dissected(frames, expected["exchanges"] + expected["partial_exchanges"])
    if scope == "all" and expected["websocket_messages"]:
        data_messages = [m for m in expected["websocket_messages"] if m["opcode"] in (1, 2)]
        assert websocket_data_frames(frames) == len(data_messages)


def test_rerendering_gives_the_committed_files():
    rec = json.loads(build_server_side.CALLS_FILE.read_text())
    rendered = build_server_side.render_all(rec)
    on_disk = sorted(p.name for p in FIXTURES.glob("gen_server_*") if p.name != build_server_side.CALLS_FILE.name)
    assert sorted(rendered) == on_disk
    for name, data in rendered.items():
        on_file = (FIXTURES / name).read_bytes()
        if name.endswith(".gz"):  # (what deflate makes of the same bytes depends on the zlib build: Python 3.13's differs)
            on_file, data = gzip.decompress(on_file), gzip.decompress(data)
        assert on_file == data, f"{name} differs: run python fixtures/build_server_side.py"
