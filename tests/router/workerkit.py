"""Helpers for tests with real worker processes: distinct documents, faulty-tier policies, waiting."""

from __future__ import annotations

import hashlib
import io
import time
from collections.abc import Callable
from typing import Any

from PIL import Image

from router.api.router import Router
from router.policy.model import Policy, policy_from_dict

FALLBACK = {"merchant": "FALLBACK STORE", "date": "2024-02-29", "total": "3.00"}
PRIMARY = {"merchant": "PRIMARY STORE", "date": "2024-01-31", "total": "12.50"}


def png(seed: int) -> bytes:
    """A small PNG, different for each seed (so each has its own sha256)."""
    image = Image.new("RGB", (64, 48), (seed % 256, (seed // 256) % 256, 77))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def primary_tier(backend: dict[str, Any] | None = None, **tier: Any) -> dict[str, Any]:
    """A faulty tier in worker processes, answering PRIMARY; short timeouts for tests."""
    options = {"kind": "faulty", "cuda": "off", "fields": PRIMARY, **(backend or {})}
    return {"name": "primary", "backend": options, "timeout_s": 5, "stop_grace_s": 0.5, "start_timeout_s": 30, **tier}


def fallback_tier() -> dict[str, Any]:
    return {"name": "fallback", "backend": {"kind": "faulty", "cuda": "off", "fields": FALLBACK}, "isolation": "inline"}


def make_policy(*tiers: dict[str, Any], **policy: Any) -> Policy:
    return policy_from_dict({"name": "workers-test", "deadline_s": 20, **policy, "tiers": list(tiers)})


def make_router(*tiers: dict[str, Any], **policy: Any) -> Router:
    return Router(make_policy(*tiers, **policy))


def wait_until(predicate: Callable[[], Any], timeout_s: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


def wait_ready(router: Router, tier: str = "primary", timeout_s: float = 20.0) -> None:
    wait_until(lambda: router.status()[tier]["state"] == "ready", timeout_s, what=f"{tier} ready")


def events(captured: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [e for e in captured if e["event"] == name]
