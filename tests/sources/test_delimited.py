import gzip
import io

import pytest

from ecq2pcap.dialects.v15_proto import delimit, encode_event, encode_heartbeat, encode_run_log
from ecq2pcap.model import Opcode
from ecq2pcap.report import Report
from ecq2pcap.sources.delimited import iter_delimited
from ecq2pcap.sources.files import FileSource, InputError

ENTRIES = [encode_heartbeat(1795715801, 1), encode_run_log('{"level":"info"}\n'),
           encode_event(uuid="1_1_curl_5_1_10.0.0.1:1-10.0.0.2:443", pid=1, pname="curl", type=0,
                        timestamp=1795715801000000000, payload=b"x" * 300)]
STREAM = b"".join(delimit(e) for e in ENTRIES)


def test_iter_delimited_round_trip_with_offsets():
    got = list(iter_delimited(io.BytesIO(STREAM)))
    assert [e for _, e, _ in got] == ENTRIES and [n for _, _, n in got] == [len(e) for e in ENTRIES]
    assert got[0][0] == 0 and got[1][0] == len(delimit(ENTRIES[0]))


def test_an_entry_over_the_limit_is_skipped_unread():
    biggest = max(len(e) for e in ENTRIES)
    got = list(iter_delimited(io.BytesIO(STREAM), max_size=biggest - 1))
    assert [e for _, e, _ in got] == [e if len(e) < biggest else None for e in ENTRIES]
    assert [n for _, _, n in got] == [len(e) for e in ENTRIES]


@pytest.mark.parametrize("cut", [1, 5])
def test_truncated_stream_raises(cut):
    with pytest.raises(ValueError, match="truncated"):
        list(iter_delimited(io.BytesIO(STREAM[:-cut])))


def test_file_source_reads_delimited_protobuf_plain_and_gzip(tmp_path):
    for name, data in [("d.pb", STREAM), ("d.pb.gz", gzip.compress(STREAM))]:
        path = tmp_path / name
        path.write_bytes(data)
        msgs = list(FileSource(str(path), Report()))
        assert [m.data for m in msgs] == ENTRIES
        assert all(m.opcode is Opcode.BINARY for m in msgs)
        assert msgs[1].origin == f"{path}@{len(delimit(ENTRIES[0]))}"


def test_file_source_truncated_delimited_is_an_input_error(tmp_path):
    path = tmp_path / "cut.pb"
    path.write_bytes(STREAM[:-3])
    src = FileSource(str(path), Report())
    got = []
    with pytest.raises(InputError, match="length-delimited"):
        for m in src:
            got.append(m)
    assert len(got) == 2  # everything before the cut was delivered
