"""Where each direction of a framed stream (HTTP/2, WebSocket) is in its frames, from one capture to the next.

eCapture keeps at most 16 KiB of one SSL call (protocol doc §10.16) and its perf buffers drop
events: the rest of a frame can be lost. A TCP stream has no gaps here (sequence numbers advance
by the bytes seen), so every frame after such a loss is read from the wrong bytes, by Wireshark and
by the HAR's decoders alike: an HTTP/2 DATA frame written with its 16,384-byte payload in one call
lost its last 9 bytes, and the rest of the connection that way was "not HTTP/2"; a 40,000-byte
WebSocket message swallowed the messages after it.

:class:`FrameAlignment` follows the frame headers each way (sans-IO; the format is a
:class:`Framing`: :mod:`.h2.alignment`, :mod:`.websocket_frames`). When a capture comes while a frame
still lacks bytes, and its bytes at the point where that frame would end do not start plausible
frames while its own first bytes do, the rest of that frame was lost: the missing bytes are made
up (zeros, as the receiver would read them), and said so; not when that frame's header is not a credible one
(:meth:`Framing.fills`: bytes of another kind read as a header say frames of megabytes). Bytes that go on the wire other than as
raw frames (eCapture's HTTP/2 dumps, re-encoded) cannot continue a raw frame: a frame they follow is
completed first (:meth:`FrameAlignment.complete`).
"""

from __future__ import annotations

from ..limits import DEFAULT_LIMITS, ECAPTURE_CAP, LOST_BY_ECAPTURE, limit_note

__all__ = ["FrameAlignment", "Framing", "MAX_FILL", "NOT_CREDIBLE"]

MAX_FILL = 16 << 20  # at most this many bytes are made up for one frame (an HTTP/2 frame is at most 16 MiB)
NOT_CREDIBLE = "not a credible frame's"  # (in the note on a frame whose rest is not made up: a summary warning)


class Framing:
    """A frame format, as :class:`FrameAlignment` reads it. ``info`` is what :meth:`header` learnt of a frame."""

    def first(self, direction: int, data: bytes) -> int:
        """Where the first frame starts in the first bytes fed ``direction``'s way (may be past their end)."""
        return 0

    def header(self, direction: int, data: bytes, pos: int) -> tuple[int, tuple] | None:
        """``(the frame's whole length, info)`` of the frame at ``pos``; None when its header is cut by the end."""
        raise NotImplementedError

    def plausible(self, direction: int, data: bytes) -> bool:
        """``data`` starts with a frame, and every header up to its end is a plausible one."""
        raise NotImplementedError

    def made_up(self, info: tuple, missing: int) -> bytes:
        """The ``missing`` last bytes of the frame ``info`` as the receiver is to read them (zeros)."""
        return b"\0" * missing

    def fills(self, direction: int, info: tuple) -> bool:
        """Whether the lost rest of the frame ``info``, travelling ``direction``, is made up: its header is a
        credible frame's."""
        return True

    def describe(self, info: tuple) -> str:
        """The frame, in a note: "stream 1: ... of an HTTP/2 DATA frame"."""
        raise NotImplementedError

    header_rest_made = ""  # (how :meth:`header_rest` makes a frame up, in the note that says so)

    def header_rest(self, direction: int, head: bytes) -> bytes | None:
        """The rest of a frame header whose first bytes ``head`` are all that came, and of its frame, made up (as
        :attr:`header_rest_made` says); None when none can be."""
        return None

    def rest_as_frame(self, direction: int, info: tuple, need: int) -> bytes:
        """A made-up header that makes the ``need`` last bytes of the frame ``info`` a frame of their own (a ring
        file that starts with them: :class:`~ecq2pcap.sinks.pcapng.resume.FrameFollower`); b"" when none can."""
        return b""


