"""The connection table keeps every attribute in a slot: read many times for each capture, an attribute of an
instance dict past its 30th key (CPython keeps at most 30 keys shared between a class's instances) is read the
slow way on every access, which cost ``convert --har`` 4.5k instructions an event (~1.5 %) when the table's
attributes went from 29 to 31. A new attribute must be added to ``ConnectionTable.__slots__``."""

from __future__ import annotations

from ecq2pcap.flows.table import ConnectionTable
from ecq2pcap.report import Report
from tests.support.cli import run_main
from tests.support.mixed_stream import curl_connections


def test_every_attribute_of_a_working_table_is_a_slot(tmp_path, monkeypatch):
    tables = []
    init = ConnectionTable.__init__

    def kept(self, *args, **kwargs):
        init(self, *args, **kwargs)
        tables.append(self)

    monkeypatch.setattr(ConnectionTable, "__init__", kept)
    dump = tmp_path / "d.jsonl"
    curl_connections(dump, 50)
    p = run_main("convert", str(dump), "-w", str(tmp_path / "o.pcapng"), "--har", str(tmp_path / "o.har"),
                 "--pid", "1", "-q")  # (with a filter: the table's optional parts set)
    assert p.returncode in (0, 1), p.stderr
    assert tables and all(vars(t) == {} for t in tables), [sorted(vars(t)) for t in tables]
    assert vars(ConnectionTable(Report())) == {}
