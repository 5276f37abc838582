"""Outputs never destroy inputs: refused before anything is written (exit 2, one line);
unreadable inputs exit 2 before anything is written; a full disk mid-run leaves valid files."""

from __future__ import annotations

import hashlib
import json
import os
import re
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from ecq2pcap.outputs import OutputConflict, OutputGuard
from tests.conftest import FIXTURES, ROOT, run_tshark
from tests.support.cli import run_main
from tests.support.har import load_with_haralyzer, validate_har
from tests.support.mixed_stream import curl_connections
from tests.support.pcapng import epbs

ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
SAMPLE = FIXTURES / "v140_client.dump.jsonl.gz"


def run(args, cwd, **kw):
    """The command in-process (a process start costs ~0.5 s); in a real process when it needs one (``stdin``,
    ``preexec_fn``)."""
    if not kw:
        return run_main(*args, cwd=cwd)
    return subprocess.run([sys.executable, "-m", "ecq2pcap", *args], capture_output=True, timeout=120, cwd=cwd,
                          env=ENV, **kw)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_refused(p, *words: str) -> None:
    err = p.stderr.decode()
    assert p.returncode == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for word in words:
        assert word in err, err


@pytest.fixture
def work(tmp_path):
    (tmp_path / "in.gz").write_bytes(SAMPLE.read_bytes())
    return tmp_path


# --------------------------------------------------------------- an output that is an input


@pytest.mark.parametrize("make,option", [
    (lambda d: "in.gz", "-w"),  # the same name
    (lambda d: "./sub/../in.gz", "--har"),  # another spelling of it
    (lambda d: os.symlink("in.gz", d / "link.gz") or "link.gz", "-w"),  # through a symlink
    (lambda d: os.link(d / "in.gz", d / "hard.gz") or "hard.gz", "--har"),  # a hard link
    (lambda d: os.link(d / "in.gz", d / "hard.gz") or "hard.gz", "--annotations"),
])
def test_an_output_that_is_the_input_is_refused_and_nothing_is_written(work, make, option):
    (work / "sub").mkdir()
    before = digest(work / "in.gz")
    out = make(work)
    names = set(os.listdir(work))
    extra = ["--har", "o.har"] if option != "--har" else ["-w", "o.pcapng"]
    p = run(["convert", "in.gz", option, out, *extra], work)
    assert_refused(p, f"{option} {out}", "input", "destroy")
    assert digest(work / "in.gz") == before
    assert set(os.listdir(work)) == names  # no output was even created


def test_an_output_whose_folder_is_missing_leaves_the_other_outputs_untouched(work):
    """The pcapng was opened (truncated) before the HAR's missing folder was found: a failed run had emptied an
    existing file."""
    (work / "keep.pcapng").write_bytes(b"precious")
    p = run(["convert", "in.gz", "-w", "keep.pcapng", "--har", "nodir/x.har"], work)
    assert_refused(p, "nodir/x.har", "cannot write")
    assert (work / "keep.pcapng").read_bytes() == b"precious"


@pytest.mark.parametrize("option,value", [("--idle-timeout", "nan"), ("--reorder-window", "inf"),
                                          ("--max-message-size", "99999999999999999999G")])
def test_an_option_value_out_of_any_range_is_a_usage_error_before_any_output(work, option, value):
    """NaN, infinity and sizes past any index ended in a traceback (exit 1) after the outputs were emptied."""
    (work / "keep.pcapng").write_bytes(b"precious")
    p = run(["convert", "in.gz", "-w", "keep.pcapng", option, value], work)
    assert p.returncode == 2 and "Traceback" not in p.stderr.decode() and option in p.stderr.decode()
    assert (work / "keep.pcapng").read_bytes() == b"precious"


def test_the_default_annotations_file_is_an_output_too(work):
    victim = work / "o.pcapng.annotations.jsonl"
    victim.write_bytes(b'{"log_type":2}\n')
    p = run(["convert", "in.gz", str(victim), "-w", "o.pcapng"], work)
    assert_refused(p, "--annotations", "input")
    assert not (work / "o.pcapng").exists()


