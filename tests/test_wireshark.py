"""Wireshark integration through the real tshark: install, extcap interface, Lua fields on every packet."""

import os
import re
import subprocess
import sys

import pytest

from ecq2pcap.wireshark.install import MARKER, launcher_text, targets
from tests.conftest import ROOT
from tests.support import mixed_stream
from tests.support.fake_ecapture import FakeECapture
from tests.support.wireshark_home import ENV, ecq2pcap, henv

LINE = re.compile(r"^(extcap|interface|dlt|arg|value) (\{[a-z]+=[^{}]*\})+$")


def tshark_in(home, tshark, *args, timeout=120):
    p = subprocess.run([tshark, *args], capture_output=True, text=True, timeout=timeout, env=henv(home))
    assert p.returncode == 0, p.stderr
    return p.stdout


# -- install


def test_install_writes_its_files_where_wireshark_looks_and_says_where(tmp_path):
    env = {**ENV, "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    p = ecq2pcap("wireshark", "install", env=env)
    assert p.returncode == 0, p.stderr
    paths = [tmp_path / "xdg/wireshark/extcap/ecq2pcap-extcap", tmp_path / ".local/lib/wireshark/extcap/ecq2pcap-extcap",
             tmp_path / ".local/lib/wireshark/plugins/ecq2pcap.lua"]
    for path in paths:
        assert str(path) in p.stdout and MARKER in path.read_text()
    launcher = paths[0].read_text()
    assert launcher.startswith("#!/bin/sh\n") and os.access(paths[0], os.X_OK)
    assert f"'{os.path.abspath(sys.executable)}'" in launcher.splitlines()[1]
    assert not (tmp_path / ".config").exists()  # XDG_CONFIG_HOME respected
    # a file that is not ours is left alone by both install and uninstall
    foreign = tmp_path / ".local/lib/wireshark/plugins/ecq2pcap.lua"
    foreign.write_text("-- mine\n")
    p = ecq2pcap("wireshark", "install", env=env)
    assert p.returncode == 1 and "left alone" in p.stderr and foreign.read_text() == "-- mine\n"
    other = tmp_path / ".local/lib/wireshark/plugins/other.lua"
    other.write_text("-- other\n")
    p = ecq2pcap("wireshark", "uninstall", env=env)
    assert p.returncode == 1 and not paths[0].exists() and not paths[1].exists()
    assert foreign.exists() and other.exists() and paths[0].parent.is_dir()


def test_uninstall_removes_everything_it_installed(tmp_path):
    env = {**ENV, "HOME": str(tmp_path)}
    assert ecq2pcap("wireshark", "install", env=env).returncode == 0
    p = ecq2pcap("wireshark", "uninstall", env=env)
    assert p.returncode == 0 and p.stdout.count("removed") == 3
    assert not any(path.exists() for paths in targets({"HOME": str(tmp_path)}).values() for path in paths)


def test_tshark_lists_the_interface_after_install(home, tshark):
    out = tshark_in(home, tshark, "-D")
    assert re.search(r"^\d+\. ecapture \(eCapture", out, re.M), out


def test_the_readme_names_the_preferences_wireshark_registers(home, tshark):
    """``tshark -o extcap.ecapture.NAME:VALUE`` takes the names Wireshark registers (the options' without their
    dashes): the README's port-map, keep-ports and no-reconnect were refused ('unknown preference', exit 1)."""
    registered = set(re.findall(r"^#?extcap\.ecapture\.([\w-]+):", tshark_in(home, tshark, "-G", "currentprefs"), re.M))
    readme = (ROOT / "README.md").read_text()
    part = readme[readme.index("tshark -o extcap.ecapture.NAME:VALUE") : readme.index("The capture is what")]
    named = set(re.findall(r"`([\w-]+)`", part)) - {"true"}
    assert len(named) == 9 and named <= registered, (named, registered)


# -- the extcap protocol, line by line


def launcher(home):
    return targets({"HOME": str(home)})["extcap"][0]


def run_launcher(home, *args, timeout=30):
    return subprocess.run([str(launcher(home)), *args], capture_output=True, text=True, timeout=timeout,
                          env={k: v for k, v in henv(home).items() if k != "PYTHONPATH"})


def test_extcap_answers(home):
    p = run_launcher(home, "--extcap-interfaces", "--extcap-version=4.0")
    assert p.returncode == 0 and p.stderr == ""
    lines = p.stdout.splitlines()
    assert all(LINE.match(x) for x in lines), lines
    assert lines[0].startswith("extcap {version=") and "interface {value=ecapture}" in lines[1]
    p = run_launcher(home, "--extcap-interface", "ecapture", "--extcap-dlts")
    assert p.stdout == "dlt {number=1}{name=EN10MB}{display=Ethernet (synthesized TCP/IP)}\n"
    p = run_launcher(home, "--extcap-interface", "ecapture", "--extcap-config")
    lines = p.stdout.splitlines()
    assert p.returncode == 0 and all(LINE.match(x) for x in lines), lines
    calls = [re.search(r"\{call=([^}]*)\}", x).group(1) for x in lines]
    assert calls == ["--url", "--origin", "--pid", "--comm", "--host", "--port", "--port-map", "--keep-ports",
                     "--no-reconnect"]
    assert "{default=ws://127.0.0.1:28257/}" in lines[0]
    assert [int(re.search(r"number=(\d+)", x).group(1)) for x in lines] == list(range(len(lines)))
    p = run_launcher(home, "--extcap-version")
    assert p.returncode == 0 and p.stdout.startswith("extcap {version=")


def test_launcher_works_from_an_interpreter_path_with_spaces_and_quotes(tmp_path):
    # (a #! line cannot hold such a path, nor one longer than the kernel's 127 bytes)
    odd = tmp_path / ("a dir with spaces and a ' quote" + "x" * 120) / "python"
    odd.parent.mkdir()
    odd.symlink_to(sys.executable)
    script = tmp_path / "launcher"
    script.write_text(launcher_text(str(odd)))
    script.chmod(0o755)
    p = subprocess.run([str(script), "--extcap-version"], capture_output=True, text=True, timeout=30,
                       env={k: v for k, v in ENV.items() if k != "PYTHONPATH"})
    assert p.returncode == 0 and p.stdout.startswith("extcap {version="), p.stderr


def test_extcap_errors_go_to_stderr_with_a_nonzero_exit(home, tmp_path):
    p = run_launcher(home, "--extcap-interface", "nope", "--extcap-dlts")
    assert p.returncode != 0 and "unknown interface" in p.stderr and p.stdout == ""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.DEVNULL)
    try:
        p = run_launcher(home, "--extcap-interface", "ecapture", "--capture", "--fifo", str(fifo),
                         "--url", "ws://127.0.0.1:1/", "--no-reconnect")
    finally:
        reader.wait(timeout=30)
    assert p.returncode != 0 and "cannot connect" in p.stderr and "Traceback" not in p.stderr


