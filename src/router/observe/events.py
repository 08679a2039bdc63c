"""Every event docroute logs and every field it carries: the decision log's schema, as data.

This table is the single source of truth: ``docs/log-schema.md`` is rendered from it
(``python -m router.forensics.schemadoc``), tests check the events of real runs against it, and the
forensics tools read the log by these names. Field names follow OpenTelemetry's ``gen_ai.*``
attributes where one fits (``gen_ai.request.model``).

Emitting: each event is a module constant; ``emit`` checks the field names against the definition
(an unknown field, or a missing required one, is a ``TypeError`` at the call, like a wrong keyword
argument) and logs at the event's level::

    from router.observe import events

    events.WORKER_RECYCLED.emit(log, generation=2, old_pid=11, new_pid=12, reason="sticky_cuda", ...)
    events.emit(log, "breaker.open", reason="crash_loop", probe_in_s=30.0)   # a name known at run time

``log`` is any structlog logger, usually one with the event's scope context bound (``CONTEXT``):
the router's logger binds ``policy`` and ``policy_hash``, a tier's adds ``tier`` and ``backend``, a
request's binds ``request_id``. Context fields may also be passed to ``emit``. Allowed values
(``Field.values``) are checked by ``validate``, on whole records, not on the hot path.

Changing a field's meaning or removing one is a new ``SCHEMA_VERSION``; adding an optional field
or an event is not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from router.failures.errors import ErrorClass

SCHEMA_VERSION = 1
LEVELS = ("debug", "info", "warning", "error", "exception")


@dataclass(frozen=True)
class Field:
    """One field of an event. ``type`` is a JSON type (``string``, ``integer``, ``number``,
    ``boolean``, ``array``, ``object``), with ``?`` when the value may be null; ``values``, when
    given, are the only strings the field may hold."""

    name: str
    type: str
    doc: str
    required: bool = True
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class Event:
    name: str
    scope: str  # which context fields it carries: see CONTEXT
    doc: str
    fields: tuple[Field, ...] = ()
    level: str = "info"
    _allowed: frozenset[str] = field(default=frozenset(), init=False, repr=False, compare=False)
    _required: frozenset[str] = field(default=frozenset(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ValueError(f"{self.name}: level {self.level!r} is not one of {LEVELS}")
        own = {f.name for f in self.fields}
        object.__setattr__(self, "_allowed", frozenset(own | {f.name for f in CONTEXT[self.scope]}))
        object.__setattr__(self, "_required", frozenset(f.name for f in self.fields if f.required))

    def emit(self, log: Any, /, **fields: Any) -> None:
        """Log this event with ``fields`` on ``log`` at the event's level."""
        unknown = fields.keys() - self._allowed
        missing = self._required - fields.keys()
        if unknown or missing:
            raise TypeError(f"{self.name}: undeclared fields {sorted(unknown)}, missing fields {sorted(missing)}")
        getattr(log, self.level)(self.name, **fields)


def emit(log: Any, name: str, /, **fields: Any) -> None:
    """Log the event called ``name`` (for names chosen at run time); see ``Event.emit``."""
    BY_NAME[name].emit(log, **fields)


def F(name: str, type_: str, doc: str, required: bool = True, values: tuple[str, ...] = ()) -> Field:
    return Field(name, type_, doc, required, values)


COMMON = (
    F("event", "string", "The event's name, e.g. `attempt.failed`."),
    F("ts", "string", "When, ISO 8601 in UTC with microseconds."),
    F("level", "string", "The event's level.", values=("debug", "info", "warning", "error", "critical")),
    F("pid", "integer", "The process that logged the event (the router's, for worker events too)."),
    F("schema_version", "integer", f"This schema's version ({SCHEMA_VERSION})."),
    F("host", "string", "On a Ray cluster: the Ray node id of the router's node (pids collide across nodes).", False),
    F("actor", "string", "On a Ray cluster: the Ray actor id of the router (batch actor or Serve replica).", False),
)

_POLICY = F("policy", "string", "The policy's name.")
_HASH = F("policy_hash", "string", "Short hash of the policy's content (`docroute policy check` prints it).")
_TIER = F("tier", "string", "The tier's name in the policy.")
_BACKEND = F("backend", "string", "The tier's backend kind (internvl3, llama_vision, ocr_llm, ocr_rules, faulty).")
_REQUEST = F("request_id", "string", "One request: every event of it carries this id.")

