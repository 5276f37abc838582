"""``ecq2pcap wireshark install|uninstall``: the extcap launcher and the Lua dissector in the user's folders.

* extcap launcher ``ecq2pcap-extcap`` in both personal extcap folders: Wireshark ≤ 4.0 reads
  ``$XDG_CONFIG_HOME/wireshark/extcap/`` (``~/.config`` by default), ≥ 4.1 reads
  ``~/.local/lib/wireshark/extcap/``;
* Lua post-dissector ``ecq2pcap.lua`` in ``~/.local/lib/wireshark/plugins/``.

The launcher runs this very ecq2pcap: it starts with the absolute path of the interpreter
running the install (a virtualenv's or pipx's included) and puts the directory holding this
package first on ``sys.path``. Every file written carries :data:`MARKER`; install overwrites
and uninstall removes only files that carry it, and never a directory. Nothing is asked.
"""

from __future__ import annotations

import argparse
import os
import stat
import sys
from importlib import resources
from pathlib import Path

__all__ = ["MARKER", "install", "targets", "uninstall", "add_wireshark_parser", "cmd_wireshark"]

MARKER = "ecq2pcap-generated"
LAUNCHER = "ecq2pcap-extcap"
LUA = "ecq2pcap.lua"


def targets(env: dict | None = None) -> dict[str, list[Path]]:
    """Where install writes: {"extcap": [≤4.0 folder file, ≥4.1 folder file], "lua": [file]}."""
    env = os.environ if env is None else env
    home = Path(env.get("HOME") or Path.home())
    config = Path(env.get("XDG_CONFIG_HOME") or home / ".config")
    local_lib = home / ".local" / "lib" / "wireshark"
    return {
        "extcap": [config / "wireshark" / "extcap" / LAUNCHER, local_lib / "extcap" / LAUNCHER],
        "lua": [local_lib / "plugins" / LUA],
    }


def launcher_text(python: str | None = None) -> str:
    """A script that is both sh and Python: sh runs it again with this interpreter (a quoted path,
    so spaces and long virtualenv paths work, which a ``#!`` line does not allow), Python runs
    ecq2pcap's extcap from this package."""
    python = python or os.path.abspath(sys.executable)  # not resolved: a virtualenv's python is a symlink that matters
    quoted = "'" + python.replace("'", "'\"'\"'") + "'"  # valid in sh, and adjacent literals in Python
    package_parent = str(Path(__file__).resolve().parent.parent.parent)
    return (
        "#!/bin/sh\n"
        f'"exec" {quoted} "$0" "$@"\n'
        f"# {MARKER}: Wireshark extcap launcher for ecq2pcap ('ecq2pcap wireshark install'; "
        "'ecq2pcap wireshark uninstall' removes it)\n"
        "import sys\n"
        f"sys.path.insert(0, {package_parent!r})\n"
        "from ecq2pcap.cli import main, tune_gc\n"
        "tune_gc()\n"
        "sys.exit(main(['extcap', *sys.argv[1:]]))\n"
    )


def lua_text() -> str:
    return resources.files("ecq2pcap.wireshark").joinpath(LUA).read_text(encoding="utf-8")


def _ours(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return MARKER.encode() in f.read(4096)
    except OSError:
        return False


def install(env: dict | None = None, say=print) -> int:
    """Write the files; returns 0, or 1 when a file of someone else's was in the way (left alone)."""
    status = 0
    where = targets(env)
    contents = {"extcap": launcher_text(), "lua": lua_text()}
    for kind, paths in where.items():
        for path in paths:
            if path.exists() and not _ours(path):
                say(f"left alone (not written by ecq2pcap): {path}")
                status = 1
                continue
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(path.name + ".tmp")
                tmp.write_text(contents[kind], encoding="utf-8")
                if kind == "extcap":
                    tmp.chmod(tmp.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
                os.replace(tmp, path)
            except OSError as exc:
                say(f"cannot write {path}: {exc.strerror or exc}")
                status = 1
                continue
            what = "extcap launcher" if kind == "extcap" else "Lua dissector"
            say(f"installed {what}: {path}")
    if status == 0:
        say("restart Wireshark; the interface is 'ecapture' (eCapture TLS plaintext), the fields ecapture.*")
    return status


def uninstall(env: dict | None = None, say=print) -> int:
    status = 0
    for paths in targets(env).values():
        for path in paths:
            if not path.exists():
                continue
            if not _ours(path):
                say(f"left alone (not written by ecq2pcap): {path}")
                status = 1
                continue
            try:
                path.unlink()
            except OSError as exc:
                say(f"cannot remove {path}: {exc.strerror or exc}")
                status = 1
                continue
            say(f"removed {path}")
    return status


def add_wireshark_parser(subparsers, help: str) -> argparse.ArgumentParser:
    cmd = subparsers.add_parser(
        "wireshark",
        help=help,
        description="install: put the extcap launcher (eCapture in Wireshark's interface list) and the Lua "
        "dissector (ecapture.pid/comm/... on every packet) into your personal Wireshark folders; "
        "uninstall: remove them. Only ecq2pcap's own files are written or removed.",
    )
    cmd.add_argument("action", choices=("install", "uninstall"))
    return cmd


def cmd_wireshark(args: argparse.Namespace) -> int:
    fn = install if args.action == "install" else uninstall
    return fn(say=lambda line: print(f"ecq2pcap: {line}", file=sys.stderr if line.startswith(("left", "cannot"))
                                     else sys.stdout))
