"""A ``multipart/form-data`` request body's parts as HAR ``postData.params`` (RFC 7578), as Chrome's HAR export
lists them: each part's ``name``, its ``value`` when it is text, and a file's ``fileName`` and ``contentType``."""

from __future__ import annotations

import re

from ...payloads.http1.grammar import text

__all__ = ["MAX_PARTS", "multipart_params"]

MAX_PARTS = 1000  # (a body of a million empty parts is a few MB: its params are not all listed)
_BOUNDARY = re.compile(r';\s*boundary\s*=\s*(?:"([^"]{1,70})"|([^\s;"]{1,70}))', re.I)
_PARAM = re.compile(rb';\s*(name|filename)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s;]*))', re.I)


def multipart_params(body: bytes | bytearray, mime: str) -> list[dict] | None:
    """The params of ``body`` (``mime``: its Content-Type, which names the boundary), or None when it is not a
    multipart body that parses (no boundary, none found): the text alone then says what was sent."""
    m = _BOUNDARY.search(mime)
    if m is None:
        return None
    delimiter = b"--" + (m.group(1) or m.group(2)).encode("latin-1", "replace")
    parts = bytes(body).split(delimiter)
    if len(parts) < 3:  # (a preamble, at least one part, the closing "--")
        return None
    params = []
    for part in parts[1:-1][:MAX_PARTS]:
        head, sep, value = part.partition(b"\r\n\r\n")
        if not sep:
            continue
        if value.endswith(b"\r\n"):
            value = value[:-2]
        param = _param(head, value)
        if param is not None:
            params.append(param)
    return params


def _param(head: bytes, value: bytes) -> dict | None:
    disposition, content_type = None, None
    for line in head.split(b"\r\n"):
        name, _, field = line.partition(b":")
        lowered = name.strip().lower()
        if lowered == b"content-disposition":
            disposition = field
        elif lowered == b"content-type":
            content_type = field.strip().decode("latin-1")
    if disposition is None:
        return None
    found = {k.lower(): (quoted if quoted is not None else bare) for k, quoted, bare in _PARAM.findall(disposition)}
    if b"name" not in found:
        return None
    param: dict = {"name": _text(found[b"name"])}
    try:
        param["value"] = value.decode("utf-8")
    except UnicodeDecodeError:
        pass  # (a binary file: its bytes are in postData.text, base64)
    if b"filename" in found:
        param["fileName"] = _text(found[b"filename"])
    if content_type:
        param["contentType"] = content_type
    return param


def _text(raw: bytes) -> str:
    """A quoted-string's text (its backslash escapes undone), as header text is read."""
    return text(raw.replace(b'\\"', b'"').replace(b"\\\\", b"\\"))