#: Fields a scope's events carry, bound once by the logger that emits them.
CONTEXT: dict[str, tuple[Field, ...]] = {
    "router": (_POLICY, _HASH),
    "tier": (_POLICY, _HASH, _TIER, _BACKEND),
    "request": (_REQUEST, _HASH),
    "batch": (),
    "service": (),
}

ERROR_CLASSES = tuple(c.value for c in ErrorClass)
_CLASS = "The error class (see docs/policy.md)."
_ERROR_CLASS = F("error_class", "string", _CLASS, values=ERROR_CLASSES)
_ATTEMPT = F("attempt", "integer", "1 for the first try of this tier in this request.")
_DURATION = F("duration_ms", "number", "How long it took, in milliseconds.")
_WORKER_PID = F("worker_pid", "integer?", "The worker process that served it; null inline.")
_WORKER_GEN = F(
    "worker_generation", "integer?", "The serving worker's generation (see `generation`); null inline.", False
)
_SIGNATURE = F("signature", "string", "The row of the signature table that matched.")
_SHARED = F(
    "shared_failure",
    "string?",
    "Set when this failure is one of several from one event: a batched call that failed for every request "
    "in it, or a worker process retired with requests still in it. The attempts that share it count once "
    "toward the breaker and the crash-loop limit. Null for a failure of this attempt alone.",
    False,
)
_GENERATION = F(
    "generation",
    "integer",
    "The worker's number in its tier: 1 for the first process the tier started, +1 for each process "
    "started after it (any slot, any reason).",
)
_RECENT = F(
    "recent_requests",
    "array",
    "The ids of the requests the worker served last, newest last (canary-N: its start-up check). CUDA "
    "errors are asynchronous: the request that saw one may not be the one that caused it.",
)
_STARTUP = (
    F("spawn_ms", "number", "Process spawn until the child ran."),
    F("import_ms", "number?", "The backend's imports in the child."),
    F("load_ms", "number?", "The backend's load() in the child."),
    F("canary_ms", "number", "The canary request a new worker must answer before it takes traffic."),
)
_EXITCODE = F("exitcode", "integer?", "Its exit status; negative: the signal that killed it (-9, -11).")
_SIGNAL = F("signal", "string?", "The signal that killed it (SIGKILL, SIGSEGV...); null if it exited.", False)

#: Why a worker is started: a first start, a restart after idle unload, or the error class of the
#: recycle that replaces one (worker_crashed for one that died while idle too).
START_REASONS = ("start", "restart_after_idle", *ERROR_CLASSES)
#: Why a worker is stopped.
STOP_REASONS = ("close", "idle", "recycle", "start_failed")
SKIP_REASONS = ("unavailable", "not_applicable", "breaker_open", "quarantined", "starting", "recycling", "deadline")
BREAKER_REASONS = (
    "consecutive_failures",
    "crash_loop",
    "content_failure_rate",
    "probe_failed",
    "cooldown_elapsed",
    "probe_succeeded",
)
STATUSES = ("ok", "degraded", "needs_review", "failed")

# -- the router -----------------------------------------------------------------------------------

ROUTER_STARTING = Event(
    "router.starting",
    "router",
    "A router was built from a policy.",
    (
        F("tiers", "array", "The tier names, in chain order."),
        F(
            "policy_spec",
            "object",
            "The whole policy as validated, for replay; free text longer than 200 characters is cut "
            "(no document content). Not printed on stderr.",
            False,
        ),
    ),
)
ROUTER_WARMED = Event(
    "router.warmed",
    "router",
    "warm_up() waited for the tiers to start (one-shot jobs: CLI, batch).",
    (F("states", "object", "Each tier's state after the wait: ready, unavailable, loading..."),),
)
ROUTER_CLOSED = Event("router.closed", "router", "The router was closed; its workers are stopped.")
TIER_UNAVAILABLE = Event(
    "tier.unavailable",
    "tier",
    "The tier cannot run on this machine (preflight): weights, packages or a GPU are missing. Said once "
    "per router; requests that pass the tier log `tier.skipped` with the reason's first sentence.",
    (F("reason", "string", "Why, and how to fix it."),),
    level="warning",
)
_BREAKER_FIELDS = (
    F("reason", "string", "Why the breaker changed state.", values=BREAKER_REASONS),
    F("probe_in_s", "number?", "Seconds until the half-open probe, while open."),
)
BREAKER_OPEN = Event(
    "breaker.open",
    "tier",
    "The tier's breaker opened: requests skip the tier until the cooldown ends.",
    _BREAKER_FIELDS,
    level="warning",
)
BREAKER_HALF_OPEN = Event(
    "breaker.half_open",
    "tier",
    "The cooldown ended: the next request probes the tier.",
    _BREAKER_FIELDS,
    level="warning",
)
BREAKER_CLOSED = Event(
    "breaker.closed", "tier", "A probe succeeded: the tier is back in the chain.", _BREAKER_FIELDS, level="warning"
)

