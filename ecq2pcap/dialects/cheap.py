"""Cheap classification of a message without decoding it: what a live source needs to know
at once (a startup log eCapture replays, a heartbeat) before the dialects run."""

_JSON_LOG = b'{"log_type":1'
_JSON_HEARTBEAT = b'{"log_type":0'
_PB_LOG = b"\x08\x01\x22"  # LogEntry{log_type=PROCESS_LOG (1), run_log (4)=…}


def is_log_message(data: bytes) -> bool:
    """A process-log message: v1.4.0–1.4.2 JSON ``log_type`` 1, or a protobuf ``run_log``."""
    return data.startswith(_PB_LOG) or data.startswith(_JSON_LOG)


def is_heartbeat(data: bytes) -> bool:
    """A heartbeat: JSON ``log_type`` 0, or a protobuf ``heartbeat_payload`` (field 3)."""
    if data.startswith(_JSON_HEARTBEAT):
        return True
    if data.startswith(b"\x08\x00"):  # an explicit zero log_type (Go omits it)
        data = data[2:]
    return len(data) < 80 and data[:1] == b"\x1a" and b"heartbeat:" in data
