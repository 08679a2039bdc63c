"""The service with real worker processes: readiness and metrics follow a worker being recycled."""

from __future__ import annotations

import hashlib
import time

import pytest

from tests.router.service.test_service import metric, serving, upload
from tests.router.surfaces_kit import images, policy_file, tier

pytestmark = pytest.mark.slow


def worker_tier(poison: str) -> dict[str, object]:
    """One worker that takes a second and a half to start, poisoned by one document."""
    return {
        "name": "model",
        "backend": {"kind": "faulty", "triggers": {poison[:16]: "sticky_cuda"}, "startup_s": 1.5},
        "isolation": "process",
        "workers": 1,
        "preload": True,
        "start_timeout_s": 30,
    }


def wait_for(client, state: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        tiers = client.get("/readyz").json()["tiers"]
        if tiers["model"]["state"] == state:
            return tiers
        assert time.monotonic() < deadline, f"model tier never became {state}: {tiers}"
        time.sleep(0.05)


def test_readiness_and_metrics_follow_a_worker_being_recycled(tmp_path):
    clean, poison = images(tmp_path / "in", 2)
    chain = policy_file(tmp_path, worker_tier(hashlib.sha256(poison.read_bytes()).hexdigest()), tier("rules"))
    with serving(chain) as client:
        wait_for(client, "ready")
        assert upload(client, clean).json()["tier"] == "model"
        answered = upload(client, poison).json()
        ready = client.get("/readyz")
        text = client.get("/metrics").text
        recycling = ready.json()["tiers"]["model"]
        assert (answered["status"], answered["tier"]) == ("degraded", "rules")
        assert answered["attempts"][0]["error_class"] == "sticky_cuda"
        assert ready.status_code == 200, "the rules tier can still answer"
        assert (recycling["state"], recycling["can_answer"], recycling["recycles"]) == ("recycling", False, 1)
        assert metric(text, "docroute_tier_state", tier="model", state="recycling") == 1
        assert metric(text, "docroute_worker_recycles_total", tier="model") == 1
        assert metric(text, "docroute_fallbacks_total", from_tier="model", error_class="sticky_cuda") == 1
        back = wait_for(client, "ready")
        assert back["model"]["can_answer"] is True
        assert upload(client, clean).json()["tier"] == "model"


def test_readiness_is_503_while_the_only_tier_recycles(tmp_path):
    [poison] = images(tmp_path / "in", 1)
    alone = policy_file(tmp_path, worker_tier(hashlib.sha256(poison.read_bytes()).hexdigest()))
    with serving(alone) as client:
        wait_for(client, "ready")
        failed = upload(client, poison)
        ready = client.get("/readyz")
        assert failed.status_code == 503 and failed.json()["error"]["error_class"] == "sticky_cuda"
        assert ready.status_code == 503
        assert ready.json()["tiers"]["model"]["state"] == "recycling"
        wait_for(client, "ready")
        assert client.get("/readyz").status_code == 200


def test_readiness_says_warming_until_a_warm_start_tier_is_up_and_the_first_upload_waits_off_its_deadline(tmp_path):
    clean, poison = images(tmp_path / "in", 2)
    model = {**worker_tier(hashlib.sha256(poison.read_bytes()).hexdigest()), "preload": False, "warm_start": True}
    chain = policy_file(tmp_path, model, tier("rules"), deadline_s=1.0)  # shorter than the worker's start
    with serving(chain) as client:
        warming = client.get("/readyz")
        answered = upload(client, clean).json()  # sent while warming: admitted once the worker is up
        ready = client.get("/readyz")
    assert warming.status_code == 503 and warming.json()["warming"] is True
    assert warming.json()["tiers"]["model"]["state"] == "warming"
    assert warming.json()["tiers"]["rules"]["can_answer"] is True, "another tier could answer: still warming"
    assert (answered["status"], answered["tier"]) == ("ok", "model") and answered["duration_ms"] < 1000
    assert ready.status_code == 200 and ready.json()["warming"] is False