# -- requests (router.core.engine, router.api.router) ---------------------------------------------------------

REQUEST_RECEIVED = Event(
    "request.received",
    "request",
    "A document was read and a request begins.",
    (
        F("sha256", "string", "SHA-256 of the input bytes: identifies the document without its content."),
        F("size_bytes", "integer", "Size of the input."),
        F("pages", "integer", "Pages read."),
        F("media_type", "string", "image/png, application/pdf, ..."),
        F("deadline_s", "number", "The request's time limit across all tiers."),
    ),
)
TIER_SKIPPED = Event(
    "tier.skipped",
    "request",
    "The request passed a tier without trying it.",
    (
        _TIER,
        _BACKEND,
        F("reason", "string", "Why the tier was not tried.", values=SKIP_REASONS),
        F("detail", "string?", "More about the reason (the unavailable reason, time to the breaker probe)."),
    ),
)
TIER_WAITED = Event(
    "tier.waited",
    "request",
    "No later tier answered, so the request waits for a tier that was starting or recycling.",
    (_TIER, F("reason", "string", "Why the request waits.")),
)
ATTEMPT_STARTED = Event(
    "attempt.started",
    "request",
    "One try of one tier begins.",
    (
        _TIER,
        _BACKEND,
        _ATTEMPT,
        F("timeout_s", "number", "The attempt's time limit: the tier's timeout_s, or less if the deadline is nearer."),
        F(
            "probe",
            "boolean",
            "Tried although the tier's breaker refused requests: no later tier could read the document.",
            False,
        ),
        F("gen_ai.request.model", "string", "The model the tier asks (OpenTelemetry); model tiers only.", False),
    ),
)
ERROR_CLASSIFIED = Event(
    "error.classified",
    "request",
    "A failure was sorted into an error class by its signature.",
    (
        _TIER,
        F("error_type", "string", "The exception's qualified type name."),
        _ERROR_CLASS,
        _SIGNATURE,
        F("action", "string", "The class's default remedy: retry, recycle_and_fall_back, fall_back, fail."),
    ),
)
_ATTEMPT_FAILED_FIELDS = (
    _TIER,
    _BACKEND,
    _ATTEMPT,
    _ERROR_CLASS,
    _SIGNATURE,
    F("message", "string", "The failure's first line, shortened (never an input value)."),
    _DURATION,
    _WORKER_PID,
    _WORKER_GEN,
    _SHARED,
)
ATTEMPT_FAILED = Event(
    "attempt.failed",
    "request",
    "An attempt raised, crashed, hung or timed out.",
    _ATTEMPT_FAILED_FIELDS,
    level="warning",
)
ATTEMPT_REJECTED = Event(
    "attempt.rejected",
    "request",
    "An attempt answered, but the answer failed the quality gate (invalid_output).",
    _ATTEMPT_FAILED_FIELDS,
    level="warning",
)
ATTEMPT_RETRY = Event(
    "attempt.retry",
    "request",
    "The same tier will be tried again after a wait.",
    (
        _TIER,
        F("attempt", "integer", "The number of the coming attempt."),
        F("error_class", "string", "The class of the failure being retried.", values=ERROR_CLASSES),
        F("sleep_s", "number", "The wait before it (backoff with jitter)."),
    ),
)
ROUTE_FALLBACK = Event(
    "route.fallback",
    "request",
    "A tier gave up on the request; the next tier is tried.",
    (
        F("from_tier", "string", "The tier that failed."),
        F("to_tier", "string?", "The next tier in the chain; null after the last."),
        _ERROR_CLASS,
        _SIGNATURE,
    ),
)
REQUEST_STOPPED = Event(
    "request.stopped",
    "request",
    "A failure's class is not in the tier's fallback_on: the request ends without trying more tiers.",
    (_TIER, _ERROR_CLASS, F("reason", "string", "Why the request stopped.")),
)
ATTEMPT_SUCCEEDED = Event(
    "attempt.succeeded",
    "request",
    "An attempt answered and the answer passed the quality gate.",
    (
        _TIER,
        _BACKEND,
        _ATTEMPT,
        _DURATION,
        _WORKER_PID,
        _WORKER_GEN,
        F("fields_present", "array", "The names of the fields the answer holds (not their values)."),
        F("meta", "object", "The backend's metadata: model ids, counts, timings, warnings; never document text."),
        F("fields", "object", "The extracted values: only with `logging.log_content: true`.", False),
        F(
            "confidence",
            "object",
            "Per field the answer holds, the backend's confidence (null: it gave none, counted as 0 by the "
            "accept thresholds). Never a value.",
            False,
        ),
        F(
            "agrees_with",
            "object",
            "Per field, the earlier tiers of this request whose value (normalised) is the same. Never a value.",
            False,
        ),
    ),
)
ROUTE_LOW_CONFIDENCE = Event(
    "route.low_confidence",
    "request",
    "A tier answered, but merged with the earlier answers some fields stay below their accept threshold: the "
    "answer is kept and the next tier is tried (no failure: the tier's health does not count it).",
    (
        F("from_tier", "string", "The tier whose answer was doubtful."),
        F("to_tier", "string?", "The next tier in the chain; null after the last (the result needs review)."),
        F("doubtful", "object", "The doubtful fields and their merged confidence (never their values)."),
        F("thresholds", "object", "The accept thresholds of those fields at this tier."),
    ),
)
REQUEST_DONE = Event(
    "request.done",
    "request",
    "The request ended: exactly one per request.",
    (
        F(
            "status",
            "string",
            "ok (the first available tier answered, or a later one after earlier answers were only doubtful), "
            "degraded (a later tier did after a failure, or the answer lacks a field the policy requires: the "
            "result names it in `missing`), needs_review (no tier reached an accept threshold), failed.",
            values=STATUSES,
        ),
        F("tier", "string?", "The tier whose answer was accepted."),
        F("error_class", "string?", "Why the request failed; null unless failed.", values=ERROR_CLASSES),
        F("attempts", "integer", "Attempts made, all tiers together."),
        _DURATION,
        F("sha256", "string?", "The document's SHA-256; null when the input could not be read."),
        F("review", "array", "needs_review: the doubtful fields (names only).", False),
        F("cost", "number", "What the request's attempts cost, in the policy's cost_unit.", False),
    ),
)
REQUEST_REJECTED = Event(
    "request.rejected",
    "request",
    "The input could not be read (bad_input): no tier is tried.",
    (
        F("error_class", "string", "bad_input.", values=("bad_input",)),
        F("problem", "string", "What is wrong with the input."),
    ),
    level="warning",
)
REQUEST_CRASHED = Event(
    "request.crashed",
    "router",
    "A bug in the router; the request still gets a failed result (class unknown).",
    (
        _REQUEST,
        F("error_type", "string", "The exception's type name."),
        F("exception", "string", "The traceback.", False),
    ),
    level="exception",
)

