"""A Serve replica's health check: it reads ``Router.status()`` and fails only after the model tiers
have been unusable for long (no Ray needed: the check is the replica's own code)."""

from __future__ import annotations

import asyncio
import time

import pytest

from router.api.router import Router
from router.policy.model import Policy, policy_from_dict
from router.scale.serve import RouterReplica


def _replica(router: Router, unusable_limit_s: float) -> RouterReplica:
    replica = RouterReplica.__new__(RouterReplica)  # without the Ray runtime __init__ asks for its node
    replica.router, replica.unusable_limit_s, replica.unusable_since = router, unusable_limit_s, None
    return replica


def _policy(model_backend: dict) -> Policy:
    model = {"name": "model", "backend": {"kind": "faulty", "cuda": "off", **model_backend}, "workers": 1}
    model |= {"preload": True, "start_timeout_s": 5, "breaker": {"failure_threshold": 2, "cooldown_s": 30}}
    last = {"name": "rules", "backend": {"kind": "faulty", "cuda": "off"}, "isolation": "inline"}
    return policy_from_dict({"name": "health", "tiers": [model, last]})


def _healthy_for(replica: RouterReplica, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            asyncio.run(replica.check_health())
        except RuntimeError:
            return False
        time.sleep(0.2)
    return True


@pytest.mark.slow
def test_a_model_tier_that_never_starts_fails_the_check_after_the_limit_and_not_before():
    with Router(_policy({"fail_load": "no weights here"}), log_stderr=False) as router:
        replica = _replica(router, unusable_limit_s=1.0)
        asyncio.run(replica.check_health())  # still starting: healthy
        assert not _healthy_for(replica, 20)  # its breaker opens; a second later the check fails


def test_a_working_model_tier_keeps_the_check_passing():
    with Router(_policy({}), log_stderr=False) as router:
        router.warm_up()
        assert _healthy_for(_replica(router, unusable_limit_s=0.1), 1.0)
