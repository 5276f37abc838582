"""``convert`` with ``{}`` in the output names: each input converted on its own into outputs named after it, -j N
at once (batch conversion of recorded dumps). Each input's outputs are byte for byte those of converting it alone
(the fixtures' golden digests); what cannot be done is a usage error before anything is written; Ctrl-C completes
the conversions running and starts no more."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ecq2pcap.commands.each import input_stem
from tests.support.cli import run_main, signal_when, stop_signals_at_default, under_way
from tests.support.dissect import bad_expert, dissect
from tests.support.golden import FIXTURES, GOLDEN
from tests.support.mixed_stream import many_connections

ROOT = Path(__file__).resolve().parent.parent.parent
EXPECTED = json.loads(GOLDEN.read_text())
NAMES = ["v140_client.dump.jsonl.gz", "v15_server.frames.jsonl.gz", "v2_client.frames.jsonl.gz",
         "v140_edge_cases.jsonl"]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_each_input_gets_the_outputs_of_its_own_conversion(tmp_path, jobs):
    for name in NAMES:
        shutil.copy(FIXTURES / name, tmp_path / name)  # (relative names: the outputs name their input)
    res = run_main("convert", *NAMES, "-w", "out/{}.pcapng", "--har", "out/{}.har", "-j", jobs, cwd=tmp_path, text=True)
    (tmp_path / "out").mkdir(exist_ok=True)  # (not made by convert: its absence is a usage error, see below)
    assert res.returncode == 2 and "out/" in res.stderr and not list((tmp_path / "out").iterdir())
    res = run_main("convert", *NAMES, "-w", "out/{}.pcapng", "--har", "out/{}.har", "-j", jobs, cwd=tmp_path, text=True)
    assert res.returncode == 0, res.stderr
    written = {}
    for name in NAMES:  # (every output of its conversion alone, annotations too: v140_edge_cases has some)
        stem = input_stem(name)
        for output, digest in EXPECTED[f"{name} default"].items():
            written[output.replace("out", stem, 1)] = digest
        assert f"ecq2pcap: {name}:\n" in res.stderr  # (what its conversion said, after its name)
    assert {p.name: _sha(p) for p in (tmp_path / "out").iterdir()} == written
    assert res.stderr.count("ecq2pcap summary:") == len(NAMES)
    assert res.stderr.rstrip().endswith(f"{len(NAMES)} of {len(NAMES)} inputs converted, each into its own outputs")


def test_the_name_of_an_input_without_its_compression_and_its_last_extension():
    assert [input_stem(p) for p in ("dumps/web1.jsonl.gz", "v140_client.dump.jsonl", "a/b/c", "x.gz", ".gz",
                                    ".hidden", "run.2026-12-07.jsonl", "d/web2.jsonl.zst", "web3.jsonl.xz",
                                    "web4.bin.bz2", "web5.zst.jsonl")] == \
        ["web1", "v140_client.dump", "c", "x", ".gz", ".hidden", "run.2026-12-07", "web2", "web3", "web4", "web5.zst"]


@pytest.mark.parametrize("argv, says", [
    (["-", "-w", "{}.pcapng"], "stdin ('-') has none"),
    (["a.jsonl", "b.jsonl", "-w", "{}.pcapng", "--har", "all.har"], "--har all.har: each input is converted"),
    (["a.jsonl", "sub/a.jsonl", "-w", "{}.pcapng"], "a.jsonl and sub/a.jsonl would both be written to a.pcapng"),
    (["a.jsonl", "b.jsonl", "-w", "{}.jsonl"], "-w a.jsonl: is the input; writing it would destroy it"),
    (["a.jsonl", "a.jsonl", "-w", "{}.pcapng"], "a.jsonl: given twice: give each input once"),  # (not "rename one",
    (["a.jsonl", "./a.jsonl", "-w", "{}.pcapng"], "./a.jsonl: given twice (as a.jsonl)"),  # nor two outputs')
    (["a.jsonl", "missing.jsonl", "-w", "{}.pcapng"], "missing.jsonl: cannot read"),
    (["a.jsonl", "b.jsonl", "-w", "{}.pcapng", "--har", "{}.pcapng"], "the same file as -w"),
    # (a's annotations, by their default name beside its -w: the other input; its conversion overwrote it)
    (["a.jsonl", "a.pcapng.annotations.jsonl", "-w", "{}.pcapng"],
     "--annotations a.pcapng.annotations.jsonl: is the input"),
])
def test_what_cannot_be_done_is_a_usage_error_before_anything_is_written(tmp_path, argv, says):
    (tmp_path / "sub").mkdir()
    for name in ("a.jsonl", "b.jsonl", "sub/a.jsonl", "a.pcapng.annotations.jsonl"):
        shutil.copy(FIXTURES / "v140_edge_cases.jsonl", tmp_path / name)
    before = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    res = run_main("convert", *argv, cwd=tmp_path, text=True)
    assert res.returncode == 2 and says in res.stderr, res.stderr
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == before


def test_one_input_with_braces_is_one_conversion_and_j_splits_it(tmp_path, monkeypatch):
    from ecq2pcap.commands import convert

    split = []
    real = convert.convert_parallel
    monkeypatch.setattr(convert, "convert_parallel", lambda args, *a: split.append(args.jobs) or real(args, *a))
    shutil.copy(FIXTURES / NAMES[0], tmp_path / NAMES[0])
    assert run_main("convert", NAMES[0], "-w", "plain.pcapng", "-q", cwd=tmp_path).returncode == 0
    res = run_main("convert", NAMES[0], "-w", "{}.pcapng", "-j", "2", "-q", cwd=tmp_path)
    assert res.returncode == 0 and split == [2]
    assert _sha(tmp_path / "v140_client.dump.pcapng") == _sha(tmp_path / "plain.pcapng")


def test_quiet_says_nothing_when_every_input_is_converted(tmp_path):
    """-q: no summary, the batch's count neither (a script's run said a line each time); said when one fails
    (test_a_conversion_that_dies_is_said_and_the_others_go_on)."""
    for name in NAMES[:2]:
        shutil.copy(FIXTURES / name, tmp_path / name)
        assert run_main("convert", name, "-w", "alone.pcapng", "-q", cwd=tmp_path, text=True).stderr == ""
    res = run_main("convert", *NAMES[:2], "-w", "{}.pcapng", "-q", "-j", "2", cwd=tmp_path, text=True)
    assert res.returncode == 0 and res.stderr == "", res.stderr
    assert (tmp_path / f"{input_stem(NAMES[1])}.pcapng").stat().st_size > 1000


def test_a_batch_in_another_thread_than_the_main_one(tmp_path):
    """main() called from a thread of an embedding program: the signals are not the batch's to take (Ctrl-Z's
    handler raised ValueError there), and the batch converts as it does in the main thread."""
    import threading

    for name in NAMES[:2]:
        shutil.copy(FIXTURES / name, tmp_path / name)
    got = []
    thread = threading.Thread(target=lambda: got.append(run_main("convert", *NAMES[:2], "-w", "{}.pcapng", "-q",
                                                                 cwd=tmp_path, text=True)))
    thread.start()
    thread.join(60)
    res, = got
    assert res.returncode == 0 and res.stderr == "", res.stderr
    assert (tmp_path / f"{input_stem(NAMES[1])}.pcapng").stat().st_size > 1000


def test_the_worst_exit_status_and_every_other_input_converted(tmp_path):
    """One input with a bad line under --strict (exit 1): the others are converted, the batch exits 1."""
    shutil.copy(FIXTURES / "v140_edge_cases.jsonl", tmp_path / "good.jsonl")
    (tmp_path / "bad.jsonl").write_bytes((FIXTURES / "v140_edge_cases.jsonl").read_bytes() + b"{not json\n")
    res = run_main("convert", "good.jsonl", "bad.jsonl", "-w", "{}.pcapng", "--strict", "-q", "-j", "2",
                   cwd=tmp_path, text=True)
    assert res.returncode == 1, res.stderr
    assert "ecq2pcap: bad.jsonl:\n" in res.stderr and "bad.jsonl:" in res.stderr.split("ecq2pcap: bad.jsonl:\n")[1]
    assert (tmp_path / "good.pcapng").stat().st_size > 1000 and (tmp_path / "bad.pcapng").stat().st_size > 1000


def _kill_left(proc: subprocess.Popen) -> None:
    """A batch a failed test left running, and its conversions (each in a process group of its own): killed."""
    if proc.poll() is not None:
        return
    children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
    for pid in [*map(int, children), proc.pid]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()


def _sigint_ignored() -> None:
    """A script's ``cmd &`` (no job control): SIGINT ignored, the others at their default."""
    stop_signals_at_default()
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("sig, group, ignored", [(signal.SIGINT, True, False), (signal.SIGTERM, False, False),
                                                 (signal.SIGINT, False, True)])