# -- batch jobs (router.batch): one batch run, around the requests it makes ------------------------

BATCH_STARTED = Event(
    "batch.started",
    "batch",
    "A batch began (docroute batch or eval).",
    (
        F("inputs", "integer", "Inputs found."),
        F("already_in_output", "integer", "Lines the output file already held (a rerun resumes)."),
    ),
)
BATCH_FINISHED = Event(
    "batch.finished",
    "batch",
    "A batch ended, completed or interrupted: its summary.",
    (
        F("inputs", "integer", "Inputs found."),
        F("processed", "integer", "Inputs that got their line in this run."),
        F("already_done", "integer", "Inputs skipped: their line was already in the output."),
        F("retried", "integer", "Inputs read again: their line had failed for a passing reason.", False),
        F("abandoned", "integer", "Inputs in flight when a second signal or the grace period ended the run."),
        F("interrupted_by", "string?", "SIGINT or SIGTERM; null when the run completed.", values=("SIGINT", "SIGTERM")),
        F(
            "output_error",
            "string?",
            "Why the output could not be written (a full disk): the batch stopped; null when it could.",
            False,
        ),
        F("by_status", "object", "Lines written in this run by status."),
        F("by_tier", "object", "Lines written in this run by answering tier (none: failed)."),
        F("by_error_class", "object", "Failed lines by error class."),
        F("latency_ms", "object", "p50 and p95 of the requests' durations in this run."),
        F("elapsed_s", "number", "Wall time of the run."),
        F("docs_per_s", "number?", "Inputs processed per second."),
    ),
)
BATCH_OUTPUT_REPAIRED = Event(
    "batch.output_repaired",
    "batch",
    "The output's last line was torn (a crash mid-write) and was cut off; its input is read again.",
    (F("path", "string", "The output file."), F("cut_bytes", "integer", "Bytes removed.")),
    level="warning",
)
BATCH_OUTPUT_COMPACTED = Event(
    "batch.output_compacted",
    "batch",
    "The output was rewritten (temporary file, fsync, rename) without the lines that retries replaced.",
    (F("path", "string", "The output file."), F("superseded_lines", "integer", "Lines removed.")),
)
BATCH_EXTRACT_CRASHED = Event(
    "batch.extract_crashed",
    "batch",
    "extract() raised (a bug); the input still gets its line, failed with class unknown.",
    (
        _REQUEST,
        F("error_type", "string", "The exception's type name."),
        F("exception", "string", "The traceback.", False),
    ),
    level="exception",
)

