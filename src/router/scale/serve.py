"""``docroute serve --engine ray``: router replicas on Ray Serve behind the service's own FastAPI app.

Each Serve replica holds one whole ``Router`` (``RouterReplica``). The ingress is the existing app
(``router.service.create_app``: auth, upload limits, metrics, error bodies), served by uvicorn in
the ``docroute serve`` process; its router is a ``RemoteRouter`` that sends each document to a
replica through a Serve handle. Limits:

- a replica takes ``max_ongoing_requests`` documents at once (its router's worker slots); the app
  accepts at most as many again waiting (``parallelism()`` caps its ``max_in_flight``) and answers
  the rest with its documented 503 ``overloaded`` (Retry-After). Serve's own handle queue is left
  unbounded: its count includes requests in hand-over, and a second bound raced with the app's;
- a replica that dies mid-request (its process killed, its node lost) gives that request a failed
  ``Result`` classed ``worker_crashed``, so a 503 with a classified error; Serve starts a new one;
- ``check_health`` reads ``Router.status()`` (no GPU work) and fails only when every model tier has
  been unusable for ``unusable_limit_s``: an ordinary worker recycle never replaces a replica
  (replacing one reloads its weights).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from router.core.result import DocumentInfo, ErrorSummary, Result
from router.failures.errors import ErrorClass
from router.policy.model import Policy, machine_cores
from router.scale.resources import RouterResources, on_cores, router_resources
from router.service.readiness import can_answer

#: Tier states that are on the way back to answering (not "unusable").
RECOVERING = frozenset({"warming", "loading", "recycling"})
DEPLOYMENT = "docroute"


class RouterReplica:
    """A Serve deployment class (wrapped by ``serve.deployment`` in ``deploy``)."""

    def __init__(self, policy_spec: dict[str, Any], log_dir: str | None, unusable_limit_s: float):
        from router.scale.actor import placed_router, where_am_i

        self.place = where_am_i()
        self.router = placed_router(policy_spec, log_dir, self.place, source="<ray serve>")
        self.unusable_limit_s = unusable_limit_s
        self.unusable_since: float | None = None

    async def extract(self, source: bytes | str, name: str | None, request_id: str) -> dict[str, Any]:
        result = await asyncio.to_thread(self.router.extract, source, name=name, request_id=request_id)
        return result.model_dump(mode="json")

    async def status(self) -> dict[str, Any]:
        return self.router.status()

    async def where(self) -> dict[str, Any]:
        return self.place

    async def check_health(self) -> None:
        """Raise (Serve then replaces this replica) only after the model tiers (those in worker processes,
        that can run here) were unusable for long."""
        in_workers = {t.name for t in self.router.policy.tiers if t.effective_isolation == "process"}
        status = self.router.status()
        models = [status[name] for name in in_workers if status[name]["unavailable"] is None]
        usable = not models or any(_usable(t) for t in models)
        now = time.monotonic()
        if usable:
            self.unusable_since = None
            return
        self.unusable_since = self.unusable_since or now
        if now - self.unusable_since > self.unusable_limit_s:
            raise RuntimeError(f"no model tier has been usable for {now - self.unusable_since:.0f} s")

    def __del__(self) -> None:
        router = getattr(self, "router", None)
        if router is not None:
            router.close()


def _usable(tier: dict[str, Any]) -> bool:
    """Answering, or on its way back from an ordinary recycle (a tier that keeps failing to start
    opens its breaker: that is not on its way back)."""
    return can_answer(tier) or (tier["state"] in RECOVERING and tier["breaker"] == "closed")


def deploy(
    policy: Policy,
    *,
    replicas: int,
    resources: RouterResources | None = None,
    max_queued: int | None = None,
    log_dir: Path | None = None,
    unusable_limit_s: float = 300.0,
) -> RemoteRouter:
    """Start the replicas on the connected cluster (Serve without its own HTTP proxy), each with
    ``resources`` (default: derived from the policy, ``router.scale.resources``)."""
    from ray import serve

    policy = on_cores(policy, machine_cores())  # each replica runs the workers its CPUs were asked for
    parallelism = max(1, sum(t.slots for t in policy.tiers))  # workers x capacity, as Router.parallelism()
    queued = max_queued if max_queued is not None else replicas * parallelism
    serve.start(proxy_location="Disabled")
    deployment = serve.deployment(
        name=DEPLOYMENT,
        num_replicas=replicas,
        max_ongoing_requests=parallelism,
        max_queued_requests=-1,  # the app bounds what waits (capacity below); Serve's bound races with it
        ray_actor_options=(resources or router_resources(policy)).ray_options(),
        health_check_period_s=10,
        graceful_shutdown_timeout_s=policy.deadline_s + 5,
    )(RouterReplica)
    handle = serve.run(
        deployment.bind(policy.model_dump(mode="json"), str(log_dir.resolve()) if log_dir else None, unusable_limit_s),
        name=DEPLOYMENT,
        route_prefix=None,
    )
    return RemoteRouter(handle, policy, capacity=replicas * parallelism + queued, timeout_s=policy.deadline_s + 30)


class RemoteRouter:
    """What the service app needs of a router, answered by the replicas."""

    def __init__(self, handle: Any, policy: Policy, *, capacity: int, timeout_s: float):
        self.handle = handle
        self.policy = policy
        self.policy_hash = policy.digest()
        self.capacity = capacity
        self.timeout_s = timeout_s
        self._asker = ThreadPoolExecutor(1, thread_name_prefix="replica-status")

    def extract(self, source: Any, *, name: str | None = None, request_id: str | None = None) -> Result:
        from ray import exceptions

        request_id = request_id or uuid.uuid4().hex
        started = time.monotonic()
        payload = source if isinstance(source, bytes) else os.fspath(source)
        try:
            answer = self.handle.extract.remote(payload, name, request_id).result(timeout_s=self.timeout_s)
        except (exceptions.RayActorError, exceptions.ActorUnavailableError) as exc:
            message = f"the router replica died or was lost while routing this document: {type(exc).__name__}"
            return self._failed(request_id, name, ErrorClass.WORKER_CRASHED, message, started)
        except TimeoutError:
            return self._failed(request_id, name, ErrorClass.TIMEOUT, "no answer from a router replica", started)
        return Result.model_validate(answer)

    def status(self) -> dict[str, Any]:
        """One replica's tiers (empty when none answers: then the service is not ready). The app asks
        from its event loop, where Serve refuses a blocking wait: the wait runs in a thread."""
        return self._asker.submit(self._status).result()

    def _status(self) -> dict[str, Any]:
        try:
            status: dict[str, Any] = self.handle.status.remote().result(timeout_s=5)
        except Exception:  # no replica reachable now: not ready, whatever the reason
            return {}
        return status

    def parallelism(self) -> int:
        return self.capacity

    def close(self) -> None:
        from ray import serve

        self._asker.shutdown(wait=False)
        # The replicas finish their requests first; a cluster already gone (Ctrl-C reaches a local
        # cluster's processes too) must not hold the exit forever.
        stopping = threading.Thread(target=serve.delete, args=(DEPLOYMENT,), name="serve-delete", daemon=True)
        stopping.start()
        stopping.join(self.timeout_s)

    def _failed(self, request_id: str, name: str | None, error: ErrorClass, message: str, started: float) -> Result:
        return Result(
            request_id=request_id,
            status="failed",
            document=DocumentInfo(source=name or "upload"),
            policy=self.policy.name,
            policy_hash=self.policy_hash,
            duration_ms=round((time.monotonic() - started) * 1000, 2),
            error=ErrorSummary(error_class=error, message=message),
        )
