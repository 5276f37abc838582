"""HTTP/1 heads that hold other start lines before their blank line (hostile or broken streams: a header line h11
refuses and no blank line for many messages). Each such head is refused; they are skipped at once, in time linear
in their bytes (each used to be read to the same distant blank line: 4,000 heads took 11 s, 40,000 minutes), and
what is said is what the first refusal says."""

from __future__ import annotations

import pytest

from ecq2pcap.model import Direction
from ecq2pcap.payloads.http1 import Http1Decoder
from ecq2pcap.payloads.http1 import readers

C, S = Direction.C2S, Direction.S2C
BAD_RESPONSE = b"HTTP/1.1 200 OK\r\nServer : legacy\r\n"  # (a space before the colon: h11 refuses the line)
BAD_REQUEST = b"GET /x HTTP/1.1\r\nHost : legacy\r\n"
GET = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"


@pytest.fixture
def given(monkeypatch) -> list[int]:
    """The sizes of what the decoder gives h11, in order."""
    sizes: list[int] = []
    receive = readers.H11Reader.receive_data

    def counted(self, data):
        sizes.append(len(data))
        return receive(self, data)

    monkeypatch.setattr(readers.H11Reader, "receive_data", counted)
    return sizes


def _run(requests: bytes, responses: bytes, **kw):
    d = Http1Decoder(**kw)
    out = d.feed(C, requests, 1) if requests else []
    out += d.feed(S, responses, 2) if responses else []
    return out + d.close(3)


@pytest.mark.parametrize("heads", [1, 2, 3, 2000])
def test_response_heads_without_a_blank_line_are_skipped_at_once(given, heads):
    data = BAD_RESPONSE * heads + b"\r\n"
    out = _run(GET * 2, data)
    assert sum(given) <= 4 * len(data)  # (quadratic before: ~heads / 2 times the data for 2000)
    first, second = out
    # the last head holds no other start line: it answers the first request, its head not parsed; the heads before
    # it are one skip, said once with the first refusal's reason, on that answer (they came before it)
    assert first.response.status == 200 and not first.response.complete
    assert first.errors == [
        f"{(heads - 1) * len(BAD_RESPONSE)} bytes of unparsable server→client data skipped (unparsable response "
        "head: illegal header line: bytearray(b'Server : legacy'))",
        "response head not parsed (unparsable response head: illegal header line: bytearray(b'Server : legacy')): "
        "its header fields and body skipped"][2 - min(heads, 2):]  # fmt: skip
    assert second.errors == ["response not captured"]


@pytest.mark.parametrize("heads", [2, 2000])
def test_request_heads_without_a_blank_line_are_skipped_at_once(given, heads):
    data = BAD_REQUEST * heads + b"\r\n"
    out = _run(data, b"HTTP/1.1 204 No Content\r\n\r\n")
    assert sum(given) <= 4 * len(data)
    (ex,) = out  # (what was skipped before the last head said on its exchange)
    assert ex.request.method == "GET" and ex.request.target == "/x" and ex.response.status == 204
    skipped = f"{(heads - 1) * len(BAD_REQUEST)} bytes of unparsable client→server data skipped (unparsable " \
              "request head: illegal header line: bytearray(b'Host : legacy'))"  # fmt: skip
    assert ex.errors == ([skipped] if heads > 1 else []) + [
        "request head not parsed (unparsable request head: illegal header line: bytearray(b'Host : legacy')): "
        "its header fields and body skipped"]


def _skips(out) -> list[int]:
    """The sizes of the skips said on ``out``'s exchanges."""
    return [int(e.split()[0]) for ex in out for e in ex.errors if "bytes of unparsable" in e]


def test_heads_past_the_section_limit_are_not_called_over_it(given):
    """Together they pass --max-header-size (h11 is stopped by the limit before any blank line), but each ends at
    the next start line, far within it: refused for its lines, not for the limit, and skipped a limit's worth at
    a time (one skip said for each, not one for each head)."""
    heads = 1000
    data = BAD_RESPONSE * heads + b"\r\n"
    out = _run(GET * 2, data, max_head=4096)
    assert sum(given) <= 4 * len(data)
    assert not any("larger than" in e for ex in out for e in ex.errors)
    assert [ex.response.status if ex.response else None for ex in out] == [200, None]
    assert sum(_skips(out)) == (heads - 1) * len(BAD_RESPONSE)
    assert len(_skips(out)) <= len(data) // 4096 + 1
    assert all("(unparsable response head: illegal header line: bytearray(b'Server : legacy'))" in e
               for e in out[0].errors)


def test_a_long_line_in_a_head_that_holds_the_next_start_line_is_not_called_over_the_limit():
    """Such a head is refused for the start line it holds, whatever its lines' lengths (it was called over
    --max-header-line when h11 needed more bytes than the first slice, and took the answer of a request)."""
    long_head = b"HTTP/1.1 200 OK\r\nX-Long: " + b"v" * 5000 + b"\r\n"  # valid, but over --max-header-line 1000
    data = BAD_RESPONSE * 3 + long_head + BAD_RESPONSE * 3 + b"\r\n"
    out = _run(GET * 3, data, max_line=1000)
    assert [ex.response.status if ex.response else None for ex in out] == [200, None, None]
    assert not any("longer than" in e for ex in out for e in ex.errors)
    assert _skips(out) == [len(data) - len(BAD_RESPONSE) - 2]


def test_a_head_over_the_limit_up_to_the_next_start_line_is_refused_for_its_lines(given):
    """The limit case's reason is h11's for the head cut after the next start line: what h11 says of the whole head
    (its lines in order), a line folded onto that start line part of it."""
    folded = b"HTTP/1.1 200 OK\r\nA: b\r\n"  # (its lines are fine: the next start line is the bad one)
    data = folded + b"HTTP/1.1 200 OK\r\n continued\r\n" + b"X: y\r\n" * 4000 + b"\r\n"
    out = _run(GET * 2, data, max_head=4096)
    assert given[:2] == [4096, 8192]  # (h11 needed more than the limit: the limit's case)
    assert out[0].errors[0] == f"{len(folded)} bytes of unparsable server→client data skipped (unparsable " \
                               "response head: illegal header line: bytearray(b'HTTP/1.1 200 OK continued'))"