_CRASHES = (
    _REQUEST,
    F("key", "string", "The sha256 of the input's bytes (or path:... when it cannot be read)."),
    F("crashes", "integer", "How many times a router process died with this document in flight."),
)
BATCH_RERUN = Event(
    "batch.rerun",
    "batch",
    "On a Ray cluster: a document is routed again because the router process that had it died (an actor or "
    "node lost, or the document itself crashed the process) before its batch's lines were written.",
    (
        *_CRASHES,
        F(
            "reason",
            "string",
            "in_flight: the process died while routing it (it is routed alone); answered: the process had "
            "answered it, and the answer was lost with it.",
            False,
            values=("in_flight", "answered"),
        ),
    ),
    level="warning",
)
BATCH_GAVE_UP = Event(
    "batch.gave_up",
    "batch",
    "On a Ray cluster: a document crashed the router process too many times; it gets a failed line "
    "(worker_crashed) and is not routed again.",
    _CRASHES,
    level="error",
)

# -- the HTTP service (router.service): requests refused or cut short before a document is read ----

SERVICE_AUTH_FAILED = Event(
    "service.auth_failed",
    "service",
    "A request without the right bearer token was refused (401); the token given is never logged.",
    (
        F("request_id", "string", "The request's id (echoed in X-Request-ID)."),
        F("path", "string", "The path asked for."),
        F(
            "reason",
            "string",
            "Why it was refused.",
            values=("missing bearer token", "wrong bearer token"),
        ),
        F("client", "string", "The client's address."),
    ),
    level="warning",
)
SERVICE_CLIENT_DISCONNECTED = Event(
    "service.client_disconnected",
    "service",
    "A client went away before its request was read whole (counted as 499, never a 5xx).",
    (
        F("request_id", "string", "The request's id."),
        F(
            "reason",
            "string",
            "Why the request ended early (dropped at shutdown: an upload still arriving).",
            values=("client disconnected", "dropped at shutdown"),
        ),
    ),
)
SERVICE_REQUEST_TIMEOUT = Event(
    "service.request_timeout",
    "service",
    "A client was too slow: its headers (the connection is closed) or its body (408) did not arrive in time.",
    (
        F("request_id", "string?", "The request's id; null when its headers never arrived."),
        F("phase", "string", "headers or body.", values=("headers", "body")),
        F("client", "string", "The client's address (headers).", False),
    ),
    level="warning",
)
SERVICE_REQUEST_ID_RENAMED = Event(
    "service.request_id_renamed",
    "service",
    "A client-given X-Request-ID was already used here: the request got a unique one (echoed).",
    (F("given", "string", "The id the client sent."), F("request_id", "string", "The id used.")),
    level="warning",
)

