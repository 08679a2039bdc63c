"""The HTTP service over real HTTP: uvicorn on a free port, httpx as the client."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from router.api.router import Router
from router.policy.model import load_policy
from router.service import ServiceSettings, create_app
from router.service.server import server
from tests.router.surfaces_kit import FIXED, images, policy_file, tier


@contextlib.contextmanager
def serving(policy: Path | str, settings: ServiceSettings | None = None) -> Iterator[httpx.Client]:
    """The app under the service's own uvicorn server (header timeout, shutdown rule), in a thread."""
    settings = settings or ServiceSettings()
    app = create_app(lambda: Router(load_policy(str(policy))), settings)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    uvicorn_server = server(app, settings, log_level="warning")
    thread = threading.Thread(target=uvicorn_server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 15
        while not uvicorn_server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.01)
        port = sock.getsockname()[1]
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            yield client
    finally:
        uvicorn_server.should_exit = True
        thread.join(timeout=15)
        sock.close()


@pytest.fixture(scope="module")
def receipt(tmp_path_factory) -> Path:
    return images(tmp_path_factory.mktemp("docs"), 1)[0]


def upload(client: httpx.Client, path: Path, **kwargs):
    return client.post("/v1/extract", files={"file": (path.name, path.read_bytes(), "image/png")}, **kwargs)


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text format (0 if absent)."""
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            sample, _, value = line.rpartition(" ")
            if all(f'{k}="{v}"' in sample for k, v in labels.items()):
                return float(value)
    return 0.0


def test_an_upload_is_extracted_and_health_and_readiness_answer(tmp_path, receipt):
    with serving(policy_file(tmp_path, tier("a"))) as client:
        assert client.get("/healthz").json() == {"status": "alive"}
        ready = client.get("/readyz")
        assert ready.status_code == 200
        state = ready.json()["tiers"]["a"]
        assert {k: state[k] for k in ("backend", "state", "breaker", "unavailable", "can_answer")} == {
            "backend": "faulty",
            "state": "ready",
            "breaker": "closed",
            "unavailable": None,
            "can_answer": True,
        }
        response = upload(client, receipt, headers={"X-Request-ID": "req-42"})
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "req-42"
    body = response.json()
    assert (body["status"], body["tier"], body["request_id"]) == ("ok", "a", "req-42")
    assert {name: field["value"] for name, field in body["fields"].items()} == FIXED
    assert body["document"]["source"] == receipt.name


def test_a_bad_document_is_422_and_every_tier_failing_is_503_both_with_a_classified_error(tmp_path, receipt):
    failing = tier("a", backend={"faults": {"cuda_oom": 1.0}})
    with serving(policy_file(tmp_path, failing)) as client:
        bad = client.post("/v1/extract", files={"file": ("notes.png", b"hello there", "image/png")})
        failed = upload(client, receipt)
    assert bad.status_code == 422
    assert bad.json()["error"]["error_class"] == "bad_input"
    assert "not an image or PDF" in bad.json()["error"]["message"]
    assert failed.status_code == 503 and failed.headers["Retry-After"] == "5"  # a retry is invited
    assert failed.json()["error"]["error_class"] == "cuda_oom"
    assert "Retry-After" not in bad.headers  # a 422 is the document's own fault: no retry


def test_the_token_is_required_on_extract_and_metrics_but_not_on_probes(tmp_path, receipt):
    settings = ServiceSettings(token="s3cret")
    with serving(policy_file(tmp_path, tier("a")), settings) as client:
        missing = upload(client, receipt)
        wrong = upload(client, receipt, headers={"Authorization": "Bearer guess"})
        right = upload(client, receipt, headers={"Authorization": "Bearer s3cret"})
        assert client.get("/metrics").status_code == 401
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 200
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert missing.json()["error"] == {"code": "unauthorized", "message": "missing bearer token"}
    assert wrong.status_code == 401
    assert right.status_code == 200


def test_two_authorization_headers_are_refused_whichever_comes_first(tmp_path, receipt):
    """The first one won: a proxy's header ahead of the client's was taken as the client's."""
    with serving(policy_file(tmp_path, tier("a")), ServiceSettings(token="s3cret")) as client:
        both = [("Authorization", "Bearer s3cret"), ("Authorization", "Bearer other")]
        response = client.post(
            "/v1/extract", files={"file": ("r.png", receipt.read_bytes(), "image/png")}, headers=both
        )
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("token", "problem"),
    [("", "empty or blank"), ("   ", "empty or blank"), ("s3cret ", "spaces"), ("s3\u00e9cret", "visible ASCII")],
    ids=["empty", "blank", "trailing-space", "non-ascii"],
)
def test_a_token_no_client_could_send_is_refused_when_the_service_is_set_up(token, problem):
    with pytest.raises(ValueError, match=problem):
        ServiceSettings(token=token)


