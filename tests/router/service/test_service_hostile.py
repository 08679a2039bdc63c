"""The service under a hostile client, round 2: ambiguous framing, content codings, JSON and
multipart bodies that cost memory before any document is read, and what a refusal logs."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.router.service.test_service import serving
from tests.router.service.test_service_refusals import raw_connection
from tests.router.surfaces_kit import policy_file, tier


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
