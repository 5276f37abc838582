"""``convert -b`` names its files by their first packet's capture time (as editcap names the files it splits a
capture into), not by the wall clock of the conversion: every file of a recording converted later was named by the
second it was converted in, the same for all, saying nothing of the traffic in it. ``live`` keeps dumpcap's wall
clock (the time the file was started, which is the capture's)."""

from __future__ import annotations

import errno
import json
import os
import re
import time

import pytest

from ecq2pcap.cli import main
from tests.support.cli import run_main
from tests.support.curl_events import T, exchange
from tests.support.har import validate_har
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


def _convert_ring(tmp_path, *options: str):
    """convert -b duration:4 of _dump into out/ (four exchanges 3 s apart: three files); (exit code, stderr, out)."""
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    p = run_main("convert", str(_dump(tmp_path)), "-w", str(out / "c.pcapng"), "--har", str(out / "c.har"),
                 "-b", "duration:4", "--no-progress", *options, text=True)
    return p.returncode, p.stderr, out


def _pairs(out) -> list[tuple[str, str]]:
    """The ring's files as (pcapng, HAR) names, the HAR's stem matched to the pcapng's number (c_00001_…)."""
    pcaps, hars = (sorted(p for p in out.glob(f"*.{ext}") if p.is_file()) for ext in ("pcapng", "har"))
    assert [p.stem[:7] for p in pcaps] == [h.stem[:7] for h in hars]  # (one HAR per pcapng, none lost)
    return [(p.name, h.name) for p, h in zip(pcaps, hars)]


def _all_there(out) -> None:
    """Every exchange of _dump is in the files: none lost by a rename."""
    hars = [json.loads(h.read_text(encoding="utf-8")) for h in out.glob("*.har") if h.is_file()]
    for har in hars:
        validate_har(har)
    assert sum(len(har["log"]["entries"]) for har in hars) == 4
    assert sum(len(epbs(p)) for p in out.glob("*.pcapng") if p.is_file()) >= 4 * 2


@pytest.mark.parametrize("blocked", ["pcapng", "har"])
def test_a_pair_whose_one_file_cannot_be_renamed_keeps_one_time_in_its_names(tmp_path, blocked):
    """The first file's pcapng and HAR were renamed each on its own: when a folder was in the way of one of them
    (or a rename failed), the other still took its capture-time name, and the pair's names gave two times, unsaid.
    They are renamed as a pair: both keep the names they were opened with, and a warning says so and why."""
    capture_time = f"c_00001_{_stamp(T)}"
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / f"{capture_time}.{blocked}").mkdir()  # (in the way of one of the two)
    code, err, out = _convert_ring(tmp_path)
    assert code == 0, err
    (first_pcap, first_har), *rest = _pairs(out)
    assert first_pcap[:-len(".pcapng")] == first_har[:-len(".har")] != capture_time  # (one time: the conversion's)
    assert rest and all(p[:-len(".pcapng")] == h[:-len(".har")] for p, h in rest)
    assert "warning: ring buffer: the first file is not named by its capture time: " in err
    assert f"{first_pcap} and {first_har} keep the names they were opened with" in err
    assert re.search(r"^\s+1 × ring buffer: the first file is not named by its capture time$", err, re.M)
    _all_there(out)


def test_a_pair_whose_first_file_cannot_get_its_name_back_says_which_name_each_has(tmp_path, monkeypatch):
    """The HAR's rename fails, and so does the pcapng's back to its first name: the pair's names differ, said in
    the warning (which is which), and neither is lost (the newest file only is kept: the first pair, named as said,
    is deleted whole when the ring turns)."""
    from ecq2pcap import ring

    real, calls = os.replace, []

    def replace(src, dst):
        calls.append((os.path.basename(src), os.path.basename(dst)))
        if len(calls) > 1:  # (the pcapng's goes; the HAR's, then the pcapng's back, fail)
            raise PermissionError(errno.EACCES, "Permission denied")
        real(src, dst)

    monkeypatch.setattr(ring.os, "replace", replace)
    code, err, out = _convert_ring(tmp_path)
    assert code == 0, err
    pcap, har = calls[0][1], calls[1][0]
    assert pcap == f"c_00001_{_stamp(T)}.pcapng" and calls[2] == (pcap, calls[0][0])
    assert f"{pcap} could not get its name back (Permission denied): the pcapng is {pcap}, the HAR {har}" in err
    pairs = _pairs(out)
    assert pairs[0] == (pcap, har)
    _all_there(out)
    for path in out.iterdir():
        path.unlink()
    calls.clear()
    code, err, out = _convert_ring(tmp_path, "-b", "files:1")  # (the first pair deleted by the names it has)
    assert code == 0 and len(calls) == 3, err
    assert len(_pairs(out)) == 1 and len(list(out.iterdir())) == 2
