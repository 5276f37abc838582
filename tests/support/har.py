"""HAR checks shared by the tests: the vendored HAR 1.2 schema and haralyzer.

* :func:`validate_har` checks a HAR document against the vendored HAR 1.2 JSON schema
  (``tests/data/har-schema``, npm ``har-schema`` 2.0.0) with format checks on, plus what
  that schema cannot say (non-negative timings, ``time`` = their sum, valid http(s) URLs).
* :func:`load_with_haralyzer` loads it the way a Python HAR consumer does and reads every
  entry's main fields.
"""

from __future__ import annotations

import functools
import json
import re
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "data" / "har-schema"

_URI_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")


@functools.cache
def _validator():
    from jsonschema import Draft6Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT6

    resources = []
    for path in SCHEMA_DIR.glob("*.json"):
        if path.name == "package.json":
            continue
        schema = json.loads(path.read_text())
        resources.append((path.name, Resource.from_contents(schema, default_specification=DRAFT6)))
    registry = Registry().with_resources(resources)
    root = json.loads((SCHEMA_DIR / "har.json").read_text())
    return Draft6Validator(root, registry=registry, format_checker=Draft6Validator.FORMAT_CHECKER)


def validate_har(doc: dict) -> None:
    """Fail with readable messages when ``doc`` is not a valid HAR 1.2 document."""
    errors = sorted(_validator().iter_errors(doc), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:20])
    for i, entry in enumerate(doc["log"]["entries"]):
        t = entry["timings"]
        for key in ("send", "wait", "receive"):
            assert t[key] >= 0, f"entry {i}: timings.{key} negative"
        assert abs(entry["time"] - (t["send"] + t["wait"] + t["receive"])) < 1e-6, f"entry {i}: time != sum"
        url = entry["request"]["url"]
        parts = urlsplit(url)
        assert parts.scheme in ("http", "https") and parts.netloc, f"entry {i}: bad url {url!r}"
        assert _URI_CHARS.fullmatch(url), f"entry {i}: url is not a URI: {url!r}"
        assert "pageref" not in entry
        assert entry["connection"].isdigit()
        assert entry["response"]["content"]["mimeType"], f"entry {i}: empty mimeType"


def validate_entry(entry: dict) -> None:
    """Validate one entry by wrapping it in a minimal log."""
    validate_har({"log": {"version": "1.2", "creator": {"name": "t", "version": "0"}, "entries": [entry]}})


def load_with_haralyzer(doc: dict) -> list:
    """Load ``doc`` with haralyzer; return its HarEntry objects after reading their fields."""
    from haralyzer import HarEntry, HarParser

    parser = HarParser(doc)
    entries = [HarEntry(e) for e in parser.har_data["entries"]]
    # entries reachable through haralyzer's pages: none may be lost (the pageref trap)
    assert sum(len(page.entries) for page in parser.pages) == len(entries)
    for e in entries:
        assert isinstance(e.request.method, str)
        assert e.request.url.startswith(("https://", "http://"))
        assert isinstance(e.response.status, int)
        assert isinstance(e.startTime, datetime) and e.startTime.tzinfo is not None
        assert isinstance(e.port, int)  # haralyzer reads int(connection)
        e.response.mimeType  # noqa: B018 - must not raise
        assert isinstance(e.response.text, str)  # (haralyzer reads content["text"]: "" for no body, not missing)
        e.request.headers  # noqa: B018
    return entries
