"""Ring-buffer outputs, with dumpcap's syntax: ``-b filesize:KB``, ``-b duration:S``, ``-b files:N``.

``-w out.pcapng -b filesize:10000`` writes ``out_00001_20261203084855.pcapng``,
``out_00002_…`` and so on (dumpcap's names: number, then the local time the file was
started: ``live``'s wall clock, as dumpcap; with ``capture_time_names`` (``convert``), the
capture time of its first event, as editcap names the files it splits a capture into: a
recording converted later gets the names its traffic's times give, and the first file,
opened before any event, is renamed at its first), switching to the next file before an event when the current one holds at
least KB kilobytes (1 kB = 1000 bytes, as dumpcap) or when S seconds of capture time
have passed since its first event. With ``files:N`` only the newest N files are kept
(each time a file is started, the oldest beyond N are deleted). ``--har`` rotates
alongside: ``out_00001_….har`` holds the exchanges completed while its pcapng was current.

Every pcapng is complete on its own (see :meth:`PcapngSink.rotate`): a connection that
spans files starts again in the next one with a handshake whose sequence numbers
continue, its SYN comment naming the file it continues. Every file name goes through the
output-safety check (:class:`~ecq2pcap.outputs.OutputGuard`) before it is opened.
"""

from __future__ import annotations

import argparse
import errno
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable

from .model import Closed, FlowEvent
from .sinks.har import HarSink
from .sinks.pcapng import PcapngSink

__all__ = ["RingSpec", "RingOutputs", "ring_spec", "ring_name"]

SECOND = 1_000_000_000
OPTIONS = ("-w", "--har")  # (the options of a ring's files, in RingOutputs.paths' order)


@dataclass(frozen=True)
class RingSpec:
    filesize_kb: int | None = None
    duration_s: float | None = None
    files: int | None = None

    def merged(self, other: "RingSpec") -> "RingSpec":
        return RingSpec(other.filesize_kb or self.filesize_kb, other.duration_s or self.duration_s,
                        other.files or self.files)


def ring_spec(text: str) -> RingSpec:
    """argparse type for one ``-b KEY:VALUE``."""
    key, sep, value = text.partition(":")
    try:
        if not sep:
            raise ValueError
        if key == "filesize":
            n = int(value)
            if n < 1:
                raise ValueError
            return RingSpec(filesize_kb=n)
        if key == "duration":
            s = float(value)
            if s <= 0:
                raise ValueError
            return RingSpec(duration_s=s)
        if key == "files":
            n = int(value)
            if n < 1:
                raise ValueError
            return RingSpec(files=n)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected filesize:KB, duration:S or files:N "
                                         "with a positive number") from None
    raise argparse.ArgumentTypeError(f"{text!r}: expected filesize:KB, duration:S or files:N")


def ring_name(path: str, number: int, when: float) -> str:
    """dumpcap's ring-buffer name: ``dir/out.pcapng`` → ``dir/out_00001_20261203084855.pcapng``."""
    p = Path(path)
    suffix = "".join(p.suffixes[-1:])
    stem = p.name[: len(p.name) - len(suffix)] if suffix else p.name
    stamp = time.strftime("%Y%m%d%H%M%S", time.localtime(when))
    return str(p.with_name(f"{stem}_{number:05d}_{stamp}{suffix}"))


