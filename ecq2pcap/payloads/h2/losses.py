"""What the passive HTTP/2 decoder does when a direction's bytes stop being frames: a mixin of
:class:`~.decoder.H2PassiveDecoder` (its buffers, streams and errors).

eCapture drops events (its perf buffers, protocol doc §10.16): the capture after a dropped one may start inside a
frame, and what is read there as a frame header says a length of megabytes, or a frame no peer sends. The decoder
stops reading that direction, and goes on at a later capture that starts with frames (as it does when a peer's
writes start at frame boundaries: one request or response a write): the streams of the frames lost stay
incomplete, said in their entries; those after it are read. A capture cut inside a frame ends that frame's body.
"""

from __future__ import annotations

from ...model import Direction
from .sniff import LENIENT_MAX_FRAME, plausible_frames
from .streams import cut_data_frame

RESUMED = "decoding resumed at a capture that starts with HTTP/2 frames (the bytes before it were skipped)"


class Losses:
    """H2PassiveDecoder's stop and resumption of a direction whose bytes are not frames, and its end inside one."""

    def _kill(self, d: Direction, why: str, *, resumable: bool = False) -> None:
        self._dead[d] = True
        self._resumable[d] = resumable
        self._buf[d].clear()
        self.errors.append(f"{d.label}: {why}; stopped decoding this direction" + (
            " until a capture starts with frames" if resumable else ""))

    def _resume(self, d: Direction, data: bytes) -> bool:
        """Whether ``data``, the next capture of a direction that stopped for bytes that were not frames, starts
        with frames (every header in it a credible one: :func:`~.sniff.plausible_frames`): decoding goes on there.
        A header block the loss cut ends (its CONTINUATION was lost with it)."""
        if not self._resumable[d] or not plausible_frames(data, max(self.settings.max_frame[d], LENIENT_MAX_FRAME)):
            return False
        self._dead[d] = self._resumable[d] = False
        self._end_block(d, "header block lost (its end was among the bytes skipped)")
        self.errors.append(f"{d.label}: {RESUMED}")
        return True

    def _end_block(self, d: Direction, why: str) -> None:
        """The header block being read ``d``'s way (if any) ends where it stands, and its stream says ``why``."""
        blk = self._block[d]
        if blk is not None:
            self._block[d] = None
            st = self._stream(blk.stream_id, d, blk.start, create=True)
            if st is not None:
                st.rec.errors.append(f"{d.label} {why}")

    def _partial_frame(self, d: Direction) -> None:
        """End of capture inside a frame: keep what arrived of a DATA frame, note the rest."""
        buf = self._buf[d]
        cut = cut_data_frame(buf)
        if cut is not None:
            sid, payload = cut
            st = self._open.get(sid)
            if st is not None:
                self._add_body(st, d, payload)
                st.rec.errors.append(f"{d.label} body incomplete: last DATA frame cut short at end of capture")
                return
        self.errors.append(f"{d.label}: {len(buf)} bytes of an incomplete frame at end of capture")
