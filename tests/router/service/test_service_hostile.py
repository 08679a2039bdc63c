"""The service under a hostile client, round 2: ambiguous framing, content codings, JSON and
multipart bodies that cost memory before any document is read, and what a refusal logs."""

from __future__ import annotations

import gzip
import json
import logging

import httpx
import pytest

from router.service import ServiceSettings
from tests.router.service.test_service import serving
from tests.router.service.test_service_refusals import documented, raw_connection
from tests.router.surfaces_kit import images, policy_file, tier


@pytest.fixture(scope="module")
def receipt_bytes(tmp_path_factory) -> bytes:
    return images(tmp_path_factory.mktemp("docs"), 1)[0].read_bytes()


def exchange(client: httpx.Client, data: bytes) -> bytes:
    """Everything the server sends on one connection after ``data``, until it closes or goes quiet."""
    sock = raw_connection(client)
    sock.settimeout(3)
    sock.sendall(data)
    answer = b""
    try:
        while chunk := sock.recv(65536):
            answer += chunk
    except TimeoutError:
        answer += b"<still open>"
    finally:
        sock.close()
    return answer


@pytest.mark.parametrize(
    "head",
    [
        b"POST /v1/extract HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n",
        b"POST /v1/extract HTTP/1.0\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n",
    ],
    ids=["transfer-encoding-and-content-length", "transfer-encoding-in-http-1.0"],
)
def test_a_request_framed_two_ways_is_refused_and_nothing_after_it_is_answered(tmp_path, head):
    """It was read as chunked and the connection kept: the smuggled ``GET /metrics`` behind it was
    answered (a front proxy that reads Content-Length sees one request, the service two)."""
    smuggled = b"0\r\n\r\nGET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
    with serving(policy_file(tmp_path, tier("a"))) as client:
        answer = exchange(client, head + b"Content-Type: application/json\r\n\r\n" + smuggled)
        assert client.get("/healthz").status_code == 200
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    assert answer.count(b"HTTP/1.1 ") == 1 and b"docroute_" not in answer
    body = answer.partition(b"\r\n\r\n")[2]
    assert json.loads(body)["error"]["code"] == "bad_request"


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "identity, gzip"])
def test_a_body_in_a_content_coding_is_415_whatever_its_bytes(tmp_path, receipt_bytes, coding):
    """A gzip bomb was parsed as multipart (400 "Invalid multipart data"), and a body whose header
    said gzip but whose bytes were plain was extracted as if it had said nothing (200)."""
    plain = httpx.Request("POST", "http://x/v1/extract", files={"file": ("r.png", receipt_bytes)})
    body = plain.read()
    with serving(policy_file(tmp_path, tier("a"))) as client:
        for name, content in {"plain": body, "bomb": gzip.compress(b"\0" * 5_000_000)}.items():
            headers = {
                "content-type": plain.headers["content-type"],
                "content-encoding": coding,
                "X-Request-ID": name,
            }
            response = client.post("/v1/extract", content=content, headers=headers)
            assert response.status_code == 415, (name, response.text)
            assert documented(response, name) == "unsupported_media_type"
        identity = {"content-type": plain.headers["content-type"], "content-encoding": "identity"}
        assert client.post("/v1/extract", content=body, headers=identity).status_code == 200


def test_a_json_body_is_small_and_refused_before_it_is_parsed_into_objects(tmp_path):
    """A 5 MB ``[{},{},...]`` (under the upload limit) became 1.6 million dicts, about 20 MB per
    request, before the service looked for ``path``; a server path needs a few KB at most."""
    bomb = b"[" + b"{}," * 1_600_000 + b"{}]"
    headers = {"content-type": "application/json", "X-Request-ID": "bomb"}
    with serving(policy_file(tmp_path, tier("a")), ServiceSettings(max_upload_bytes=10_000_000)) as client:
        response = client.post("/v1/extract", content=bomb, headers=headers)
        chunked = client.post("/v1/extract", content=iter([bomb[:500_000], bomb[500_000:]]), headers=headers)
    assert response.status_code == 413 and documented(response, "bomb") == "payload_too_large"
    assert chunked.status_code == 413 and chunked.json()["error"]["code"] == "payload_too_large"