@pytest.mark.live
def test_extcap_stops_cleanly_when_the_reader_closes_the_fifo(home, tmp_path):
    lines = mixed_stream.lines()
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with FakeECapture(replay=lines[:1], script=lines[1:], heartbeat_s=0.2) as server:
        proc = subprocess.Popen([str(launcher(home)), "--extcap-interface", "ecapture", "--capture", "--fifo",
                                 str(fifo), "--url", server.url], stderr=subprocess.PIPE, text=True, env=henv(home))
        with open(fifo, "rb") as f:
            head = f.read(4)  # the section header's block type arrives, then the reader goes away
        assert head == b"\x0a\x0d\x0d\x0a"
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and err == ""


@pytest.mark.live
@pytest.mark.slow
def test_tshark_captures_from_the_interface_and_dissects_http(home, tshark, tmp_path):
    lines = mixed_stream.lines()
    out = tmp_path / "cap.pcapng"
    # stop after the three selected connections' packets (handshake, request, ACK, response, ACK: 7 each; they stay
    # open, so no FIN), or after 30 s if some never come
    with FakeECapture(replay=lines[:1], script=lines[1:]) as server:
        tshark_in(home, tshark, "-i", "ecapture", "-o", f"extcap.ecapture.url:{server.url}",
                  "-o", "extcap.ecapture.comm:curl,nginx", "-c", str(3 * 7), "-a", "duration:30", "-w", str(out))
    rows = tshark_in(home, tshark, "-r", str(out), "-Y", "http", "-T", "fields", "-e", "http.request.uri",
                     "-e", "http.response.code", "-e", "ecapture.comm").splitlines()
    requests = [r.split("\t") for r in rows if r.split("\t")[0]]
    assert sorted(uri for uri, _, _ in requests) == ["/a", "/b", "/d"]
    assert sorted(r.split("\t")[1] for r in rows if r.split("\t")[1]) == ["200", "201", "404"]
    # the installed Lua dissector names the process on the captured packets
    assert sorted(comm for _, _, comm in requests) == ["curl", "curl", "nginx"]


# -- the Lua dissector


@pytest.fixture(scope="module")
def mixed_pcap(tmp_path_factory):
    d = tmp_path_factory.mktemp("lua")
    src = mixed_stream.write(d / "mixed.jsonl")
    pcap = d / "mixed.pcapng"
    assert ecq2pcap("convert", str(src), "-w", str(pcap), "-q").returncode == 0
    return pcap


# a one-exchange connection's packets: SYN, SYN-ACK, ACK, request, response (it acks the request),
# FIN (it acks the response), FIN, ACK
PACKETS = 8
FIELDS = ["tcp.stream", "ecapture.pid", "ecapture.tid", "ecapture.comm", "ecapture.fd", "ecapture.uuid",
          "ecapture.version", "ecapture.real_port", "ecapture.connection"]