@pytest.mark.parametrize("device", ["-w", "--har"])
def test_no_default_annotations_file_beside_a_device(work, device):
    """``-w /dev/null`` (or ``--har /dev/stdout``) with annotations to write: their default file was
    /dev/null.annotations.jsonl, refused to a user (exit 2 before anything was converted), made in /dev by root.
    Beside the other output, which is a file, they go; with no file output, the summary says where they could."""
    import gzip

    dump = work / "with-annotation.jsonl"
    dump.write_bytes(gzip.decompress(SAMPLE.read_bytes()) + b'{"log_type":7,"payload":{}}\n')
    stray = Path("/dev/null.annotations.jsonl")
    other = {"-w": "--har", "--har": "-w"}[device]
    try:
        p = run(["convert", str(dump), device, "/dev/null", other, str(work / "o.out")], work)
        assert p.returncode == 0, p.stderr.decode()
        assert not stray.exists()
        assert (work / "o.out.annotations.jsonl").read_text().count("\n") == 1
        p = run(["convert", str(dump), device, "/dev/null"], work)
        assert p.returncode == 0 and not stray.exists(), p.stderr.decode()
        assert "not written (no file output: --annotations FILE writes them)" in p.stderr.decode()
    finally:
        if stray.exists():
            stray.unlink()


def test_stdout_redirected_onto_the_input_is_refused(work):
    before = digest(work / "in.gz")
    with open(work / "in.gz", "ab") as out:  # `>> in.gz`
        p = subprocess.run([sys.executable, "-m", "ecq2pcap", "convert", "in.gz", "-w", "-"], stdout=out,
                           stderr=subprocess.PIPE, cwd=work, env=ENV, timeout=60)
    assert_refused(p, "stdout is the input")
    assert digest(work / "in.gz") == before


def test_stdin_input_written_as_output_is_refused(work):
    plain = work / "in.jsonl"
    plain.write_bytes(SAMPLE.read_bytes())
    with open(plain, "rb") as stdin:
        p = run(["convert", "-", "--har", "in.jsonl"], work, stdin=stdin)
    assert_refused(p, "is the input stdin")
    assert plain.read_bytes() == SAMPLE.read_bytes()


# --------------------------------------------------------------- directories and twins


def test_an_output_that_is_a_directory_is_refused(work):
    (work / "d").mkdir()
    assert_refused(run(["convert", "in.gz", "-w", "d"], work), "-w d: is a directory")
    assert_refused(run(["convert", "in.gz", "-w", "o.pcapng", "--har", "d"], work), "--har d: is a directory")
    assert not (work / "o.pcapng").exists()


@pytest.mark.parametrize("second", ["o.out", "./o.out", "lnk.out"])
def test_two_outputs_on_one_file_are_refused(work, second):
    os.symlink("o.out", work / "lnk.out")  # dangling until o.out exists: still the same file
    p = run(["convert", "in.gz", "-w", "o.out", "--har", second], work)
    assert_refused(p, f"--har {second}: the same file as -w o.out")
    (work / "o.out").write_bytes(b"keep")
    p = run(["convert", "in.gz", "-w", "o.out", "--har", second], work)
    assert_refused(p, "the same file as -w o.out")
    assert (work / "o.out").read_bytes() == b"keep"


def test_dev_null_may_take_several_outputs(work):
    p = run(["convert", "in.gz", "-w", os.devnull, "--har", os.devnull, "-q"], work)
    assert p.returncode == 0, p.stderr


@pytest.mark.parametrize("args,words", [
    (["live", "ws://127.0.0.1:9/", "--har", "x.har", "--record", "x.har"], ["--har x.har", "the same file"]),
    (["live", "ws://127.0.0.1:9/", "-w", "x.pcapng", "--record", "d"], ["--record d: is a directory"]),
    (["live", "ws://127.0.0.1:9/", "-w", "d"], ["-w d: is a directory"]),
    (["record", "ws://127.0.0.1:9/", "-o", "d"], ["-o d: is a directory"]),
])
def test_live_and_record_outputs_are_checked_before_connecting(tmp_path, args, words):
    (tmp_path / "d").mkdir()
    p = run([*args, "--retry-for", "0"], tmp_path)
    assert_refused(p, *words)
    assert sorted(os.listdir(tmp_path)) == ["d"]


