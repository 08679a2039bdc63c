"""``docroute serve --engine ray``: the service's app in front of router replicas on Ray Serve."""

from __future__ import annotations

import json
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from router.cli import ray as scale_cli
from router.observe import logs
from router.scale.serve import DEPLOYMENT
from router.service import ServiceSettings
from tests.router.scale.kit import slow_policy
from tests.router.surfaces_kit import images

pytestmark = [pytest.mark.ray, pytest.mark.slow, pytest.mark.xdist_group("ray")]  # one worker, one Ray cluster
TOKEN = "ingress-test-token"


@pytest.fixture
def process_logging(monkeypatch):
    """``docroute serve`` configures the logging of its process: this test's own, restored after."""
    monkeypatch.setattr(logs, "_placement", {})
    yield
    logs.configure(stderr=False)


def test_two_replicas_answer_and_a_killed_one_gives_classified_503s_only_until_it_is_replaced(
    ray_cluster, tmp_path, process_logging
):
    doc = images(tmp_path / "docs", 1)[0].read_bytes()
    log_dir = tmp_path / "logs"
    serve = pytest.importorskip("ray.serve")  # here, not at collection: Ray takes seconds to import
    from fastapi.testclient import TestClient

    app = scale_cli.service(slow_policy(0.5, workers=2), ServiceSettings(token=TOKEN), None, 2, {}, log_dir)
    handle = serve.get_deployment_handle(DEPLOYMENT, app_name=DEPLOYMENT)
    with TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"}) as client, ThreadPoolExecutor(8) as pool:

        def post(_: object = None) -> tuple[int, dict]:
            response = client.post("/v1/extract", files={"file": ("r.png", doc, "image/png")})
            return response.status_code, response.json()

        def replica_pids() -> set[int]:
            return {handle.where.remote().result()["pid"] for _ in range(12)}

        assert [code for code, _ in pool.map(post, range(4))] == [200] * 4
        refused = client.post("/v1/extract", headers={"Authorization": "Bearer wrong"}, files={"file": ("r.png", doc)})
        assert refused.status_code == 401
        _ingress_logged_the_refusal_in_its_own_file(log_dir, refused.headers["X-Request-ID"])
        assert client.get("/readyz").json()["ready"] is True
        pids = replica_pids()
        assert len(pids) == 2
        victim = min(pids)

        in_flight = [pool.submit(post) for _ in range(8)]  # both replicas busy
        time.sleep(0.3)
        os.kill(victim, signal.SIGKILL)
        answers = [future.result() for future in in_flight]
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and len(replica_pids() - {victim}) < 2:
            answers.append(post())
            assert client.get("/readyz").json()["ready"] is True  # the other replica answers meanwhile

        failures = [body for code, body in answers if code != 200]
        assert failures, "no request was in flight on the killed replica"
        assert {(b["status"], b["error"]["error_class"]) for b in failures} == {("failed", "worker_crashed")}
        assert len(replica_pids() - {victim}) == 2  # replaced
        assert [code for code, _ in pool.map(post, range(6))] == [200] * 6

        with ThreadPoolExecutor(12) as crowd:  # more than the replicas' slots and the app's queue
            crowded = list(crowd.map(post, range(12)))
        refused = [body for code, body in crowded if code == 503]
        assert refused and all(body["error"]["code"] == "overloaded" for body in refused)
        assert all(code in (200, 503) for code, _ in crowded)


def _ingress_logged_the_refusal_in_its_own_file(log_dir: Path, request_id: str) -> None:
    """The ingress (this process) logs to ``ingress-NODE-PID.jsonl`` beside the replicas' files, tagged
    with its Ray node like them."""
    (ingress,) = log_dir.glob(f"ingress-*-{os.getpid()}.jsonl")
    events = [json.loads(line) for line in ingress.read_text().splitlines()]
    refusal = [e for e in events if e["event"] == "service.auth_failed"]
    assert [e["request_id"] for e in refusal] == [request_id]
    replicas = [json.loads(f.read_text().splitlines()[0]) for f in log_dir.glob("*.jsonl") if f != ingress]
    assert len(replicas) == 2 and refusal[0]["host"] in {e["host"] for e in replicas}  # one simulated node
    assert ingress.name.startswith(f"ingress-{refusal[0]['host'][:16]}-")