class RingOutputs:
    """A sink in front of the pcapng and HAR sinks that switches their files.

    ``open_file(option, path)`` opens (after the safety check) a binary file; it is
    called for each new file. ``say`` reports each file started.
    """

    def __init__(self, spec: RingSpec, pcapng_path: str, har_path: str | None,
                 open_file: Callable[[str, str], BinaryIO], make_pcapng: Callable[[BinaryIO], PcapngSink],
                 make_har: Callable[[BinaryIO], HarSink] | None, clock: Callable[[], float] = time.time,
                 rename: Callable[..., str | None] | None = None, warn: Callable[[str, str], None] | None = None,
                 ) -> None:
        if spec.filesize_kb is None and spec.duration_s is None:
            raise ValueError("a ring buffer needs -b filesize:KB or -b duration:S")
        self.spec = spec
        self.paths = (pcapng_path, har_path)
        self._open_file = open_file
        self._clock = clock
        # (option, old, new, back=False) -> None when renamed, else why not: names by capture time (see the module
        # doc); back: to the name the file had (its own, not claimed again)
        self._rename = rename
        self._warn = warn  # (reason, detail): a warning of the run (what a failed rename did)
        self.number = 1
        self.written: list[tuple[str, str | None]] = []  # (pcapng, HAR) of every file started, oldest first
        self.deleted = 0  # how many of the oldest were deleted (files:N)
        self._files: tuple[BinaryIO, BinaryIO | None] | None = None
        pcap_out, har_out = self._start()
        self.pcapng = make_pcapng(pcap_out)
        self.har = make_har(har_out) if make_har is not None and har_out is not None else None
        self._file_start_ns: int | None = None
        self._file_bytes0 = 0

    @property
    def sinks(self) -> list:
        return [s for s in (self.pcapng, self.har) if s is not None]

    def _start(self, time_ns: int | None = None) -> tuple[BinaryIO, BinaryIO | None]:
        when = time_ns / SECOND if time_ns is not None and self._rename is not None else self._clock()
        names = tuple(ring_name(p, self.number, when) if p else None for p in self.paths)
        pcap_out = self._open_file("-w", names[0])
        har_out = self._open_file("--har", names[1]) if names[1] else None
        self._close_files()
        self._files = (pcap_out, har_out)
        self.written.append(names)
        self._prune()
        return pcap_out, har_out

    def _prune(self) -> None:
        keep = self.spec.files
        while keep is not None and len(self.written) - self.deleted > keep:
            for name in self.written[self.deleted]:
                if name:
                    try:
                        os.unlink(name)
                    except OSError:
                        pass
            self.deleted += 1

    @property
    def kept(self) -> list[tuple[str, str | None]]:
        return self.written[self.deleted:]

    def _close_files(self) -> None:
        if self._files is not None:
            for f in self._files:
                if f is not None:
                    f.close()
            self._files = None

    def _due(self, time_ns: int) -> bool:
        spec = self.spec
        if spec.filesize_kb is not None and self.pcapng.bytes_written - self._file_bytes0 >= spec.filesize_kb * 1000:
            return True
        if spec.duration_s is not None and self._file_start_ns is not None:
            return time_ns - self._file_start_ns >= spec.duration_s * SECOND
        return False

    def handle(self, event: FlowEvent) -> None:
        if self._file_start_ns is None:
            self._file_start_ns = event.time_ns
            if self._rename is not None:
                self._name_first(event.time_ns)
        elif type(event) is not Closed and self._due(event.time_ns):  # (a connection's end goes in its file: at the
            self.rotate(event.time_ns)  # end of the input, the FINs started a file of nothing else)
        self.pcapng.handle(event)
        if self.har is not None:
            self.har.handle(event)

    def rotate(self, time_ns: int) -> None:
        previous = os.path.basename(self.written[-1][0])
        self.number += 1
        old_files = self._files
        self._files = None  # _start must not close them before the sinks finished writing
        pcap_out, har_out = self._start(time_ns)
        self.pcapng.rotate(pcap_out, f"continued from {previous} (ring buffer): handshake synthesized, "
                                     "sequence numbers continue; an HTTP/1 message the file change cut goes on "
                                     "here, and Wireshark reads its rest as the start of the next one")
        if self.har is not None and har_out is not None:
            self.har.rotate(har_out)
        for f in old_files or ():
            if f is not None:
                f.close()
        self._file_start_ns = time_ns
        self._file_bytes0 = self.pcapng.bytes_written

    def _name_first(self, time_ns: int) -> None:
        """The first file, opened before any event, named by its first event's capture time. Its pcapng and HAR
        are renamed as a pair: when one cannot be, the other keeps (or gets back) the name it was opened with, so
        that their names keep one time, and a warning says which file has which name, and why."""
        names = self.written[-1]
        wanted = tuple(ring_name(p, self.number, time_ns / SECOND) if p else None for p in self.paths)
        renamed: list[tuple[str, str, str]] = []
        for option, old, new in zip(OPTIONS, names, wanted):
            if old and new != old:
                why = self._rename(option, old, new)
                if why is not None:
                    break
                renamed.append((option, old, new))
        else:
            self.written[-1] = wanted
            return
        kept = dict(zip(OPTIONS, names))
        stuck = []
        for done, first_name, given in renamed:  # (back to the name it was opened with)
            why_back = self._rename(done, given, first_name, back=True)
            if why_back is not None:
                kept[done] = given
                stuck.append(f"{os.path.basename(given)} could not get its name back ({why_back})")
        self.written[-1] = (kept["-w"], kept["--har"])
        if self._warn is None:
            return
        pcap, har = (os.path.basename(n) if n else None for n in self.written[-1])
        if stuck:  # (the pair's names differ: which is which)
            then = f"{'; '.join(stuck)}: the pcapng is {pcap}, the HAR {har}"
        elif har:
            then = f"{pcap} and {har} keep the names they were opened with (the time the conversion started)"
        else:
            then = f"{pcap} keeps the name it was opened with (the time the conversion started)"
        self._warn("ring buffer: the first file is not named by its capture time", f"{option} {new}: {why}; {then}")

    def finish(self) -> None:
        self.pcapng.finish()
        if self.har is not None:
            self.har.finish()
        self._close_files()


def open_ring(args: argparse.Namespace, guard, make_pcapng: Callable[[BinaryIO], PcapngSink],
              make_har: Callable[[BinaryIO], HarSink], capture_time_names: bool = False,
              warn: Callable[[str, str], None] | None = None) -> RingOutputs:
    """The ring-buffer outputs of ``-b`` options (``args.ring_buffer``); ValueError on a usage problem.
    ``capture_time_names``: files named by their first event's capture time (``convert``; see the module doc);
    ``warn(reason, detail)``: says what a failed rename did."""
    from .outputs import OutputConflict

    spec = RingSpec()
    for one in args.ring_buffer:
        spec = spec.merged(one)
    if not args.write or args.write == "-":
        raise ValueError("-b (ring buffer) needs -w FILE")
    if args.har == "-":
        raise ValueError("-b cannot rotate --har -: give a file name")
    if spec.filesize_kb is None and spec.duration_s is None:
        raise ValueError("-b files:N needs -b filesize:KB or -b duration:S as well")

    def open_file(option: str, path: str) -> BinaryIO:
        try:
            guard.claim(option, path)
        except OutputConflict as exc:
            raise OSError(errno.EEXIST, f"refused: {exc}", path) from None
        return open(path, "wb")

    def rename(option: str, old: str, new: str, back: bool = False) -> str | None:
        try:
            if not back:
                guard.claim(option, new)  # (never onto an input, a folder or another output)
            elif os.path.lexists(new):  # (its own name, which something took since)
                return "a file took its place"
            os.replace(old, new)
        except OutputConflict as exc:
            return str(exc)
        except OSError as exc:
            return exc.strerror or str(exc)
        return None

    return RingOutputs(spec, args.write, args.har, open_file, make_pcapng, make_har if args.har else None,
                       rename=rename if capture_time_names else None, warn=warn)