def test_the_guard_checks_each_file_name_it_is_given(tmp_path):
    """What a command writing many files (a ring buffer) relies on: one claim per file."""
    src = tmp_path / "in.jsonl"
    src.write_text("{}\n")
    guard = OutputGuard([str(src)])
    guard.claim("-b", str(tmp_path / "ring_1.pcapng"))
    guard.claim("-b", str(tmp_path / "ring_2.pcapng"))
    with pytest.raises(OutputConflict, match="the same file as -b"):
        guard.claim("--har", str(tmp_path / "ring_2.pcapng"))
    with pytest.raises(OutputConflict, match="is the input"):
        guard.claim("-b", str(src))


# --------------------------------------------------------------- inputs that cannot be opened


@pytest.mark.parametrize("make,reason", [
    (lambda d: "missing.jsonl", "no such file"),
    (lambda d: (d / "dir").mkdir() or "dir", "is a directory"),
    (lambda d: os.symlink("nowhere", d / "dangling") or "dangling", "no such file"),
])
def test_an_unopenable_input_exits_2_before_anything_is_written(work, make, reason):
    name = make(work)
    p = run(["convert", "in.gz", name, "-w", "o.pcapng", "--har", "o.har"], work)
    assert_refused(p, f"{name}: cannot read: {reason}")
    assert not (work / "o.pcapng").exists() and not (work / "o.har").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_an_unreadable_input_exits_2(work):
    (work / "in.gz").chmod(0)
    assert_refused(run(["convert", "in.gz", "-w", "o.pcapng"], work), "permission denied")


# --------------------------------------------------------------- a full disk


