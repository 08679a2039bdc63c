"""The service under a careful (or hostile) client: every refusal a 4xx with the documented body and
the request's id, documents at fault 422, clients that vanish or trickle, ids that collide."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import httpx
import pytest
import structlog
from PIL import Image

from router.forensics.trail import TrailError, trail
from router.observe import events
from router.service import ServiceSettings
from tests.router.service.test_service import metric, serving, upload
from tests.router.surfaces_kit import images, policy_file, tier


def conforms(logged: list[dict]) -> bool:
    """The service's events, as captured (without the fields the renderer adds), match the schema."""
    common = {"ts": "2026-01-01T00:00:00Z", "level": "info", "pid": 1, "schema_version": events.SCHEMA_VERSION}
    own = [
        {**common, **{k: v for k, v in e.items() if k != "log_level"}}
        for e in logged
        if e["event"].startswith("service.")
    ]
    return bool(own) and all(events.validate(e) == [] for e in own)


def raw_connection(client: httpx.Client) -> socket.socket:
    url = client.base_url
    return socket.create_connection((str(url.host), int(url.port or 80)), timeout=10)


def documented(response: httpx.Response, request_id: str) -> str:
    """The error code, once the body and the echoed id are as documented."""
    error = response.json()["error"]
    assert isinstance(error["code"], str) and isinstance(error["message"], str) and error["message"]
    assert response.headers["x-request-id"] == request_id
    return str(error["code"])


@pytest.fixture
def allowed(tmp_path) -> Path:
    folder = tmp_path / "allowed"
    images(folder, 1)
    return folder


def test_paths_and_bodies_that_used_to_500_are_4xx_with_the_error_body(tmp_path, allowed):
    json_type = {"content-type": "application/json"}
    bodies = {
        "nul": ('{"path": "a\\u0000b"}', 422, "bad_path"),
        "surrogate": ('{"path": "\\ud800.png"}', 422, "bad_path"),
        "deep": ("[" * 30_000 + "]" * 30_000, 400, "bad_json"),  # under the JSON size limit
    }
    with serving(policy_file(tmp_path, tier("a")), ServiceSettings(allow_path=allowed)) as client:
        for name, (body, status, code) in bodies.items():
            response = client.post("/v1/extract", content=body, headers={**json_type, "X-Request-ID": name})
            assert response.status_code == status, (name, response.text)
            assert documented(response, name) == code
        scraped = client.get("/metrics").text
    assert metric(scraped, "docroute_http_requests_total", code="500") == 0
    assert metric(scraped, "docroute_documents_total") == 0  # refused before any file was read


def test_unparseable_json_is_a_400_even_where_server_paths_are_off(tmp_path):
    """It was 403 server_paths_disabled: the request's own fault is told first."""
    headers = {"content-type": "application/json", "X-Request-ID": "bad"}
    with serving(policy_file(tmp_path, tier("a")), ServiceSettings()) as client:
        bad = client.post("/v1/extract", content="{bad", headers=headers)
        good = client.post("/v1/extract", content='{"path": "a.png"}', headers={**headers, "X-Request-ID": "off"})
        assert (bad.status_code, documented(bad, "bad")) == (400, "bad_json")
        assert (good.status_code, documented(good, "off")) == (403, "server_paths_disabled")


def test_a_path_too_long_for_the_file_system_is_a_422_not_a_500(tmp_path, allowed):
    body = json.dumps({"path": "a" * 60_000 + ".png"})  # under the JSON size limit
    headers = {"content-type": "application/json", "X-Request-ID": "long"}
    with serving(policy_file(tmp_path, tier("a")), ServiceSettings(allow_path=allowed)) as client:
        response = client.post("/v1/extract", content=body, headers=headers)
        assert response.status_code == 422, response.text[:300]
        assert documented(response, "long") == "bad_input"
        assert "name too long" in response.json()["error"]["message"]


def test_every_refusal_has_the_error_body_and_echoes_the_request_id(tmp_path, receipt_bytes):
    settings = ServiceSettings(token="s3cret", max_upload_bytes=50_000)
    auth = {"Authorization": "Bearer s3cret"}
    bad_multipart = {"content-type": "multipart/form-data"}  # no boundary
    with serving(policy_file(tmp_path, tier("a")), settings) as client:
        answers = {
            "400": client.post("/v1/extract", content=b"--zzz\r\nbroken", headers={**auth, **bad_multipart}),
            "401": client.post("/v1/extract", files={"file": ("r.png", receipt_bytes)}),
            "403": client.post("/v1/extract", json={"path": "x.png"}, headers=auth),
            "404": client.get("/nosuch", headers=auth),
            "405": client.get("/v1/extract", headers=auth),
            "413": client.post("/v1/extract", files={"file": ("r.png", b"x" * 60_000)}, headers=auth),
            "415": client.post("/v1/extract", content=b"hello", headers={**auth, "content-type": "text/plain"}),
            "422": client.post("/v1/extract", files={"other": ("r.png", receipt_bytes)}, headers=auth),
        }
        for status, response in list(answers.items()):
            request_id = f"refusal-{status}"
            request = response.request
            request.headers["X-Request-ID"] = request_id
            again = client.send(request)
            assert again.status_code == int(status), (status, again.text)
            documented(again, request_id)


@pytest.fixture(scope="module")
def receipt_bytes(tmp_path_factory) -> bytes:
    return images(tmp_path_factory.mktemp("docs"), 1)[0].read_bytes()


