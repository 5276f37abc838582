"""Output files that never destroy an input.

Before anything is written, every output path is *claimed* with :class:`OutputGuard`:
it is refused when it is a directory, when it is one of the inputs (same device and
inode, so also through a symlink or a hard link), or when it is the same file as an
output claimed before. Each output is checked on its own (``claim`` per file name), so
a command that writes many files (e.g. a ring buffer) claims each of them.

:class:`OutputFile` is the file the commands write through: unbuffered (the writers
buffer whole units themselves, see :mod:`ecq2pcap.sinks.units`), every ``write`` writes
all of its bytes, and a write error names the file (``OSError.filename``).
"""

from __future__ import annotations

import io
import os
import select
import stat
import sys

__all__ = ["OutputConflict", "OutputGuard", "OutputFile", "input_problem", "describe_write_error"]

DASH = "-"  # stdin as an input, stdout as an output
_IOV_MAX = 1024  # the parts one writev takes (Linux's and POSIX's usual limit)


class OutputConflict(ValueError):
    """An output path that must not be written (the message says which and why)."""


def _file_id(st: os.stat_result) -> tuple[int, int]:
    return st.st_dev, st.st_ino


def _stat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None


def _fstat(stream) -> os.stat_result | None:
    """The stat of a standard stream's file, None when it has none (closed, replaced)."""
    try:
        return os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return None


def input_problem(path: str) -> str | None:
    """Why ``path`` cannot be read as an input ('-' is stdin), or None when it can.

    The reasons are short: ``no such file``, ``is a directory``, ``permission denied``.
    """
    if path == "-":
        return None
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "no such file" if not os.path.islink(path) else "no such file (dangling symlink)"
    except OSError as exc:
        return (exc.strerror or str(exc)).lower()
    if stat.S_ISDIR(st.st_mode):
        return "is a directory"
    if not os.access(path, os.R_OK):
        return "permission denied"
    return None


class OutputGuard:
    """Remembers the inputs and the outputs claimed so far; refuses dangerous outputs.

    ``inputs``: input paths ('-' = stdin). Missing inputs are ignored here (they are
    reported as unreadable elsewhere).
    """

    def __init__(self, inputs: tuple[str, ...] | list[str] = ()) -> None:
        self._inputs: dict[tuple[int, int], str] = {}
        self._outputs: dict[object, str] = {}
        for path in inputs:
            self.add_input(path)

    def add_input(self, path: str) -> None:
        if path == DASH:
            st = _fstat(sys.stdin)
        else:
            st = _stat(path)
        if st is not None and not stat.S_ISCHR(st.st_mode):
            self._inputs.setdefault(_file_id(st), "stdin" if path == DASH else path)

    def claim(self, option: str, path: str) -> None:
        """Check the output ``path`` of ``option`` ('-' = stdout); raise :class:`OutputConflict`.

        Character devices (``/dev/null``) may be written by several outputs.
        """
        what = f"{option} {path}"
        if path == DASH:
            key: object = "stdout"
            st = _fstat(sys.stdout)
            if st is not None and stat.S_ISREG(st.st_mode):
                key = _file_id(st)
                self._check_input(what, path, key)
        else:
            st = _stat(path)
            if st is None:  # not there yet: two outputs may still name the same new file
                _check_folder(what, path)  # (before any output is opened, and so truncated)
                key = ("new", os.path.realpath(path))
            elif stat.S_ISDIR(st.st_mode):
                raise OutputConflict(f"{what}: is a directory; give a file name")
            elif stat.S_ISCHR(st.st_mode):
                return
            else:
                key = _file_id(st)
                self._check_input(what, path, key)
        other = self._outputs.get(key)
        if other is not None:
            raise OutputConflict(f"{what}: the same file as {other}; give each output its own file")
        self._outputs[key] = what

    def _check_input(self, what: str, path: str, key: tuple[int, int]) -> None:
        source = self._inputs.get(key)
        if source is not None:
            subject = "stdout is" if path == DASH else "is"
            named = "" if source == path else f" {source}"
            raise OutputConflict(f"{what}: {subject} the input{named}; writing it would destroy it")


def _check_folder(what: str, path: str) -> None:
    """An :class:`OutputConflict` when the folder a new output would be made in is missing or not writable."""
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        raise OutputConflict(f"{what}: cannot write: No such file or directory")
    if not os.access(folder, os.W_OK):
        raise OutputConflict(f"{what}: cannot write: Permission denied")


class OutputFile(io.FileIO):
    """A file opened for writing (truncated), unbuffered; ``write`` writes everything or
    raises, and its errors carry the file name (``label`` when given: what the user knows
    the file as, e.g. the output a temporary part belongs to)."""

    def __init__(self, path: str, label: str | None = None) -> None:
        super().__init__(path, "wb")
        self.label = label

    def write(self, data) -> int:  # type: ignore[override]
        view = memoryview(data).cast("B")
        done = 0
        try:
            while done < len(view):
                n = super().write(view[done:])
                if not n:  # a regular file that takes nothing is full
                    raise OSError(28, os.strerror(28))
                done += n
        except OSError as exc:
            if exc.filename is None:
                exc.filename = self.label or self.name
            raise
        return done

    def write_parts(self, parts: list[bytes], size: int) -> int:
        """:meth:`write` of the parts one after the other (``size``: their length), without joining them first:
        ``writev``, up to ``IOV_MAX`` parts a call (a batch of pcapng blocks with big payloads goes out without a
        copy of its bytes)."""
        writev = getattr(os, "writev", None)
        if writev is None:  # (not on Windows)
            return self.write(b"".join(parts))
        done = 0
        try:
            for i in range(0, len(parts), _IOV_MAX):
                batch = parts[i : i + _IOV_MAX] if len(parts) > _IOV_MAX else parts
                n = writev(self.fileno(), batch)
                done += n
                # what a call did not take (a full disk, a signal), a part at a time
                if n < (size if batch is parts else sum(map(len, batch))):
                    for part in batch:
                        if n >= len(part):
                            n -= len(part)
                        else:
                            done += self.write(memoryview(part)[n:])
                            n = 0
        except OSError as exc:
            if exc.filename is None:
                exc.filename = self.label or self.name
            raise
        return done


def describe_write_error(exc: OSError) -> str:
    """One line for a failed output write: ``FILE: cannot write: reason``."""
    name = exc.filename if isinstance(exc.filename, str) else "stdout"
    return f"{name}: cannot write: {exc.strerror or exc}"


def silence_stdout() -> None:
    """stdout's reader went away (Wireshark quit, ``| head``): later writes, and the interpreter's final flush,
    go nowhere instead of raising BrokenPipeError again."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def reader_gone(stream) -> bool:
    """True when ``stream`` is a pipe whose reading end was closed (POLLERR on Linux)."""
    try:
        poller = select.poll()
        poller.register(stream.fileno(), select.POLLOUT)
        return any(ev & (select.POLLERR | select.POLLHUP) for _, ev in poller.poll(0))
    except (AttributeError, OSError, ValueError):  # no poll() (Windows), or not a real file
        return False
