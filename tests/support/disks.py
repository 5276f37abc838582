"""A file on a disk that fills up, for the tests of what a full disk leaves behind."""

from __future__ import annotations

import errno
import io
import os


class FillingFile(io.BytesIO):
    """A file on a disk with ``room`` bytes: a write beyond it lands partly, then fails with ENOSPC.
    ``writes``: the size of every write asked for, in order."""

    def __init__(self, room: int) -> None:
        super().__init__()
        self.room = room
        self.writes: list[int] = []

    def write(self, data) -> int:
        self.writes.append(len(data))
        free = self.room - self.tell()
        if len(data) > free:
            super().write(bytes(data[:max(free, 0)]))
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return super().write(data)
