"""What a failed capture of the eCapture interface says fits in what Wireshark shows of it: Wireshark 4.0 shows the
first 1,024 bytes of an extcap's stderr. A bad option value's message was argparse's whole usage of ``live`` (~1.3
KiB) before its error line, so the dialog (and tshark's "Error by extcap pipe") ended inside the usage, never saying
which value was wrong."""

from __future__ import annotations

import pytest

from ecq2pcap.wireshark.extcap import DIALOG_BYTES, _Tail
from tests.test_extcap_errors import _capture


@pytest.mark.live
def test_a_bad_option_value_fits_in_the_dialog_with_its_reason(home, tmp_path):
    p = _capture(home, tmp_path, "--url", "ws://127.0.0.1:1/", "--pid", "abc")
    assert p.returncode != 0
    shown = p.stderr.encode()[:DIALOG_BYTES].decode("utf-8", "replace")
    assert "--pid" in shown and "'abc'" in shown, p.stderr
    assert "usage:" not in p.stderr


def test_the_last_lines_are_kept_when_all_would_not_fit():
    tail = _Tail()
    for n in range(30):
        tail.write(f"ecq2pcap: cannot connect to ws://10.0.0.7:28257/: Connection refused; retrying ({n})\n")
    tail.write("ecq2pcap: error: cannot connect to ws://10.0.0.7:28257/: gave up retrying\n")
    message = tail.message()
    assert len(message.encode()) <= DIALOG_BYTES
    assert message.endswith("gave up retrying\n") and "retrying (29)" in message and "retrying (0)" not in message


def test_a_summary_after_the_usage_is_kept_whole():
    tail = _Tail()
    tail.write("usage: ecq2pcap live [-h] [--duration S]\n                     URL\n")
    tail.write("ecq2pcap summary:\n  messages  3\necq2pcap: error: eCapture went away\n")
    assert tail.message() == "ecq2pcap summary:\n  messages  3\necq2pcap: error: eCapture went away\n"