def test_ctrl_c_completes_the_conversions_running_and_starts_no_more(tmp_path, tshark, sig, group, ignored):
    """Ctrl-C (to the foreground process group, as a terminal sends it) or SIGTERM to the batch: the two conversions
    running complete their outputs (readable, with what was converted), the third never starts, exit 130. SIGINT
    too when the batch was started with it ignored (a script's ``cmd &``), as a single convert takes it (the batch
    left it ignored and converted every input)."""
    many_connections(tmp_path / "a.jsonl", 20000)
    for name in ("b.jsonl", "c.jsonl"):
        shutil.copy(tmp_path / "a.jsonl", tmp_path / name)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "ecq2pcap", "convert", "a.jsonl", "b.jsonl", "c.jsonl", "-w",
                             "{}.pcapng", "--har", "{}.har", "-j", "2", "-q"], cwd=tmp_path, env=env,
                            stderr=subprocess.PIPE, start_new_session=True,
                            preexec_fn=_sigint_ignored if ignored else stop_signals_at_default)

    def written(name: str) -> int:
        path = tmp_path / name
        return path.stat().st_size if path.exists() else 0

    signal_when(proc, lambda: written("a.pcapng") > 300_000 and written("b.pcapng") > 300_000, sig, group)
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        _kill_left(proc)
    err = err.decode()
    assert proc.returncode == 130, err
    assert err.count("interrupted: completing the outputs of the 2 conversion(s) running; 1 input(s) not "
                     "converted") == 1, err
    assert err.count("interrupted: completing the outputs\n") == 2, err  # (each conversion's own, said once)
    for name in ("a", "b"):
        entries = json.loads((tmp_path / f"{name}.har").read_text())["log"]["entries"]
        frames = dissect(tshark, tmp_path / f"{name}.pcapng")
        assert 0 < len(entries) < 20000 and frames and not bad_expert(frames)
    assert not (tmp_path / "c.pcapng").exists() and not (tmp_path / "c.har").exists()


