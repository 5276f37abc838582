"""A process name that holds "; connection N ", "; eCapture V" or "; server port P shown as S" as a whole part of a
comment is read whole by the Lua fields also in the SYN comment's uuid, which holds the name after the facts: the
parts of the name in the uuid were read as facts, so every packet of the connection got the name's connection
number, eCapture version or real port (found by a fuzz run)."""

from __future__ import annotations

from tests.support import mixed_stream
from tests.test_lua_names import rows_of_names

VERSION = "linux_amd64:v1.4.2-20250927-5e0c4b7:6.1.0"  # (mixed_stream's header line)
NAMES = ["x; connection 9 c2s", "v; eCapture v9", "s; server port 1 shown as 2"]


def test_a_name_in_the_syn_uuid_is_not_read_as_its_facts(home, tshark, tmp_path):
    rows, _ = rows_of_names(home, tshark, tmp_path, NAMES, mixed_stream.lines()[:1])
    for r in rows:
        i = int(r["tcp.stream"])
        assert (r["ecapture.comm"], r["ecapture.connection"]) == (NAMES[i], str(i + 1)), r
        assert (r["ecapture.version"], r["ecapture.real_port"]) == (VERSION, "443"), r