def test_documents_at_fault_are_422_and_no_tier_able_to_run_is_503(tmp_path):
    blank = tmp_path / "blank.png"
    Image.new("RGB", (1, 1), "white").save(blank)
    with serving("cpu") as client:
        unanswerable = upload(client, blank)
    assert unanswerable.status_code == 422, unanswerable.text
    error = unanswerable.json()["error"]
    assert error["code"] == error["error_class"] and error["error_class"] in ("bad_input", "invalid_output")
    unavailable = tier("a", backend={"kind": "internvl3", "model": str(tmp_path / "no-weights")}, isolation="inline")
    with serving(policy_file(tmp_path, unavailable)) as client:
        nothing_runs = upload(client, blank)
    assert nothing_runs.status_code == 503 and nothing_runs.json()["error"]["code"] == "unavailable"


@pytest.mark.parametrize(
    "head",
    [
        b"POST /v1/extract HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        b"POST /v1/extract HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Odd: a\x00b\r\n\r\n",
    ],
    ids=["two-content-lengths", "negative-content-length", "nul-in-a-header"],
)
def test_a_request_h11_cannot_parse_gets_400_with_the_documented_error_body(tmp_path, head):
    """It got uvicorn's plain text."""
    with serving(policy_file(tmp_path, tier("a"))) as client:
        sock = raw_connection(client)
        sock.sendall(head)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        sock.close()
    status, _, rest = answer.partition(b"\r\n")
    headers, _, body = rest.partition(b"\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 400") and b"content-type: application/json" in headers.lower()
    assert json.loads(body)["error"]["code"] == "bad_request"


def test_a_client_gone_mid_upload_is_one_event_not_a_5xx(tmp_path, caplog):
    with serving(policy_file(tmp_path, tier("a"))) as client, structlog.testing.capture_logs() as logged:
        sock = raw_connection(client)
        head = (
            "POST /v1/extract HTTP/1.1\r\nHost: x\r\nX-Request-ID: vanishing\r\n"
            "Content-Type: multipart/form-data; boundary=zzz\r\nContent-Length: 100000\r\n\r\n"
        )
        sock.sendall(head.encode() + b'--zzz\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n')
        time.sleep(0.2)
        sock.close()
        deadline = time.monotonic() + 10
        while metric(client.get("/metrics").text, "docroute_http_requests_total", code="499") < 1:
            assert time.monotonic() < deadline, "the disconnect was never counted"
            time.sleep(0.05)
        scraped = client.get("/metrics").text
    assert metric(scraped, "docroute_http_requests_total", endpoint="/v1/extract", code="500") == 0
    gone = [e for e in logged if e["event"] == "service.client_disconnected"]
    assert [e["request_id"] for e in gone] == ["vanishing"]
    assert conforms(logged)
    assert not [r for r in caplog.records if r.levelname == "ERROR" or r.exc_info]


def test_a_reused_request_id_is_made_unique_and_trail_never_merges_two_requests(tmp_path, receipt_bytes):
    with serving(policy_file(tmp_path, tier("a"))) as client, structlog.testing.capture_logs() as logged:
        first = client.post("/v1/extract", files={"file": ("r.png", receipt_bytes)}, headers={"X-Request-ID": "dup"})
        second = client.post("/v1/extract", files={"file": ("r.png", receipt_bytes)}, headers={"X-Request-ID": "dup"})
    assert first.headers["x-request-id"] == first.json()["request_id"] == "dup"
    renamed = second.headers["x-request-id"]
    assert renamed.startswith("dup-") and second.json()["request_id"] == renamed
    assert any(e["event"] == "service.request_id_renamed" and e["given"] == "dup" for e in logged)
    assert conforms(logged)
    # Two logs of two runs of the service that each saw a request "dup": trail refuses to merge them.
    received = [{"event": "request.received", "request_id": "dup", "ts": t} for t in ("2026-01-01T00:00:00Z",) * 2]
    with pytest.raises(TrailError, match="names 2 requests"):
        trail(received, "dup")


def test_openapi_needs_the_token_and_a_failed_authentication_is_logged_without_it(tmp_path):
    with serving(policy_file(tmp_path, tier("a")), ServiceSettings(token="s3cret")) as client:
        with structlog.testing.capture_logs() as logged:
            refused = client.get("/openapi.json", headers={"Authorization": "Bearer guess-s3cret"})
        allowed = client.get("/openapi.json", headers={"Authorization": "Bearer s3cret"})
        docs = client.get("/docs", headers={"Authorization": "Bearer s3cret"})
    assert refused.status_code == 401 and allowed.status_code == 200 and docs.status_code == 404
    [event] = [e for e in logged if e["event"] == "service.auth_failed"]
    assert event["path"] == "/openapi.json" and event["reason"] == "wrong bearer token"
    assert "s3cret" not in repr(logged)
    assert conforms(logged)


def test_slow_clients_are_cut_off_and_cannot_hold_max_in_flight(tmp_path, receipt_bytes):
    settings = ServiceSettings(max_in_flight=2, header_timeout_s=0.5, body_timeout_s=0.5)
    with serving(policy_file(tmp_path, tier("a")), settings) as client:
        uploads = [raw_connection(client) for _ in range(2)]
        for sock in uploads:  # headers whole, then a body that never finishes
            sock.sendall(
                b"POST /v1/extract HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=zzz\r\n"
                b"Content-Length: 1000\r\n\r\n--zzz\r\n"
            )
        header = raw_connection(client)
        header.sendall(b"POST /v1/extract HTTP/1.1\r\nHost: x\r\nContent-Ty")  # headers that never finish
        answers = [sock.recv(4096) for sock in uploads]
        assert header.recv(4096) == b""  # closed without an answer
        assert all(a.startswith(b"HTTP/1.1 408 ") and b'"request_timeout"' in a for a in answers), answers
        assert upload_ok(client, receipt_bytes)
        for sock in [*uploads, header]:
            sock.close()


def upload_ok(client: httpx.Client, data: bytes) -> bool:
    return client.post("/v1/extract", files={"file": ("r.png", data)}).status_code == 200