class FrameAlignment:
    """Each direction's place in its frames: the bytes the frame being read still lacks, what its header said,
    and a frame header cut by the end of the last capture. Each way makes up at most ``ratio`` times the bytes
    it was fed (``--max-made-up-ratio``): a frame header of a few bytes may say 16 MiB, so without it a stream of
    tiny captures wrote ~16 MiB of zeros for each (32 KB of input, 1 GB of pcapng)."""

    __slots__ = ("framing", "ratio", "_need", "_info", "_head", "_started", "_capped", "_fed", "_made")

    def __init__(self, framing: Framing, ratio: int = DEFAULT_LIMITS.made_up_ratio) -> None:
        self.framing = framing
        self.ratio = ratio
        self._fed = [0, 0]  # bytes fed each way
        self._made = [0, 0]  # bytes made up each way
        self._need = [0, 0]  # by direction (C2S 0, S2C 1)
        self._info: list[tuple] = [(), ()]  # of the frame being read
        self._head = [b"", b""]
        self._started = [False, False]
        self._capped = [False, False]  # the last capture that way was ECAPTURE_CAP bytes: cut there?

    def feed(self, direction: int, data: bytes, start: int = 0) -> tuple[bytes, str | None]:
        """``data`` (from ``start``), the next raw bytes ``direction``'s way: ``(fill, note)``, the bytes that must
        go on the wire before it (the rest of a frame eCapture lost) and the note saying so, or ``(b"", None)``."""
        if not self._started[direction]:
            self._started[direction] = True
            start = max(start, self.framing.first(direction, data))
        need, fill, note = self._need[direction], b"", None
        capped, self._capped[direction] = self._capped[direction], len(data) == ECAPTURE_CAP
        self._fed[direction] += len(data)
        if need:
            continues = self._continues(direction, data, start + need)
            if continues is not True and self.framing.plausible(direction, memoryview(data)[start:]):
                fill, note = self.complete(direction)
                need = 0
            elif start + need > len(data):
                self._need[direction] = start + need - len(data)
                return b"", None
        elif capped and self._head[direction]:  # (a frame header eCapture's cap may have cut: rare)
            made = self._header_lost(direction, data, start)
            if made is not None:
                if made[0]:
                    return made
                note = made[1]  # (over the ratio: nothing made up, the bytes read on as they come, said)
        self._walk(direction, data, start + need)
        return fill, note

    def _continues(self, direction: int, data: bytes, end: int) -> bool | None:
        """Whether the bytes of ``data`` from ``end``, where the frame being read would end, start frames: True
        when none are left, None when too few are left to tell (or the frame ends past them)."""
        rest = len(data) - end
        if rest == 0:
            return True
        if rest < 16:  # (all of data inside the frame, or too little after it to tell)
            return None
        return self.framing.plausible(direction, memoryview(data)[end:])

    def _whole(self, direction: int, data: bytes, pos: int) -> bool:
        """``data`` from ``pos`` is credible frames that end where it does (none: True)."""
        framing, n = self.framing, len(data)
        while pos < n:
            got = framing.header(direction, data, pos)
            if got is None or not framing.fills(direction, got[1]):
                return False
            pos += got[0]
        return pos == n

    def _header_lost(self, direction: int, data: bytes, start: int) -> tuple[bytes, str] | None:
        """The last capture, of eCapture's 16 KiB cap, ended inside a frame header (a shorter one was a call of its
        own: short reads split headers, and the next read goes on with the rest), and ``data`` is whole frames of
        its own while the header completed with its first bytes is not a credible one followed by whole frames:
        the header's rest was lost. Read as one, those bytes made a frame of a stream that never was (Wireshark and
        the HAR alike), and the next frames were lost. ``(fill, note)``: the header completed as one no receiver
        acts on (:meth:`Framing.header_rest`), and its length of zeros; None when it is not so, or cannot be."""
        head = self._head[direction]
        got = self.framing.header(direction, head + bytes(data[start:start + 16]), 0)
        # (where that frame would end; None when its header is not a credible one)
        end = None if got is None or not self.framing.fills(direction, got[1]) else start + got[0] - len(head)
        if not self._whole(direction, data, start):  # (only a call of whole frames of its own tells: most are)
            return None
        if end is not None and end <= len(data) and self._whole(direction, data, end):
            return None  # (read as that header's rest, the bytes are frames too: nothing tells a loss)
        made = self.framing.header_rest(direction, head)
        if made is None or len(made) > MAX_FILL:
            return None
        what = f"the first {len(head)} bytes of a frame header ended the capture before: the rest of that frame " \
               f"{LOST_BY_ECAPTURE} (its 16 KiB cap on a call)"
        if not self._may_make(direction, len(made)):
            return b"", self._over_ratio(what, direction, len(made))
        self._head[direction] = b""
        self._walk(direction, data, start)
        return made, f"{what}; made up ({len(made):,} bytes) {self.framing.header_rest_made}, to keep the frames " \
                     "that follow readable"

    def complete(self, direction: int) -> tuple[bytes, str | None]:
        """The bytes that complete the frame ``direction``'s way still lacks (its rest lost), and the note saying
        so; ``(b"", None)`` when none lacks bytes (no bytes, and a note, when too many do, :data:`MAX_FILL`, or when
        the frame's header is not a credible one: :meth:`Framing.fills`)."""
        need, info = self._need[direction], self._info[direction]
        self._need[direction] = 0
        if not need:
            return b"", None
        if not self.framing.fills(direction, info):
            return b"", f"{self.framing.describe(info)}: its header says {need:,} bytes more than came, but it is " \
                        f"{NOT_CREDIBLE} (bytes of another kind read as one?): nothing made up, the frames that follow " \
                        "may be misread"
        what = f"{self.framing.describe(info)}: its last {need:,} bytes {LOST_BY_ECAPTURE} (its 16 KiB cap on a call, " \
               "or a dropped event)"
        if need > MAX_FILL:
            return b"", f"{what}: too many to make up, the frames that follow may be misread"
        if not self._may_make(direction, need):
            return b"", self._over_ratio(what, direction, need)
        return self.framing.made_up(info, need), f"{what}: zero bytes put in their place to keep the frames that " \
                                                 "follow readable"

    def _may_make(self, direction: int, n: int) -> bool:
        """Whether ``n`` bytes more may be made up ``direction``'s way (counted when they may)."""
        made = self._made[direction] + n
        if made > self.ratio * self._fed[direction]:
            return False
        self._made[direction] = made
        return True

    def _over_ratio(self, what: str, direction: int, n: int) -> str:
        return limit_note("made_up_ratio", f"{what}: not made up, as {n:,} bytes more would be over {self.ratio:,} "
                          f"times the {self._fed[direction]:,} bytes captured this way; the frames that follow may be "
                          "misread")

    def pending(self, direction: int) -> tuple[int, tuple, bytes]:
        """``direction``'s place: the bytes the frame being read still lacks, what its header said, and the
        first bytes of a header the last capture cut (b"")."""
        return self._need[direction], self._info[direction], self._head[direction]

    def _walk(self, direction: int, data: bytes, pos: int) -> None:
        """Follow the frame headers of ``data`` from ``pos``, a frame's start (or the rest of a header the last
        capture cut)."""
        framing, head = self.framing, self._head[direction]
        if head:  # (a frame header cut by the last capture's end: rare)
            joined = head + bytes(data[:16])
            got = framing.header(direction, joined, 0)
            if got is None:  # (still cut: data is shorter than the header's rest)
                self._head[direction] = head + bytes(data)
                return
            self._head[direction] = b""
            self._info[direction] = got[1]
            pos = got[0] - len(head)
        n = len(data)
        while pos < n:
            got = framing.header(direction, data, pos)
            if got is None:
                self._head[direction], self._need[direction] = bytes(data[pos:]), 0
                return
            self._info[direction] = got[1]
            pos += got[0]
        self._need[direction] = pos - n
