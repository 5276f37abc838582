import pytest

from ecq2pcap.sources import websocket


@pytest.fixture(params=[True, False], ids=["direct", "recv"])
def both_reader_paths(request, monkeypatch):
    """Run a test with messages taken from websockets' frames as they are parsed (``DIRECT``, the default)
    and through websockets' own ``recv``, the path ``DIRECT`` falls back to (sources/direct.py)."""
    monkeypatch.setattr(websocket, "DIRECT", request.param)
    return request.param