# -- worker supervision (router.workers): the router's process logs these about its workers -------

WORKER_STARTING = Event(
    "worker.starting",
    "tier",
    "A worker process is being spawned for a slot.",
    (
        _GENERATION,
        F(
            "reason",
            "string",
            "Why: start (its first), restart_after_idle (after an idle unload), or the error class of the "
            "recycle that replaces a worker.",
            values=START_REASONS,
        ),
    ),
)
WORKER_READY = Event(
    "worker.ready",
    "tier",
    "A new worker loaded its backend and passed the canary: it takes traffic.",
    (
        _GENERATION,
        F("worker_pid", "integer", "The worker process."),
        F("reason", "string", "Why it was started (as in `worker.starting`).", values=START_REASONS),
        F("duration_ms", "number", "From spawn to ready, canary included."),
        *_STARTUP,
    ),
)
WORKER_START_FAILED = Event(
    "worker.start_failed",
    "tier",
    "A worker could not start: the process could not be spawned, its backend failed to load, the canary "
    "failed, or it took too long. The slot tries again after `retry_in_s` unless the tier is unavailable.",
    (
        _GENERATION,
        F("worker_pid", "integer?", "The process that failed; null if none was spawned."),
        F(
            "stage",
            "string",
            "spawn (creating the process), start-up or canary.",
            values=("spawn", "start-up", "canary"),
        ),
        F("error_type", "string", "The failure's qualified type name."),
        _ERROR_CLASS,
        _SIGNATURE,
        F("message", "string?", "The failure's first line (spawn and start-up failures)."),
        F("exitcode", "integer?", "Its exit status, if it died."),
        F("retry_in_s", "number?", "When the slot tries again; null: the tier is unavailable for good."),
    ),
    level="warning",
)
_DEATH_FIELDS = (
    _GENERATION,
    F("worker_pid", "integer", "The worker process."),
    _ERROR_CLASS,
    _SIGNATURE,
    _EXITCODE,
    F("request_id", "string?", "The request it was serving; null if it died idle (no document is blamed)."),
    _RECENT,
)
WORKER_DIED = Event(
    "worker.died",
    "tier",
    "A worker process died (worker_crashed): while serving a request, or while idle (then its sentinel "
    "told the supervisor, which replaces it before a request meets it).",
    (*_DEATH_FIELDS, _SIGNAL),
    level="warning",
)
WORKER_TIMEOUT = Event(
    "worker.timeout",
    "tier",
    "A worker ran past an attempt's time limit: it is killed (timeout).",
    _DEATH_FIELDS,
    level="warning",
)
WORKER_POISONED = Event(
    "worker.poisoned",
    "tier",
    "A worker's CUDA context is poisoned for good (sticky_cuda): it must be replaced.",
    _DEATH_FIELDS,
    level="warning",
)
WORKER_DRAINED = Event(
    "worker.drained",
    "tier",
    "A worker finished a request whose caller gave up (its deadline cut the attempt short): the "
    "answer is dropped and the worker serves again.",
    (_GENERATION, F("worker_pid", "integer", "The worker process."), F("request_id", "string", "The request.")),
)
WORKER_RECYCLING = Event(
    "worker.recycling",
    "tier",
    "A poisoned, dead or hung worker is being replaced in the background; requests go elsewhere.",
    (
        _GENERATION,
        F("worker_pid", "integer?", "The process being replaced."),
        F("reason", "string", "The error class that retired it.", values=ERROR_CLASSES),
    ),
)
WORKER_RECYCLED = Event(
    "worker.recycled",
    "tier",
    "The replacement worker is ready.",
    (
        _GENERATION,
        F("old_pid", "integer?", "The process replaced."),
        F("new_pid", "integer", "The new process."),
        F("reason", "string", "Why the old one was replaced (an error class).", values=ERROR_CLASSES),
        F("duration_ms", "number", "From the decision to recycle until the new worker was ready."),
        F("stop_ms", "number", "Time spent stopping the old process."),
        *_STARTUP,
    ),
)
WORKER_STOPPED = Event(
    "worker.stopped",
    "tier",
    "A worker process was stopped and reaped.",
    (
        F("worker_pid", "integer", "The process stopped."),
        _GENERATION,
        F(
            "reason",
            "string",
            "close (the router closed), idle (idle unload), recycle (replaced after a failure, or dead), "
            "start_failed (it could not start).",
            values=STOP_REASONS,
        ),
        F("exitcode", "integer?", "Its exit status."),
        F("stop_ms", "number", "Time it took to stop (ask, terminate, kill)."),
    ),
)
WORKER_IDLE_UNLOADED = Event(
    "worker.idle_unloaded",
    "tier",
    "A worker idle for longer than idle_unload_s is stopped; it restarts on demand.",
    (
        F("worker_pid", "integer", "The process unloaded."),
        _GENERATION,
        F("idle_s", "number", "How long it had been idle."),
    ),
)
WORKER_SUPERVISION_FAILED = Event(
    "worker.supervision_failed",
    "tier",
    "An unexpected exception in one of a tier's supervising threads (starting, recycling, watching, "
    "unloading workers): the slot is marked failed and the work is retried after `retry_in_s`.",
    (
        F("task", "string", "What the thread was doing.", values=("start", "watch", "drain", "unload")),
        F("slot", "integer?", "The worker slot concerned; null for the whole pool."),
        F("error_type", "string", "The exception's type name."),
        F("message", "string", "The exception's first line."),
        F("retry_in_s", "number", "When the work is tried again."),
    ),
    level="error",
)

