"""The Python API: build a router from a policy, extract from paths, bytes or images.

    with Router.from_policy("policies/default.yaml") as router:
        result = router.extract("receipt.jpg")
        print(result.status, result.values())

A router is safe to use from many threads; ``close`` stops its worker processes.

A router is a guest in its host's process: it configures neither the host's logging nor the
process's allocator. Its events go to its own destinations (the policy's ``logging.json_path``, or
``log_json``) and then to ``logger``, or when none is passed to ``structlog.get_logger("docroute")``
where the host configured structlog, else to the stdlib logger ``docroute`` (see ``router.observe.logs``).
``hold_malloc=True`` opts in to the allocator settings of ``router.api.memory``.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from backends import registry
from router.api import memory
from router.api.inputs import Source, check_source, load_document
from router.api.pdfreader import PdfReader
from router.core import decide
from router.core.breaker import Breaker, BreakerState
from router.core.engine import Engine
from router.core.result import DocumentInfo, ErrorSummary, Result
from router.core.runners import InlineRunner, Runner, TierState, UnavailableRunner
from router.core.tiers import Tier
from router.failures.errors import BadInputError, ErrorClass, RouterClosedError
from router.observe import events, logs
from router.policy.model import Policy, TierPolicy, load_policy

#: How often a request waiting for the warm-up looks again.
ADMIT_POLL_S = 0.02


class Router:
    def __init__(
        self,
        policy: Policy,
        *,
        logger: Any = None,
        log_json: str | os.PathLike[str] | None = None,
        log_stderr: bool = False,
        hold_malloc: bool = False,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        """``logger``: where the host wants the events (default: structlog's ``docroute`` logger where
        the host configured structlog, else the stdlib logger ``docroute``).
        ``log_json``: this router's JSON file, instead of the policy's ``logging.json_path`` (a file
        that is not a docroute log, or one in a missing folder, is refused with ValueError).
        ``log_stderr``: also print this router's events on stderr. ``hold_malloc``: apply
        ``router.api.memory``'s allocator settings to the whole process (a long-running service).
        A router never configures its host's logging (programs call ``router.observe.logs.configure``)."""
        if not isinstance(policy, Policy):
            raise TypeError(
                f"Router() takes a Policy, got {type(policy).__name__}; for a policy file or a built-in policy "
                f"name use Router.from_policy({str(policy)!r})"
            )
        if hold_malloc:
            memory.hold_malloc_settings()
        self.policy = policy
        self.policy_hash = policy.digest()
        self._clock = clock
        self._pdf_reader = PdfReader()  # this router's PDFs are read in its own capped helper process
        self.decision_log = logs.RouterLog(
            policy.logging, json_path=log_json, stream=sys.stderr if log_stderr else None, host=logger
        )
        #: This router's logger: events a host logs about its work with this router (batch jobs) go
        #: where the router's go.
        self.log = self.decision_log.logger
        self._log = self.log.bind(policy=policy.name, policy_hash=self.policy_hash)
        self._closed = False
        self._lock = threading.Lock()
        self._recycles: Counter[str] = Counter()  # worker processes replaced, per tier (for metrics)
        events.ROUTER_STARTING.emit(
            self._log, tiers=[t.name for t in policy.tiers], policy_spec=logs.capped(policy.model_dump(mode="json"))
        )
        tiers = [self._build_tier(t) for t in policy.tiers]
        self.engine = Engine(policy, tiers, clock=clock, sleep=sleep)
        self._warm = threading.Event()  # set once no warm_start tier is warming: documents are admitted
        for tier in tiers:
            if (tier.policy.preload or tier.policy.warm_start) and tier.unavailable_reason() is None:
                tier.runner.start()

    @classmethod
    def from_policy(cls, policy: str | os.PathLike[str] | Policy, **kwargs: Any) -> Router:
        """A router for a policy file, a built-in policy name (``default``, ``cpu``) or a Policy."""
        return cls(policy if isinstance(policy, Policy) else load_policy(policy), **kwargs)

    @property
    def tiers(self) -> list[Tier]:
        return self.engine.tiers

    def _build_tier(self, tier_policy: TierPolicy) -> Tier:
        log = self._log.bind(tier=tier_policy.name, backend=tier_policy.backend.kind)

        def on_change(state: BreakerState, reason: str, probe_at: float | None) -> None:
            in_s = None if probe_at is None else round(max(0.0, probe_at - self._clock()), 3)
            events.emit(log, f"breaker.{state.value}", reason=reason, probe_in_s=in_s)

        breaker = Breaker(tier_policy.breaker, clock=self._clock, on_change=on_change)
        reason = registry.preflight(tier_policy.backend)
        if reason:
            # said in full once per router; each request that passes the tier gets the first sentence
            events.TIER_UNAVAILABLE.emit(log, reason=reason)
            return Tier(tier_policy, UnavailableRunner(first_sentence(reason)), breaker, clock=self._clock)
        return Tier(tier_policy, self._runner(tier_policy, breaker, log), breaker, clock=self._clock)

    def _runner(self, tier_policy: TierPolicy, breaker: Breaker, log: Any) -> Runner:
        if tier_policy.effective_isolation == "inline":
            return InlineRunner(tier_policy.backend, slots=tier_policy.worker_count)
        from router.workers import WorkerPool

        def on_recycle() -> None:
            with self._lock:
                self._recycles[tier_policy.name] += 1
            breaker.record_recycle()

        return WorkerPool(tier_policy, on_recycle=on_recycle, log=log)

    def extract(
        self, source: Source, *, name: str | None = None, request_id: str | None = None, keep_text: bool = False
    ) -> Result:
        """Extract fields from one document: a path, bytes, a binary file object or a PIL image.

        ``keep_text`` asks the tiers for the text they read, returned in ``Result.text`` (never
        logged, never in a dump of the result): for an evaluation's ceiling.

        Always returns a Result; failures are data in it (an unreadable document: ``bad_input``).
        Raises only for the caller's mistakes: TypeError for another kind of source,
        RouterClosedError after ``close()``."""
        if self._closed:
            raise RouterClosedError("router is closed")
        check_source(source)  # the caller's mistake (None, a text stream) is a TypeError, not a result
        request_id = request_id or uuid.uuid4().hex
        self._admit()
        started = self._clock()
        display = name or (str(source) if isinstance(source, str | os.PathLike) else None)
        try:
            document = load_document(source, self.policy.limits, name=display, reader=self._pdf_reader)
        except BadInputError as exc:
            return self._refused(request_id, exc, started)
        except Exception as exc:  # a reader's failure nobody foresaw: still one classified result
            return self._crashed(request_id, exc, started, DocumentInfo(source=display or "<input>"))
        if keep_text:
            document = replace(document, keep_text=True)
        try:
            with self.decision_log.active():
                return self.engine.run(document, request_id)
        except Exception as exc:  # a bug must not lose the document: it becomes a classified failure
            return self._crashed(request_id, exc, started, DocumentInfo(source=document.source, sha256=document.sha256))

    def _crashed(self, request_id: str, exc: Exception, started: float, document: DocumentInfo) -> Result:
        events.REQUEST_CRASHED.emit(self._log, request_id=request_id, error_type=type(exc).__name__)
        return Result(
            request_id=request_id,
            status="failed",
            document=document,
            policy=self.policy.name,
            policy_hash=self.policy_hash,
            duration_ms=round((self._clock() - started) * 1000, 2),
            error=ErrorSummary(error_class=ErrorClass.UNKNOWN, message=f"internal error: {exc!r}"[:300]),
        )

    def _refused(self, request_id: str, error: BadInputError, started: float) -> Result:
        log = self.log.bind(request_id=request_id, policy_hash=self.policy_hash)
        events.REQUEST_REJECTED.emit(log, error_class=ErrorClass.BAD_INPUT, problem=error.problem)
        duration_ms = round((self._clock() - started) * 1000, 2)
        events.REQUEST_DONE.emit(
            log,
            status="failed",
            tier=None,
            error_class=ErrorClass.BAD_INPUT,
            attempts=0,
            duration_ms=duration_ms,
            sha256=None,
        )
        return Result(
            request_id=request_id,
            status="failed",
            document=DocumentInfo(source=error.source),
            policy=self.policy.name,
            policy_hash=self.policy_hash,
            duration_ms=duration_ms,
            error=ErrorSummary(error_class=ErrorClass.BAD_INPUT, message=str(error)),
        )

    def warming(self) -> bool:
        """Whether a ``warm_start`` tier is still on its first start (no document is admitted meanwhile)."""
        return any(t.runner.state() is TierState.WARMING for t in self.tiers)

    def _admit(self) -> None:
        """Wait, before a request's deadline begins, until no warm_start tier is warming (at most
        their ``start_timeout_s``; a closed router admits at once, and refuses the request later)."""
        if self._warm.is_set():
            return
        gated = [t for t in self.tiers if t.policy.warm_start]
        until = time.monotonic() + max((t.policy.start_timeout_s for t in gated), default=0.0)
        while not self._closed and self.warming() and time.monotonic() < until:
            time.sleep(ADMIT_POLL_S)
        self._warm.set()

    def warm_up(self, timeout_s: float | None = None) -> dict[str, str]:
        """Start every tier that can run here and wait until none is still starting.

        For one-shot jobs (CLI, batch, eval) that would otherwise send their first documents to later
        tiers while the best ones load. A service does not call this: it answers from whatever tier
        is ready and reports the rest on /readyz. Waits at most ``timeout_s`` (default: the longest
        ``start_timeout_s`` of the policy); returns each tier's state.
        """
        runnable = [t for t in self.tiers if t.unavailable_reason() is None]
        for tier in runnable:
            tier.runner.start()
        limit = timeout_s if timeout_s is not None else max(t.policy.start_timeout_s for t in self.tiers)
        until = time.monotonic() + limit
        while any(t.warming() and t.unavailable_reason() is None for t in runnable) and time.monotonic() < until:
            time.sleep(0.05)
        states = {tier.name: tier.runner.state().value for tier in self.tiers}
        events.ROUTER_WARMED.emit(self._log, states=states)
        return states

    def parallelism(self) -> int:
        """Documents this router can work on at once: the slots (workers x capacity) of the tiers that can run here."""
        return max(1, sum(t.policy.slots for t in self.tiers if t.unavailable_reason() is None))

    def status(self) -> dict[str, Any]:
        """Each tier's state, for health checks and ``/readyz``; ``recycles`` counts replaced workers;
        ``admits`` says whether its breaker lets a request in now, by the decision core's rule (an open
        breaker on the last tier that runs here still admits: that tier is the probe); ``capacity``
        is the requests its started workers (or inline slots) can hold at once, ``in_flight`` those
        they hold now."""
        status = {}
        for index, tier in enumerate(self.tiers):
            capacity, in_flight = tier.runner.load()
            status[tier.name] = {
                "backend": tier.kind,
                "state": tier.runner.state().value,
                "breaker": tier.breaker.state.value,
                "admits": decide.can_answer(self.tiers, index),
                "unavailable": tier.unavailable_reason(),
                "recycles": self._recycles[tier.name],
                "capacity": capacity,
                "in_flight": in_flight,
            }
        return status

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for tier in self.tiers:
            tier.runner.close()
        self._pdf_reader.close()
        events.ROUTER_CLOSED.emit(self._log)
        self.decision_log.close()

    def __enter__(self) -> Router:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def first_sentence(text: str) -> str:
    """The first sentence of a reason (up to ". " or a line's end), for messages repeated per request."""
    return re.split(r"(?<=\.)\s|\n", text.strip(), maxsplit=1)[0]