def test_a_conversion_stopped_on_its_own_stops_the_batch(tmp_path):
    """SIGINT sent to one conversion's process (not the batch's): it completes its outputs, the batch starts no
    more and exits 130 once the other one running ends (it looped for ever, nothing left to start nor to wait for)."""
    many_connections(tmp_path / "a.jsonl", 20000)
    for name in ("b.jsonl", "c.jsonl"):
        shutil.copy(tmp_path / "a.jsonl", tmp_path / name)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "ecq2pcap", "convert", "a.jsonl", "b.jsonl", "c.jsonl", "-w",
                             "{}.pcapng", "-j", "2", "-q"], cwd=tmp_path, env=env, stderr=subprocess.PIPE,
                            preexec_fn=stop_signals_at_default)
    under_way(proc, lambda: (tmp_path / "a.pcapng").exists() and (tmp_path / "a.pcapng").stat().st_size > 300_000)
    children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
    first = min(children, key=int)  # (a.jsonl's: started first)
    os.kill(int(first), signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        _kill_left(proc)
    assert proc.returncode == 130, err.decode()
    assert not (tmp_path / "c.pcapng").exists()


def test_a_full_disk_under_what_the_conversions_say_neither_stops_nor_silences_them(tmp_path, monkeypatch, capfd):
    """The files that keep what each conversion says cannot be written (TMPDIR's disk full: /dev/full): the
    conversions go on to the end of their outputs, and what they say goes to stderr at once. (The first warning
    stopped each as if an output had failed, its outputs left cut short, and what it said was lost.)"""
    from ecq2pcap.commands import each

    monkeypatch.setattr(each.tempfile, "TemporaryFile", lambda **kw: open("/dev/full", "w+b"))
    for name in ("a.jsonl", "b.jsonl"):
        shutil.copy(FIXTURES / "v140_edge_cases.jsonl", tmp_path / name)
    assert run_main("convert", "a.jsonl", "-w", "alone.pcapng", "-q", cwd=tmp_path).returncode == 0
    res = run_main("convert", "a.jsonl", "b.jsonl", "-w", "{}.pcapng", "-q", cwd=tmp_path, text=True)
    said = capfd.readouterr().err
    assert res.returncode == 0, res.stderr + said
    assert _sha(tmp_path / "a.pcapng") == _sha(tmp_path / "alone.pcapng")
    assert "a.jsonl:18: invalid JSON" in said and "b.jsonl:18: invalid JSON" in said


def test_what_a_conversion_says_on_a_terminal_starts_its_own_line_not_the_progress_bars(tmp_path):
    """Stderr a terminal (a pty): the batch's progress bar is cleared before what a conversion said is written, and
    drawn after it, and before the last line (each was written after the bar, which stayed on the screen with it)."""
    import fcntl
    import pty
    import struct
    import termios

    for name in NAMES[:2]:
        shutil.copy(FIXTURES / name, tmp_path / name)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with open(slave, "wb") as tty:  # (the master is read as it comes: a full pty buffer would hold the batch up)
        proc = subprocess.Popen([sys.executable, "-m", "ecq2pcap", "convert", *NAMES[:2], "-w", "{}.pcapng",
                                 "-j", "1"], cwd=tmp_path, env=env, stderr=tty)
    out = b""
    while True:
        try:
            got = os.read(master, 65536)
        except OSError:  # (EIO: every writer closed it)
            break
        if not got:
            break
        out += got
    os.close(master)
    assert proc.wait(timeout=60) == 0
    screen = out.decode("utf-8", "replace")
    assert "converting:" in screen  # (the bar was drawn)
    said = [line.rstrip("\r").rsplit("\r", 1)[-1]  # (what the line shows: the pty ends each with \r\n)
            for line in screen.split("\n") if f"ecq2pcap: {NAMES[0]}:" in line or "2 of 2 inputs" in line]
    assert len(said) == 2 and all(line.startswith("ecq2pcap: ") for line in said), said


def test_a_batch_killed_leaves_nothing_behind(tmp_path):
    """The batch killed (SIGKILL, the OOM killer) while its conversions run: nothing of what they said is left in
    TMPDIR (the files that keep it have no name). (A folder of them was left, with what they had said.)"""
    many_connections(tmp_path / "a.jsonl", 20000)
    shutil.copy(tmp_path / "a.jsonl", tmp_path / "b.jsonl")
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(temp)}
    proc = subprocess.Popen([sys.executable, "-m", "ecq2pcap", "convert", "a.jsonl", "b.jsonl", "-w", "{}.pcapng",
                             "-j", "2", "-q"], cwd=tmp_path, env=env, stderr=subprocess.DEVNULL)
    try:
        under_way(proc, lambda: (tmp_path / "b.pcapng").exists() and (tmp_path / "b.pcapng").stat().st_size > 1000)
        children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
        assert children
    finally:
        _kill_left(proc)
    for pid in map(int, children):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert list(temp.iterdir()) == []


