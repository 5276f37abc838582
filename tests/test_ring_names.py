"""``convert -b`` names its files by their first packet's capture time (as editcap names the files it splits a
capture into), not by the wall clock of the conversion: every file of a recording converted later was named by the
second it was converted in, the same for all, saying nothing of the traffic in it. ``live`` keeps dumpcap's wall
clock (the time the file was started, which is the capture's)."""

from __future__ import annotations

import time

from ecq2pcap.cli import main
from tests.support.curl_events import T, exchange
from tests.support.pcapng import epbs


def _stamp(seconds: float) -> str:
    return time.strftime("%Y%m%d%H%M%S", time.localtime(seconds))


def _dump(tmp_path):
    dump = tmp_path / "in.jsonl"  # (an exchange every 3 s, each its own connection: a file a 4 s duration)
    dump.write_text("\n".join(line for k in range(4) for line in exchange(T + 3 * k, 5 + k)) + "\n")
    return dump


def test_each_file_is_named_by_its_first_packets_capture_time(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    assert main(["convert", str(_dump(tmp_path)), "-w", str(out / "c.pcapng"), "--har", str(out / "c.har"),
                 "-b", "duration:4", "-q"]) == 0
    pcaps = sorted(out.glob("*.pcapng"))
    assert len(pcaps) >= 2  # (the premise: the ring turned)
    for n, path in enumerate(pcaps, 1):
        first = epbs(path)[0][0] / 1e9
        assert path.name == f"c_{n:05d}_{_stamp(first)}.pcapng"
    assert sorted(p.stem for p in out.glob("*.har")) == [p.stem for p in pcaps]  # (each HAR beside its pcapng)
    assert _stamp(T) in pcaps[0].name and _stamp(time.time()) not in pcaps[0].name  # (2027, not today)


def test_a_name_that_is_an_input_is_not_taken(tmp_path):
    dump = _dump(tmp_path)
    taken = tmp_path / f"c_00001_{_stamp(T)}.pcapng"  # (the name the first file would get: the input's own)
    dump.rename(taken)
    before = taken.read_bytes()
    assert main(["convert", str(taken), "-w", str(tmp_path / "c.pcapng"), "-b", "duration:4", "-q"]) == 0
    assert taken.read_bytes() == before  # (the input is left as it was: the first file kept its wall-clock name)
    first = sorted(tmp_path.glob("c_00001_*.pcapng"))
    assert len(first) == 2 and epbs(next(p for p in first if p != taken))