def test_serve_with_an_empty_docroute_token_exits_2_before_binding(tmp_path):
    """DOCROUTE_TOKEN="" served with no authentication and no warning (click reads it as unset)."""
    import subprocess

    from tests.router.surfaces_kit import cli, env

    args = cli("serve", "--policy", str(policy_file(tmp_path, tier("a"))), "--port", "0")
    done = subprocess.run(args, env={**env(), "DOCROUTE_TOKEN": ""}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "empty or blank" in done.stderr


def test_an_oversized_upload_is_refused_with_413_whether_declared_or_streamed(tmp_path):
    limit = 20_000
    big = bytes(range(256)) * 100  # 25.6 kB
    with serving(policy_file(tmp_path, tier("a")), ServiceSettings(max_upload_bytes=limit)) as client:
        declared = client.post("/v1/extract", files={"file": ("big.png", big, "image/png")})
        boundary = "b0undary"
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.png"\r\n'
                f"Content-Type: image/png\r\n\r\n"
            ).encode()
            + big
            + f"\r\n--{boundary}--\r\n".encode()
        )
        chunks = (body[i : i + 4096] for i in range(0, len(body), 4096))  # no Content-Length: chunked
        streamed = client.post(
            "/v1/extract", content=chunks, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
        )
        assert client.get("/healthz").status_code == 200  # the service is fine afterwards
    for response in (declared, streamed):
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "payload_too_large"
        assert response.json()["error"]["limit_bytes"] == limit
    assert "request body" in streamed.json()["error"]["message"]


def test_requests_of_the_wrong_shape_are_refused_with_a_reason(tmp_path):
    with serving(policy_file(tmp_path, tier("a"))) as client:
        raw = client.post("/v1/extract", content=b"\x89PNG", headers={"Content-Type": "image/png"})
        no_file = client.post("/v1/extract", files={"document": ("a.png", b"x", "image/png")})
        path = client.post("/v1/extract", json={"path": "/etc/passwd"})
    assert raw.status_code == 415
    assert no_file.status_code == 422 and no_file.json()["error"]["code"] == "missing_file"
    assert path.status_code == 403 and path.json()["error"]["code"] == "server_paths_disabled"


def test_server_paths_are_read_only_under_the_allowed_folder(tmp_path):
    allowed = tmp_path / "shared"
    [doc] = images(allowed, 1)
    outside = images(tmp_path / "private", 1)[0]
    with serving(policy_file(tmp_path, tier("a")), ServiceSettings(allow_path=allowed)) as client:
        inside = client.post("/v1/extract", json={"path": doc.name})
        escape = client.post("/v1/extract", json={"path": f"../private/{outside.name}"})
        absolute = client.post("/v1/extract", json={"path": str(outside)})
        missing = client.post("/v1/extract", json={"path": "nope.png"})
    assert inside.status_code == 200 and inside.json()["status"] == "ok"
    assert escape.status_code == 403 and absolute.status_code == 403
    assert missing.status_code == 422 and "file not found" in missing.json()["error"]["message"]


def test_metrics_count_requests_outcomes_and_a_fallback(tmp_path, receipt):
    chain = [tier("first", backend={"faults": {"garbage": 1.0}}), tier("second")]
    with serving(policy_file(tmp_path, *chain)) as client:
        assert upload(client, receipt).json()["status"] == "degraded"
        text = client.get("/metrics").text
    assert metric(text, "docroute_fallbacks_total", from_tier="first", error_class="invalid_output") == 1
    assert metric(text, "docroute_documents_total", status="degraded", tier="second") == 1
    assert metric(text, "docroute_http_requests_total", endpoint="/v1/extract", code="200") == 1
    assert metric(text, "docroute_attempts_total", tier="first", outcome="failed") == 1
    assert metric(text, "docroute_attempt_duration_seconds_count", tier="second") == 1
    assert metric(text, "docroute_request_duration_seconds_count", tier="second") == 1
    assert metric(text, "docroute_breaker_state", tier="first", state="closed") == 1
    assert metric(text, "docroute_tier_state", tier="second", state="ready") == 1
    assert metric(text, "docroute_tier_capacity", tier="second") == 1  # one inline slot
    assert metric(text, "docroute_tier_in_flight", tier="second") == 0
    assert metric(text, "docroute_ready") == 1