EVENTS: tuple[Event, ...] = tuple(value for value in list(globals().values()) if isinstance(value, Event))
BY_NAME: dict[str, Event] = {e.name: e for e in EVENTS}
#: Keys that may carry document content; the decision log drops them unless the policy opts in.
CONTENT_KEYS = frozenset({"fields", "text", "raw_output", "values", "ocr_text"})

_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


def fields_of(event: Event) -> tuple[Field, ...]:
    """All fields of an event: the common ones, its scope's context, its own."""
    return (*COMMON, *CONTEXT[event.scope], *event.fields)


def validate(record: dict[str, Any]) -> list[str]:
    """Problems with one logged event against this schema; empty if it conforms."""
    return _problems(record, strict=True)


def defects(record: dict[str, Any]) -> list[str]:
    """What makes a logged record unreadable as the event it names: an unknown name, a required field
    missing, a field of the wrong type. Readers of logs skip such records. ``validate`` also names
    undeclared fields and values outside a field's list, drift a reader lives with (a newer writer may
    add optional fields and values)."""
    return _problems(record, strict=False)


def _problems(record: dict[str, Any], *, strict: bool) -> list[str]:
    name = record.get("event")
    spec = BY_NAME.get(name) if isinstance(name, str) else None
    if spec is None:
        return [f"unknown event {name!r}"]
    declared = {f.name: f for f in fields_of(spec)}
    problems = [f"{name}: undeclared field {key!r}" for key in record if key not in declared] if strict else []
    for field_ in declared.values():
        if field_.name not in record:
            if field_.required:
                problems.append(f"{name}: missing field {field_.name!r}")
            continue
        value = record[field_.name]
        problem = _type_problem(field_, value) or (_value_problem(field_, value) if strict else None)
        if problem:
            problems.append(f"{name}.{field_.name}: {problem}")
    return problems


def _type_problem(field_: Field, value: Any) -> str | None:
    nullable = field_.type.endswith("?")
    if value is None:
        return None if nullable else "is null"
    kinds = _TYPES[field_.type.rstrip("?")]
    if isinstance(value, bool) and bool not in kinds:
        return f"expected {field_.type}, got a boolean"
    return None if isinstance(value, kinds) else f"expected {field_.type}, got {type(value).__name__}"


def _value_problem(field_: Field, value: Any) -> str | None:
    if not field_.values or value is None or str(value) in field_.values:
        return None
    return f"{str(value)!r} is not one of {', '.join(field_.values)}"


def gen_ai_attributes(backend_options: Any) -> dict[str, Any]:
    """OpenTelemetry ``gen_ai.*`` attributes of a tier's backend, for model tiers."""
    model = getattr(backend_options, "model", None)
    return {"gen_ai.request.model": model} if isinstance(model, str) else {}