def lua_rows(home, tshark, pcap, *args):
    out = tshark_in(home, tshark, "-r", str(pcap), "-T", "fields", "-E", "separator=|",
                    *[a for f in FIELDS for a in ("-e", f)], *args)
    return [dict(zip(FIELDS, line.split("|"))) for line in out.splitlines()]


def test_lua_fields_on_every_packet_of_every_connection(home, tshark, mixed_pcap):
    rows = lua_rows(home, tshark, mixed_pcap)
    assert len(rows) == 5 * PACKETS
    expected = {str(i): c for i, c in enumerate(mixed_stream.CONNECTIONS)}
    for row in rows:  # handshake, data, ACKs and FINs alike
        pid, comm, fd, client, server = expected[row["tcp.stream"]][:5]
        assert (row["ecapture.pid"], row["ecapture.tid"], row["ecapture.comm"], row["ecapture.fd"]) == \
               (str(pid), str(pid), comm, str(fd)), row
        assert row["ecapture.uuid"].startswith(f"{pid}_{pid}_{comm}_{fd}_") and row["ecapture.uuid"].endswith(
            f"{client[0]}:{client[1]}-{server[0]}:{server[1]}")
        assert row["ecapture.version"] == "linux_amd64:v1.4.2-20250927-5e0c4b7:6.1.0"
        assert row["ecapture.real_port"] == ("" if server[1] == 80 else str(server[1]))
        assert row["ecapture.connection"] == str(int(row["tcp.stream"]) + 1)


def test_lua_filter_selects_whole_connections_and_nothing_else(home, tshark, mixed_pcap):
    nginx = lua_rows(home, tshark, mixed_pcap, "-Y", 'ecapture.comm == "nginx"')
    assert len(nginx) == PACKETS and {r["tcp.stream"] for r in nginx} == {"3"}
    curl = lua_rows(home, tshark, mixed_pcap, "-Y", "ecapture.pid == 100")
    assert len(curl) == 2 * PACKETS and {r["tcp.stream"] for r in curl} == {"0", "1"}
    assert lua_rows(home, tshark, mixed_pcap, "-Y", 'ecapture.comm == "nobody"') == []


def test_lua_script_from_the_package_without_install(tshark, mixed_pcap, tmp_path):
    script = ROOT / "ecq2pcap" / "wireshark" / "ecq2pcap.lua"
    p = subprocess.run([tshark, "-r", str(mixed_pcap), "-X", f"lua_script:{script}", "-Y", "ecapture.real_port == 8443",
                        "-T", "fields", "-e", "tcp.stream"], capture_output=True, text=True, timeout=60,
                       env={**ENV, "HOME": str(tmp_path)})
    assert p.returncode == 0, p.stderr
    assert set(p.stdout.split()) == {"1"} and len(p.stdout.split()) == PACKETS


def test_lua_on_a_realistic_sample_with_threads(home, tshark, tmp_path):
    from tests.conftest import FIXTURES

    pcap = tmp_path / "v2.pcapng"
    assert ecq2pcap("convert", str(FIXTURES / "v2_server.frames.jsonl.gz"), "-w", str(pcap), "-q").returncode == 0
    rows = lua_rows(home, tshark, pcap)
    assert rows and all(r["ecapture.comm"] == "nginx" and r["ecapture.pid"] == "19571" for r in rows)
    assert all(r["ecapture.fd"] and r["ecapture.tid"] for r in rows)


def test_lua_reads_a_process_name_that_holds_a_semicolon(home, tshark, tmp_path):
    """prctl takes any bytes but NUL: a thread named "job; x" was read as "job", without its fd, its uuid cut at the
    "; " (the comments are "; "-separated), and ecapture.comm == "job; x" selected nothing."""
    tup = "10.0.0.1:50000-10.0.0.2:443"
    dump = tmp_path / "in.jsonl"
    dump.write_text("\n".join(mixed_stream.event_line(1, 400, "job; x", 5, dt, tup, etype, data) for dt, etype, data in (
        (1, 1, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"), (0, 3, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))))
    pcap = tmp_path / "o.pcapng"
    assert ecq2pcap("convert", str(dump), "-w", str(pcap), "-q").returncode == 0
    rows = lua_rows(home, tshark, pcap)
    assert rows and all((r["ecapture.comm"], r["ecapture.fd"]) == ("job; x", "5") for r in rows)
    assert all(r["ecapture.uuid"].startswith("400_400_job; x_5_") and r["ecapture.uuid"].endswith(tup) for r in rows)
    assert len(lua_rows(home, tshark, pcap, "-Y", 'ecapture.comm == "job; x"')) == len(rows)