def test_readiness_is_503_when_no_tier_can_answer_and_names_each_tiers_state(tmp_path, receipt):
    # a tier found unavailable (its weights cannot be loaded) answers nothing; an open breaker alone
    # would not do: the last tier that could answer is still tried, as its probe
    missing = "We couldn't connect to 'https://huggingface.co' to load the files, and couldn't find them"
    breaking = tier("only", backend={"fail_load": missing})
    with serving(policy_file(tmp_path, breaking)) as client:
        assert client.get("/readyz").status_code == 200
        upload(client, receipt)
        ready = client.get("/readyz")
        text = client.get("/metrics").text
    assert ready.status_code == 503
    assert ready.json()["ready"] is False
    assert "couldn't connect" in ready.json()["tiers"]["only"]["unavailable"]
    assert ready.json()["tiers"]["only"]["can_answer"] is False
    assert metric(text, "docroute_breaker_state", tier="only", state="closed") == 1
    assert metric(text, "docroute_ready") == 0


def test_an_open_breaker_on_the_last_tier_keeps_the_service_ready_because_that_tier_is_the_probe(tmp_path, receipt):
    breaking = tier("only", backend={"faults": {"cuda_oom": 1.0}}, breaker={"failure_threshold": 2, "cooldown_s": 600})
    with serving(policy_file(tmp_path, breaking)) as client:
        codes = [upload(client, receipt).status_code for _ in range(3)]
        ready = client.get("/readyz")
        text = client.get("/metrics").text
    assert codes == [503, 503, 503]  # tried each time (the probe), never refused unread
    assert ready.json()["tiers"]["only"]["breaker"] == "open"
    assert ready.status_code == 200
    assert ready.json()["tiers"]["only"]["can_answer"] is True
    assert metric(text, "docroute_ready") == 1


def test_requests_are_served_concurrently_and_overload_is_503(tmp_path, receipt):
    slow = tier("a", workers=2, backend={"faults": {"slow": 1.0}, "slow_s": 1.0})
    settings = ServiceSettings(max_in_flight=2)
    with serving(policy_file(tmp_path, slow), settings) as client, ThreadPoolExecutor(3) as pool:
        started = time.monotonic()
        both = [pool.submit(upload, client, receipt) for _ in range(2)]
        while metric(client.get("/metrics").text, "docroute_requests_in_flight") < 2:
            time.sleep(0.01)
        third = pool.submit(upload, client, receipt).result()
        codes = [f.result().status_code for f in both]
        elapsed = time.monotonic() - started
    assert codes == [200, 200]
    assert elapsed < 1.8, "the two requests ran one after the other"
    assert third.status_code == 503
    assert third.json()["error"]["code"] == "overloaded"
    assert third.headers["retry-after"] == "1"


def test_beyond_max_parallel_accepted_requests_wait_their_turn_and_are_all_answered(tmp_path, receipt):
    slow = tier("a", workers=2, backend={"faults": {"slow": 1.0}, "slow_s": 0.8})
    settings = ServiceSettings(max_in_flight=8, max_parallel=1)
    with serving(policy_file(tmp_path, slow), settings) as client, ThreadPoolExecutor(3) as pool:
        sent = [pool.submit(upload, client, receipt) for _ in range(3)]
        queued = []
        while not all(f.done() for f in sent):
            queued.append(metric(client.get("/metrics").text, "docroute_requests_queued"))
            time.sleep(0.02)
        codes = [f.result().status_code for f in sent]
        after = metric(client.get("/metrics").text, "docroute_requests_queued")
    assert codes == [200, 200, 200]
    assert max(queued) == 2  # one extracting, two accepted and waiting: the tier's two slots do not count
    assert after == 0