def test_a_json_key_given_twice_is_bad_json(tmp_path):
    """The last ``path`` won: a filter that read the first saw another file than the one read."""
    headers = {"content-type": "application/json", "X-Request-ID": "twice"}
    body = '{"path": "doc000.png", "path": "../elsewhere.png"}'
    with serving(policy_file(tmp_path, tier("a")), ServiceSettings(allow_path=tmp_path)) as client:
        response = client.post("/v1/extract", content=body, headers=headers)
    assert (response.status_code, documented(response, "twice")) == (400, "bad_json")


def multipart(*parts: tuple[str, str | None, bytes]) -> tuple[bytes, str]:
    """A multipart body of (field name, file name or None, data) parts, and its content type."""
    chunks = []
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
        chunks.append(f"--zzz\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n")
    return b"".join(chunks) + b"--zzz--\r\n", "multipart/form-data; boundary=zzz"


def test_fields_beside_the_file_cannot_hold_more_than_a_little_memory(tmp_path, receipt_bytes):
    """15 fields of 1 MB beside a small file were kept in memory while the request waited its turn
    (40 such requests took the service to 680 MB), against the documented ~1 MB per upload."""
    with serving(policy_file(tmp_path, tier("a"))) as client:
        body, content_type = multipart(
            *[(f"f{i}", None, b"x" * 200_000) for i in range(4)], ("file", "r.png", receipt_bytes)
        )
        heavy = client.post("/v1/extract", content=body, headers={"content-type": content_type, "X-Request-ID": "f"})
        body, content_type = multipart(("note", None, b"x" * 100), ("file", "r.png", receipt_bytes))
        light = client.post("/v1/extract", content=body, headers={"content-type": content_type})
    assert heavy.status_code == 400 and documented(heavy, "f") == "bad_request"
    assert light.status_code == 200, light.text


def test_a_websocket_upgrade_is_an_ordinary_request_with_the_error_body(tmp_path):
    """The service has no websocket endpoint; an upgrade got uvicorn's bare 403 with no body."""
    head = (
        b"GET /v1/extract HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nX-Request-ID: ws\r\n\r\n"
    )
    with serving(policy_file(tmp_path, tier("a"))) as client:
        answer = exchange(client, head)
    assert answer.startswith(b"HTTP/1.1 405 "), answer[:200]
    error, _ = json.JSONDecoder().raw_decode(answer.partition(b"\r\n\r\n")[2].decode())
    assert error["error"]["code"] == "method_not_allowed"


def test_a_malformed_multipart_body_logs_none_of_its_bytes(tmp_path, caplog):
    """python-multipart's warning quoted the body's bytes (``Expected boundary character 45, got 83``)."""
    secret = b"SECRET-TOTAL-999.99"
    headers = {"content-type": "multipart/form-data; boundary=zzz"}
    with caplog.at_level(logging.DEBUG), serving(policy_file(tmp_path, tier("a"))) as client:
        for body in (b"--zz" + secret, b"--zzz\r\n" + secret + b"\x01\r\n\r\n"):
            response = client.post("/v1/extract", content=body, headers=headers)
            assert response.status_code in (400, 422), response.text
    quoted = [r.getMessage() for r in caplog.records if r.name.startswith(("python_multipart", "multipart"))]
    assert quoted == []


def test_the_probes_answer_head(tmp_path):
    """Load balancers probe with HEAD; it was 405."""
    with serving(policy_file(tmp_path, tier("a"))) as client:
        assert client.head("/healthz").status_code == 200
        assert client.head("/readyz").status_code == 200


def test_an_upload_name_carries_no_control_characters_or_dot_names(tmp_path, receipt_bytes):
    """A NUL, an escape sequence or a right-to-left override in the file name reached the Result as given,
    and ``..`` stayed ``..``."""
    names = {"a\x00b.png": "a_b.png", "\x1b[2Jx.png": "_[2Jx.png", "gnp\u202e.exe": "gnp_.exe", "..": "upload"}
    with serving(policy_file(tmp_path, tier("a"))) as client:
        for given, expected in names.items():
            body, content_type = multipart(("file", given, receipt_bytes))
            response = client.post("/v1/extract", content=body, headers={"content-type": content_type})
            assert response.json()["document"]["source"] == expected, (given, response.text)
