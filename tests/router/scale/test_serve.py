"""``docroute serve --engine ray``: the service's app in front of router replicas on Ray Serve."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from router.scale.serve import deploy
from router.service import ServiceSettings, create_app
from tests.router.scale.kit import slow_policy
from tests.router.surfaces_kit import images

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def test_two_replicas_answer_and_a_killed_one_gives_classified_503s_only_until_it_is_replaced(ray_cluster, tmp_path):
    doc = images(tmp_path / "docs", 1)[0].read_bytes()
    remote = deploy(slow_policy(0.5, workers=2), replicas=2)
    app = create_app(lambda: remote, ServiceSettings(max_in_flight=remote.parallelism()))
    with TestClient(app) as client, ThreadPoolExecutor(8) as pool:

        def post(_: object = None) -> tuple[int, dict]:
            response = client.post("/v1/extract", files={"file": ("r.png", doc, "image/png")})
            return response.status_code, response.json()

        def replica_pids() -> set[int]:
            return {remote.handle.where.remote().result()["pid"] for _ in range(12)}

        assert [code for code, _ in pool.map(post, range(4))] == [200] * 4
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
