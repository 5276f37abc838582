"""The entry's _webSocketMessages: what is held while the entry is written, and what is written."""

from __future__ import annotations

import json

from ecq2pcap.model import Direction
from ecq2pcap.sinks.har.exchange import WebSocketMessage
from ecq2pcap.sinks.har.websocket import har_messages
from ecq2pcap.sinks.har.writer import encode_entry

TEXTS = [b"plain", "caf\u00e9 \u2603 \U0001F600".encode(), b"\x00" * 30, b"\xff not UTF-8"]


def test_messages_are_let_go_of_as_they_are_written_and_read_back_the_same():
    """An entry holds its messages' texts (a text's str, or a non-ASCII one's JSON: a str of one emoji among ASCII is
    4 bytes a character) and not their bytes beside them: the exchange's list is emptied as it goes (an audit's
    entries of 64 MiB of messages peaked at 310 to 490 MB with both held)."""
    messages = [WebSocketMessage(Direction.S2C, 1_000_000_000 * i, 1, t) for i, t in enumerate(TEXTS)]
    out = har_messages(messages)
    assert messages == []
    written = json.loads(encode_entry({"m": out}))["m"]
    assert [m["data"] for m in written[:3]] == [t.decode() for t in TEXTS[:3]]
    assert written[3]["_encoding"] == "base64" and [m.get("_encoding") for m in written[:3]] == [None] * 3
    assert [m["time"] for m in written] == [0.0, 1.0, 2.0, 3.0]
