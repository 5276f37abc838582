"""multipart/form-data request bodies → HAR postData.params (the HAR audit's finding 9: only urlencoded bodies had
params; Chrome's HAR export lists a multipart body's parts)."""

from __future__ import annotations

from ecq2pcap.sinks.har.entries import build_entry
from ecq2pcap.sinks.har.exchange import Exchange, HttpRequest, HttpResponse
from ecq2pcap.sinks.har.forms import MAX_PARTS, multipart_params

from . import make_conn, validate_entry

MIME = 'multipart/form-data; boundary="----WebKitFormBoundaryx7"'
BODY = (b'------WebKitFormBoundaryx7\r\nContent-Disposition: form-data; name="title"\r\n\r\nCaf\xc3\xa9 menu\r\n'
        b'------WebKitFormBoundaryx7\r\nContent-Disposition: form-data; name="photo"; filename="a \\"b\\".png"\r\n'
        b'Content-Type: image/png\r\n\r\n\x89PNG\r\n\x1a\n\x00\x01\r\n'
        b'------WebKitFormBoundaryx7\r\nContent-Disposition: form-data; name="notes"; filename="n.txt"\r\n'
        b'Content-Type: text/plain\r\n\r\nline 1\r\nline 2\r\n'
        b'------WebKitFormBoundaryx7--\r\n')


def test_each_part_is_a_param_text_values_files_named():
    assert multipart_params(BODY, MIME) == [
        {"name": "title", "value": "Café menu"},
        {"name": "photo", "fileName": 'a "b".png', "contentType": "image/png"},
        {"name": "notes", "value": "line 1\r\nline 2", "fileName": "n.txt", "contentType": "text/plain"}]


def test_in_a_har_entry_also_when_the_body_is_binary():
    req = HttpRequest(method="POST", target="/up", headers=[("Host", "h"), ("Content-Type", MIME)], body=BODY,
                      body_size=len(BODY), start_ns=1, end_ns=1, complete=True)
    entry = build_entry(Exchange(make_conn(), request=req, response=HttpResponse(status=200, start_ns=2, end_ns=2)))
    validate_entry(entry)
    post = entry["request"]["postData"]
    assert post["_encoding"] == "base64" and [p["name"] for p in post["params"]] == ["title", "photo", "notes"]


def test_what_is_not_a_multipart_body_gets_no_params():
    assert multipart_params(BODY, "multipart/form-data") is None  # (no boundary named)
    assert multipart_params(b"just text", MIME) is None
    assert multipart_params(BODY.replace(b"Content-Disposition", b"X-Other"), MIME) == []  # (parts without names)
    many = b"".join(b'--b\r\nContent-Disposition: form-data; name="x"\r\n\r\n\r\n' for _ in range(MAX_PARTS + 5))
    assert len(multipart_params(many + b"--b--", "multipart/form-data; boundary=b")) == MAX_PARTS
