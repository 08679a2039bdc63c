"""Every event docroute logs and every field it carries: the decision log's schema, as data.

This table is the single source of truth: ``docs/log-schema.md`` is rendered from it
(``python -m router.forensics.schemadoc``), tests check the events of real runs against it, and the
forensics tools read the log by these names. Field names follow OpenTelemetry's ``gen_ai.*``
attributes where one fits (``gen_ai.request.model``).

Changing a field's meaning or removing one is a new ``SCHEMA_VERSION``; adding an optional field
or an event is not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Field:
    """One field of an event. ``type`` is a JSON type (``string``, ``integer``, ``number``,
    ``boolean``, ``array``, ``object``), with ``?`` when the value may be null."""

    name: str
    type: str
    doc: str
    required: bool = True


@dataclass(frozen=True)
class Event:
    name: str
    scope: str  # which context fields it carries: see CONTEXT
    doc: str
    fields: tuple[Field, ...] = ()


def F(name: str, type_: str, doc: str, required: bool = True) -> Field:
    return Field(name, type_, doc, required)


COMMON = (
    F("event", "string", "The event's name, e.g. `attempt.failed`."),
    F("ts", "string", "When, ISO 8601 in UTC with microseconds."),
    F("level", "string", "debug, info, warning, error."),
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

_CLASS = "The error class (see docs/policy.md): sticky_cuda, cuda_oom, bad_index, unavailable, timeout, ..."
_ATTEMPT = F("attempt", "integer", "1 for the first try of this tier in this request.")
_DURATION = F("duration_ms", "number", "How long it took, in milliseconds.")
_WORKER_PID = F("worker_pid", "integer?", "The worker process that served it; null inline.")
_WORKER_GEN = F("worker_generation", "integer?", "How many times the tier's worker slot was replaced before.")
_SIGNATURE = F("signature", "string", "The row of the signature table that matched.")
_GENERATION = F("generation", "integer", "The worker slot's generation: 0 for the first process, +1 per recycle.")
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

EVENTS: tuple[Event, ...] = (
    Event(
        "router.starting",
        "router",
        "A router was built from a policy.",
        (
            F("tiers", "array", "The tier names, in chain order."),
            F("policy_spec", "object", "The whole policy as validated (no document content), for replay.", False),
        ),
    ),
    Event(
        "router.warmed",
        "router",
        "warm_up() waited for the tiers to start (one-shot jobs: CLI, batch).",
        (F("states", "object", "Each tier's state after the wait: ready, unavailable, loading..."),),
    ),
    Event("router.closed", "router", "The router was closed; its workers are stopped."),
    Event(
        "tier.unavailable",
        "tier",
        "The tier cannot run on this machine (preflight): weights, packages or a GPU are missing.",
        (F("reason", "string", "Why, and how to fix it."),),
    ),
    *(
        Event(
            f"breaker.{state}",
            "tier",
            doc,
            (
                F(
                    "reason",
                    "string",
                    "consecutive_failures, crash_loop, content_failure_rate, probe_failed, cooldown_elapsed, "
                    "probe_succeeded.",
                ),
                F("probe_in_s", "number?", "Seconds until the half-open probe, while open."),
            ),
        )
        for state, doc in (
            ("open", "The tier's breaker opened: requests skip the tier until the cooldown ends."),
            ("half_open", "The cooldown ended: the next request probes the tier."),
            ("closed", "A probe succeeded: the tier is back in the chain."),
        )
    ),
    Event(
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
    ),
    Event(
        "tier.skipped",
        "request",
        "The request passed a tier without trying it.",
        (
            _TIER,
            _BACKEND,
            F("reason", "string", "unavailable, breaker_open, quarantined, starting, recycling, deadline."),
            F("detail", "string?", "More about the reason (the unavailable reason, time to the breaker probe)."),
        ),
    ),
    Event(
        "tier.waited",
        "request",
        "No later tier answered, so the request waits for a tier that was starting or recycling.",
        (_TIER, F("reason", "string", "Why the request waits.")),
    ),
    Event(
        "attempt.started",
        "request",
        "One try of one tier begins.",
        (
            _TIER,
            _BACKEND,
            _ATTEMPT,
            F(
                "timeout_s",
                "number",
                "The attempt's time limit: the tier's timeout_s, or less if the deadline is nearer.",
            ),
            F("gen_ai.request.model", "string", "The model the tier asks (OpenTelemetry); model tiers only.", False),
        ),
    ),
    Event(
        "error.classified",
        "request",
        "A failure was sorted into an error class by its signature.",
        (
            _TIER,
            F("error_type", "string", "The exception's qualified type name."),
            F("error_class", "string", _CLASS),
            _SIGNATURE,
            F("action", "string", "The class's default remedy: retry, recycle_and_fall_back, fall_back, fail."),
        ),
    ),
    *(
        Event(
            name,
            "request",
            doc,
            (
                _TIER,
                _BACKEND,
                _ATTEMPT,
                F("error_class", "string", _CLASS),
                _SIGNATURE,
                F("message", "string", "The failure's first line, shortened (never an input value)."),
                _DURATION,
                _WORKER_PID,
                F("worker_generation", "integer?", _WORKER_GEN.doc, False),
            ),
        )
        for name, doc in (
            ("attempt.failed", "An attempt raised, crashed, hung or timed out."),
            ("attempt.rejected", "An attempt answered, but the answer failed the quality gate (invalid_output)."),
        )
    ),
    Event(
        "attempt.retry",
        "request",
        "The same tier will be tried again after a wait.",
        (
            _TIER,
            F("attempt", "integer", "The number of the coming attempt."),
            F("error_class", "string", "The class of the failure being retried."),
            F("sleep_s", "number", "The wait before it (backoff with jitter)."),
        ),
    ),
    Event(
        "route.fallback",
        "request",
        "A tier gave up on the request; the next tier is tried.",
        (
            F("from_tier", "string", "The tier that failed."),
            F("to_tier", "string?", "The next tier in the chain; null after the last."),
            F("error_class", "string", _CLASS),
            _SIGNATURE,
        ),
    ),
    Event(
        "request.stopped",
        "request",
        "A failure's class is not in the tier's fallback_on: the request ends without trying more tiers.",
        (_TIER, F("error_class", "string", _CLASS), F("reason", "string", "Why the request stopped.")),
    ),
    Event(
        "attempt.succeeded",
        "request",
        "An attempt answered and the answer passed the quality gate.",
        (
            _TIER,
            _BACKEND,
            _ATTEMPT,
            _DURATION,
            _WORKER_PID,
            F("worker_generation", "integer?", _WORKER_GEN.doc, False),
            F("fields_present", "array", "The names of the fields the answer holds (not their values)."),
            F("meta", "object", "The backend's metadata: model ids, counts, timings, warnings; never document text."),
            F("fields", "object", "The extracted values: only with `logging.log_content: true`.", False),
        ),
    ),
    Event(
        "request.done",
        "request",
        "The request ended: exactly one per request.",
        (
            F("status", "string", "ok (the first available tier answered), degraded (a later tier did), failed."),
            F("tier", "string?", "The tier whose answer was accepted."),
            F("error_class", "string?", "Why the request failed; null unless failed."),
            F("attempts", "integer", "Attempts made, all tiers together."),
            _DURATION,
            F("sha256", "string?", "The document's SHA-256; null when the input could not be read."),
        ),
    ),
    Event(
        "request.rejected",
        "request",
        "The input could not be read (bad_input): no tier is tried.",
        (F("error_class", "string", "bad_input."), F("problem", "string", "What is wrong with the input.")),
    ),
    Event(
        "request.crashed",
        "router",
        "A bug in the router; the request still gets a failed result (class unknown).",
        (
            _REQUEST,
            F("error_type", "string", "The exception's type name."),
            F("exception", "string", "The traceback.", False),
        ),
    ),
    # Batch jobs (router.batch): one batch run, around the requests it makes.
    Event(
        "batch.started",
        "batch",
        "A batch began (docroute batch or eval).",
        (
            F("inputs", "integer", "Inputs found."),
            F("already_in_output", "integer", "Lines the output file already held (a rerun resumes)."),
        ),
    ),
    Event(
        "batch.finished",
        "batch",
        "A batch ended, completed or interrupted: its summary.",
        (
            F("inputs", "integer", "Inputs found."),
            F("processed", "integer", "Inputs that got their line in this run."),
            F("already_done", "integer", "Inputs skipped: their line was already in the output."),
            F("retried", "integer", "Inputs read again: their line had failed for a passing reason.", False),
            F("abandoned", "integer", "Inputs in flight when a second signal or the grace period ended the run."),
            F("interrupted_by", "string?", "SIGINT or SIGTERM; null when the run completed."),
            F("by_status", "object", "Lines written in this run by status."),
            F("by_tier", "object", "Lines written in this run by answering tier (none: failed)."),
            F("by_error_class", "object", "Failed lines by error class."),
            F("latency_ms", "object", "p50 and p95 of the requests' durations in this run."),
            F("elapsed_s", "number", "Wall time of the run."),
            F("docs_per_s", "number?", "Inputs processed per second."),
        ),
    ),
    Event(
        "batch.output_repaired",
        "batch",
        "The output's last line was torn (a crash mid-write) and was cut off; its input is read again.",
        (F("path", "string", "The output file."), F("cut_bytes", "integer", "Bytes removed.")),
    ),
    # The HTTP service (router.service): requests refused or cut short before a document is read.
    Event(
        "service.auth_failed",
        "service",
        "A request without the right bearer token was refused (401); the token given is never logged.",
        (
            F("request_id", "string", "The request's id (echoed in X-Request-ID)."),
            F("path", "string", "The path asked for."),
            F("reason", "string", "missing bearer token, or wrong bearer token."),
            F("client", "string", "The client's address."),
        ),
    ),
    Event(
        "service.client_disconnected",
        "service",
        "A client went away before its request was read whole (counted as 499, never a 5xx).",
        (
            F("request_id", "string", "The request's id."),
            F("reason", "string", "client disconnected, or dropped at shutdown (an upload still arriving)."),
        ),
    ),
    Event(
        "service.request_timeout",
        "service",
        "A client was too slow: its headers (the connection is closed) or its body (408) did not arrive in time.",
        (
            F("request_id", "string?", "The request's id; null when its headers never arrived."),
            F("phase", "string", "headers or body."),
            F("client", "string", "The client's address (headers).", False),
        ),
    ),
    Event(
        "service.request_id_renamed",
        "service",
        "A client-given X-Request-ID was already used here: the request got a unique one (echoed).",
        (F("given", "string", "The id the client sent."), F("request_id", "string", "The id used.")),
    ),
    Event(
        "batch.output_compacted",
        "batch",
        "The output was rewritten (temporary file, fsync, rename) without the lines that retries replaced.",
        (F("path", "string", "The output file."), F("superseded_lines", "integer", "Lines removed.")),
    ),
    Event(
        "batch.extract_crashed",
        "batch",
        "extract() raised (a bug); the input still gets its line, failed with class unknown.",
        (
            _REQUEST,
            F("error_type", "string", "The exception's type name."),
            F("exception", "string", "The traceback.", False),
        ),
    ),
    Event(
        "batch.rerun",
        "batch",
        "On a Ray cluster: a document is routed again, alone, because a router process died while it was in "
        "flight (an actor or node lost, or the document itself crashed the process).",
        (
            _REQUEST,
            F("key", "string", "The sha256 of the input's bytes (or path:... when it cannot be read)."),
            F("crashes", "integer", "How many times a router process died with this document in flight."),
        ),
    ),
    Event(
        "batch.gave_up",
        "batch",
        "On a Ray cluster: a document crashed the router process too many times; it gets a failed line "
        "(worker_crashed) and is not routed again.",
        (
            _REQUEST,
            F("key", "string", "The sha256 of the input's bytes (or path:... when it cannot be read)."),
            F("crashes", "integer", "How many times a router process died with this document in flight."),
        ),
    ),
    # Worker supervision (router.workers): the router's process logs these about its workers.
    Event(
        "worker.starting",
        "tier",
        "A worker process is being spawned for a slot.",
        (_GENERATION, F("reason", "string", "Why: preload, first use, recycle (the error class), restart.")),
    ),
    Event(
        "worker.ready",
        "tier",
        "A new worker loaded its backend and passed the canary: it takes traffic.",
        (
            _GENERATION,
            F("worker_pid", "integer", "The worker process."),
            F("reason", "string", "Why it was started."),
            F("duration_ms", "number", "From spawn to ready, canary included."),
            *_STARTUP,
        ),
    ),
    Event(
        "worker.start_failed",
        "tier",
        "A worker could not start: its backend failed to load, the canary failed, or it took too long.",
        (
            _GENERATION,
            F("worker_pid", "integer?", "The process that failed."),
            F("stage", "string", "start-up or canary."),
            F("error_type", "string", "The failure's qualified type name."),
            F("error_class", "string", _CLASS),
            _SIGNATURE,
            F("message", "string?", "The failure's first line (start-up failures)."),
            F("exitcode", "integer?", "Its exit status, if it died."),
            F("retry_in_s", "number?", "When the slot tries again; null: the tier is unavailable for good."),
        ),
    ),
    *(
        Event(
            name,
            "tier",
            doc,
            (
                _GENERATION,
                F("worker_pid", "integer", "The worker process."),
                F("error_class", "string", _CLASS),
                _SIGNATURE,
                F("exitcode", "integer?", "Its exit status; negative: the signal that killed it (-9, -11)."),
                F("request_id", "string", "The request it was serving."),
                _RECENT,
            ),
        )
        for name, doc in (
            ("worker.died", "A worker process died while serving a request (worker_crashed)."),
            ("worker.timeout", "A worker ran past an attempt's time limit: it is killed (timeout)."),
            ("worker.poisoned", "A worker's CUDA context is poisoned for good (sticky_cuda): it must be replaced."),
        )
    ),
    Event(
        "worker.drained",
        "tier",
        "A worker finished a request whose caller gave up (its deadline cut the attempt short): the "
        "answer is dropped and the worker serves again.",
        (_GENERATION, F("worker_pid", "integer", "The worker process."), F("request_id", "string", "The request.")),
    ),
    Event(
        "worker.recycling",
        "tier",
        "A poisoned, dead or hung worker is being replaced in the background; requests go elsewhere.",
        (
            _GENERATION,
            F("worker_pid", "integer?", "The process being replaced."),
            F("reason", "string", "The error class that retired it."),
        ),
    ),
    Event(
        "worker.recycled",
        "tier",
        "The replacement worker is ready.",
        (
            _GENERATION,
            F("old_pid", "integer?", "The process replaced."),
            F("new_pid", "integer", "The new process."),
            F("reason", "string", "Why the old one was replaced (an error class)."),
            F("duration_ms", "number", "From the decision to recycle until the new worker was ready."),
            F("stop_ms", "number", "Time spent stopping the old process."),
            *_STARTUP,
        ),
    ),
    Event(
        "worker.stopped",
        "tier",
        "A worker process was stopped (recycle, router closed, idle unload).",
        (
            F("worker_pid", "integer", "The process stopped."),
            _GENERATION,
            F("reason", "string", "Why: close, idle, or the error class of a recycle."),
            F("exitcode", "integer?", "Its exit status."),
            F("stop_ms", "number", "Time it took to stop (ask, terminate, kill)."),
        ),
    ),
    Event(
        "worker.idle_unloaded",
        "tier",
        "A worker idle for longer than idle_unload_s is stopped; it restarts on demand.",
        (
            F("worker_pid", "integer", "The process unloaded."),
            _GENERATION,
            F("idle_s", "number", "How long it had been idle."),
        ),
    ),
)

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
    name = record.get("event")
    spec = BY_NAME.get(name) if isinstance(name, str) else None
    if spec is None:
        return [f"unknown event {name!r}"]
    declared = {f.name: f for f in fields_of(spec)}
    problems = [f"{name}: undeclared field {key!r}" for key in record if key not in declared]
    for field in declared.values():
        if field.name not in record:
            if field.required:
                problems.append(f"{name}: missing field {field.name!r}")
            continue
        problem = _type_problem(field, record[field.name])
        if problem:
            problems.append(f"{name}.{field.name}: {problem}")
    return problems


def _type_problem(field: Field, value: Any) -> str | None:
    nullable = field.type.endswith("?")
    if value is None:
        return None if nullable else "is null"
    kinds = _TYPES[field.type.rstrip("?")]
    if isinstance(value, bool) and bool not in kinds:
        return f"expected {field.type}, got a boolean"
    return None if isinstance(value, kinds) else f"expected {field.type}, got {type(value).__name__}"


def gen_ai_attributes(backend_options: Any) -> dict[str, Any]:
    """OpenTelemetry ``gen_ai.*`` attributes of a tier's backend, for model tiers."""
    model = getattr(backend_options, "model", None)
    return {"gen_ai.request.model": model} if isinstance(model, str) else {}