def _state(pid: int) -> str:
    """A process's state letter (``T``: stopped)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


@pytest.mark.parametrize("then", ["fg", "kill %1"])
def test_ctrl_z_stops_the_conversions_running_and_fg_goes_on(tmp_path, then):
    """Ctrl-Z (SIGTSTP to the job's process group: the batch's alone, each conversion being in its own): the
    conversions stop with it, their outputs no longer grow; continued (fg, bg), they go on to their end, exit 0.
    (They went on converting while the job was shown stopped.) A shell's ``kill %1`` of the stopped job (SIGTERM,
    then SIGCONT): they are continued and complete their outputs, exit 130 (they were left stopped, and the batch
    waited for them for ever)."""
    many_connections(tmp_path / "a.jsonl", 20000)
    shutil.copy(tmp_path / "a.jsonl", tmp_path / "b.jsonl")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "ecq2pcap", "convert", "a.jsonl", "b.jsonl", "-w", "{}.pcapng",
                             "-j", "2", "-q"], cwd=tmp_path, env=env, stderr=subprocess.PIPE, process_group=0,
                            preexec_fn=stop_signals_at_default)  # (its own group, as a shell's job: not orphaned)
    pcaps, children = [tmp_path / "a.pcapng", tmp_path / "b.pcapng"], []
    try:
        under_way(proc, lambda: all(p.exists() and p.stat().st_size > 300_000 for p in pcaps))
        children = [int(pid) for pid in subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                                                        text=True).stdout.split()]
        assert len(children) == 2
        os.kill(proc.pid, signal.SIGTSTP)
        under_way(proc, lambda: all(_state(pid) == "T" for pid in [proc.pid, *children]), timeout=20)
        sizes = [p.stat().st_size for p in pcaps]
        time.sleep(1)
        assert [p.stat().st_size for p in pcaps] == sizes
        if then == "kill %1":
            os.kill(proc.pid, signal.SIGTERM)
        os.kill(proc.pid, signal.SIGCONT)
        _, err = proc.communicate(timeout=60)
    finally:
        for pid in children:  # (left stopped by a failure: continued, to be killed)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        _kill_left(proc)
    if then == "fg":
        assert proc.returncode == 0 and not err, err.decode()
        assert all(p.stat().st_size > size for p, size in zip(pcaps, sizes))
    else:
        assert proc.returncode == 130 and err.decode().count("interrupted: completing the outputs\n") == 2


def test_a_conversion_that_dies_is_said_and_the_others_go_on(tmp_path, monkeypatch):
    from ecq2pcap.commands import convert

    real = convert._convert

    def dies_on_b(args):
        if args.inputs == ["b.jsonl"]:
            print("ecq2pcap: b.jsonl:1: what it said before it died", file=sys.stderr)
            os.kill(os.getpid(), signal.SIGKILL)  # (a crash, the OOM killer)
        return real(args)

    monkeypatch.setattr(convert, "_convert", dies_on_b)
    for name in ("a.jsonl", "b.jsonl", "c.jsonl"):
        shutil.copy(FIXTURES / "v140_edge_cases.jsonl", tmp_path / name)
    res = run_main("convert", "a.jsonl", "b.jsonl", "c.jsonl", "-w", "{}.pcapng", "-q", cwd=tmp_path, text=True)
    assert res.returncode == 1, res.stderr
    assert "ecq2pcap: b.jsonl:\necq2pcap: b.jsonl:1: what it said before it died\n" \
        "ecq2pcap: error: the conversion of b.jsonl ended by SIGKILL" in res.stderr  # (its text was lost, unflushed)
    assert res.stderr.rstrip().endswith("2 of 3 inputs converted, each into its own outputs")
    assert (tmp_path / "a.pcapng").stat().st_size > 1000 and (tmp_path / "c.pcapng").stat().st_size > 1000