def test_an_output_on_a_full_device_exits_2_before_converting(work):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    p = run(["convert", "in.gz", "-w", "/dev/full", "--har", "o.har"], work)
    assert_refused(p, "/dev/full: cannot write: No space left on device")
    p = run(["convert", "in.gz", "-w", "o.pcapng", "--har", "/dev/full"], work)
    assert_refused(p, "/dev/full: cannot write")


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_an_annotations_file_that_cannot_be_written_at_the_end_is_one_error(work, jobs):
    """The annotations file is opened at the first annotation and written out at the end: a full device then
    gave a traceback and no summary (the safety audit's finding 4). One line, the summary, exit 1."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    edge = Path(__file__).resolve().parents[1] / "fixtures" / "v140_edge_cases.jsonl"  # (annotations: bash, sql)
    p = run(["convert", str(edge), "-w", "o.pcapng", "--har", "o.har", "--annotations", "/dev/full", "-j", jobs],
            work)
    err = p.stderr.decode()
    assert p.returncode == 1 and "Traceback" not in err, err
    assert "ecq2pcap: error: /dev/full: cannot write: No space left on device" in err and "ecq2pcap summary" in err
    assert "/dev/full could not be written" in err and "written to /dev/full" not in err  # (the summary said so)
    assert json.loads((work / "o.har").read_text())["log"]["entries"]


def _file_size_limit(limit: int):
    def apply() -> None:  # writes past `limit` bytes fail with EFBIG, as on a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


@pytest.mark.parametrize("room", ["little", "almost enough"])
def test_disk_full_mid_run_stops_with_one_error_and_valid_outputs(work, tshark, room):
    assert run(["convert", "in.gz", "-w", "full.pcapng", "-q"], work).returncode == 0
    full = (work / "full.pcapng").stat().st_size
    limit = 40_000 if room == "little" else full - 1
    p = run(["convert", "in.gz", "-w", "o.pcapng", "--har", "o.har"], work, preexec_fn=_file_size_limit(limit))
    err = p.stderr.decode()
    assert p.returncode == 1 and "Traceback" not in err, err
    assert "cannot write: File too large" in err and "written before" in err
    assert 0 < (work / "o.pcapng").stat().st_size <= limit
    frames = run_tshark(tshark, work / "o.pcapng", "-T", "fields", "-e", "frame.number")  # no error: whole blocks
    doc = json.loads((work / "o.har").read_text())
    validate_har(doc)
    load_with_haralyzer(doc)
    # the summary says what the files hold (it said the HAR entries made, not those the HAR was cut back to)
    assert re.search(rf"HAR entries +{len(doc['log']['entries'])}\n", err), err
    assert re.search(rf"packets +{len(frames.split())}\n", err), err
    if room == "almost enough":
        assert frames.split()  # some packets were written before the disk filled up


def test_the_summary_counts_the_entries_a_har_cut_back_holds(work):
    """A HAR over the disk's room is cut back to its last commit (here its start: a conversion of under a second
    commits at the end); the summary said the 400 entries made."""
    curl_connections(work / "many.jsonl", 400)
    p = run(["convert", "many.jsonl", "--har", "o.har"], work, preexec_fn=_file_size_limit(200_000))
    err = p.stderr.decode()
    assert p.returncode == 1 and "o.har: cannot write" in err, err
    held = len(json.loads((work / "o.har").read_text())["log"]["entries"])
    assert held < 400 and re.search(rf"HAR entries +{held}\n", err), err


def test_stdout_closed_at_start_is_a_usage_error(work):
    """`-w -` with standard output closed (`>&-`) ended in AttributeError on the missing stdout."""
    p = subprocess.run(["sh", "-c", f'"{sys.executable}" -m ecq2pcap convert in.gz -w - -q >&-'], cwd=work,
                       capture_output=False, stderr=subprocess.PIPE, timeout=120, env=ENV)
    assert p.returncode == 2 and b"Traceback" not in p.stderr and b"standard output is closed" in p.stderr


# --------------------------------------------------------------- a reader of stdout that goes away


@pytest.mark.parametrize("piped", ["-w", "--har"])
def test_when_the_reader_of_stdout_goes_away_the_other_output_is_completed(tmp_path, piped):
    """``convert -w - --har o.har | head -c 100``: the run stopped at the broken pipe, silently, exit 0, the HAR
    cut short (the safety audit's finding 5). The piped output stops, said once; the other goes on to its end."""
    dump, n = tmp_path / "d.jsonl", 3000  # (~3 MB of pcapng or HAR: far past a pipe's buffer)
    curl_connections(dump, n)
    other = ["--har", "o.har"] if piped == "-w" else ["-w", "o.pcapng"]
    proc = subprocess.Popen([sys.executable, "-m", "ecq2pcap", "convert", str(dump), piped, "-", *other],
                            cwd=tmp_path, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert len(proc.stdout.read(100)) == 100
    proc.stdout.close()  # (as `head -c 100` does)
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, err
    assert "the reader of stdout went away: that output stopped; converting on for the others" in err
    assert "Traceback" not in err and "ecq2pcap summary" in err
    if piped == "-w":
        entries = json.loads((tmp_path / "o.har").read_text())["log"]["entries"]
        assert len(entries) == n
    else:
        assert len(epbs(tmp_path / "o.pcapng")) == n * 8  # (handshake, request, response, close)


def test_when_a_named_pipe_output_closes_stdout_goes_on(tmp_path):
    """``-w fifo --har -``: the FIFO's reader goes away; stdout, the HAR's, must not be silenced with it (the whole
    HAR still comes), and the message names an output pipe, not stdout."""
    import threading

    dump, n = tmp_path / "d.jsonl", 3000
    curl_connections(dump, n)
    fifo = tmp_path / "w.fifo"
    os.mkfifo(fifo)

    def read_a_little() -> None:
        with open(fifo, "rb") as f:
            f.read(100)

    reader = threading.Thread(target=read_a_little)
    reader.start()
    p = subprocess.run([sys.executable, "-m", "ecq2pcap", "convert", str(dump), "-w", str(fifo), "--har", "-"],
                       cwd=tmp_path, env=ENV, capture_output=True, timeout=120)
    reader.join(10)
    err = p.stderr.decode()
    assert p.returncode == 0, err
    assert "the reader of an output pipe went away: that output stopped; converting on for the others" in err
    assert len(json.loads(p.stdout)["log"]["entries"]) == n
