"""Findings about a valid policy that will still not do what its author expects.

Each rule is a small function from a policy to findings; each finding has a rule id, a severity
(``error`` fails ``docroute policy lint``), the field path and a message that says what to do.
Checks of the installed transformers read its version from package metadata: nothing is imported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from importlib import metadata
from typing import Any

from backends.kinds import ALWAYS_UNSAFE, CLAMPED_SINCE, NEUTRAL, UNSAFE_BEFORE_CLAMP, spec_for
from router.failures.errors import ErrorClass
from router.failures.traits import class_of_fault_mode
from router.policy.model import GPU_KINDS, Policy, TierPolicy

C = ErrorClass
SEVERITIES = ("error", "warning", "info")
#: Generation parameters a kind may replace (which ones it does: its spec, ``backends.kinds``).
RISKY_GENERATION = ALWAYS_UNSAFE + UNSAFE_BEFORE_CLAMP


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str
    path: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


Rule = Callable[[Policy], Iterator[Finding]]


def lint(policy: Policy, *, transformers: str | bool | None = True) -> list[Finding]:
    """Every finding about ``policy``, in the order of its fields. ``transformers``: the installed
    version to check against (True: look it up; None: not installed)."""
    version = installed("transformers") if transformers is True else transformers
    rules: list[Rule] = [*RULES, lambda p: _generation(p, version if isinstance(version, str) else None)]
    findings = [finding for rule in rules for finding in rule(policy)]
    return sorted(findings, key=lambda f: (_path_key(f.path), SEVERITIES.index(f.severity)))


def installed(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def possible_classes(tier: TierPolicy) -> set[ErrorClass]:
    """The error classes a tier can end an attempt with, from its kind, device and isolation."""
    found = {C.UNAVAILABLE, C.INVALID_OUTPUT, C.UNKNOWN, C.BAD_INPUT, C.TIMEOUT}
    backend: Any = tier.backend
    if tier.effective_isolation == "process":
        found.add(C.WORKER_CRASHED)
    if backend.kind in GPU_KINDS:
        found.add(C.BAD_INDEX)
        if backend.device == "cuda":
            found |= {C.STICKY_CUDA, C.CUDA_OOM}
    if backend.kind == "faulty":
        modes = set(backend.faults) | set(getattr(backend, "triggers", {}).values())
        found |= {c for c in map(class_of_fault_mode, modes) if c is not None}
    return found


def _tiers(policy: Policy) -> Iterator[tuple[str, TierPolicy]]:
    for index, tier in enumerate(policy.tiers):
        yield f"tiers[{index}]", tier


def _duplicates(policy: Policy) -> Iterator[Finding]:
    seen: dict[tuple[str, str], str] = {}
    for path, tier in _tiers(policy):
        key = (tier.backend.model_dump_json(), tier.effective_isolation)
        if key in seen:
            yield Finding(
                "duplicate-tier",
                "error",
                f"{path}.backend",
                f"tier {tier.name!r} has the same backend as {seen[key]}: a second copy loads the model again and "
                "fails the same way; use retry.attempts on the first instead",
            )
        else:
            seen[key] = f"{path} ({tier.name!r})"


def _unreachable(policy: Policy) -> Iterator[Finding]:
    for index, (path, tier) in enumerate(_tiers(policy)):
        if index == len(policy.tiers) - 1:
            if "fallback_on" in tier.model_fields_set and tier.fallback_on:
                yield Finding("fallback-on-last-tier", "info", f"{path}.fallback_on", "the last tier has no next tier")
            continue
        if not set(tier.fallback_on) & possible_classes(tier):
            later = ", ".join(repr(t.name) for t in policy.tiers[index + 1 :])
            yield Finding(
                "unreachable-tier",
                "warning",
                f"{path}.fallback_on",
                f"tier {tier.name!r} falls back on none of the errors it can raise: {later} "
                "are reached only when it is skipped (unavailable, breaker open, quarantined, starting)",
            )


def _classes_that_never_occur(policy: Policy) -> Iterator[Finding]:
    """Explicit fallback_on / retry_on entries that this tier can never raise (defaults are not flagged)."""
    for path, tier in _tiers(policy):
        lists: list[tuple[str, str, list[ErrorClass]]] = []
        if "fallback_on" in tier.model_fields_set:
            lists.append(("fallback_on", "fallback-never-occurs", tier.fallback_on))
        if "retry_on" in tier.retry.model_fields_set:
            lists.append(("retry.retry_on", "retry-never-occurs", tier.retry.retry_on))
        possible = possible_classes(tier)
        for field, rule, classes in lists:
            never = [c.value for c in classes if c not in possible]
            if never:
                yield Finding(
                    rule, "warning", f"{path}.{field}", f"{', '.join(never)} cannot happen here ({_why(tier)})"
                )
        if "fallback_on" in tier.model_fields_set and C.BAD_INPUT in tier.fallback_on:
            yield Finding(
                "fallback-on-bad-input",
                "warning",
                f"{path}.fallback_on",
                "bad_input means the document itself cannot be read: no other tier can do better",
            )


def _why(tier: TierPolicy) -> str:
    backend: Any = tier.backend
    device = getattr(backend, "device", "cpu")
    return f"kind {backend.kind}, {'device ' + device + ', ' if backend.kind in GPU_KINDS else ''}" + (
        f"isolation {tier.effective_isolation}"
    )


def _retries(policy: Policy) -> Iterator[Finding]:
    for path, tier in _tiers(policy):
        retry = tier.retry
        waits = sum(
            min(retry.backoff.max_s, retry.backoff.initial_s * retry.backoff.multiplier**n)
            for n in range(retry.attempts - 1)
        )
        worst = retry.attempts * tier.timeout_s + waits
        if tier.timeout_s > policy.deadline_s:
            yield Finding(
                "timeout-exceeds-deadline",
                "warning",
                f"{path}.timeout_s",
                f"{tier.timeout_s:g} s is longer than deadline_s {policy.deadline_s:g} s: "
                "the deadline cuts every attempt first",
            )
        elif retry.attempts > 1 and worst > policy.deadline_s:
            timeouts_retried = C.TIMEOUT in retry.retry_on
            yield Finding(
                "retries-exceed-deadline",
                "error" if timeouts_retried else "warning",
                f"{path}.retry.attempts",
                f"{retry.attempts} attempts x {tier.timeout_s:g} s + {waits:g} s of waits = {worst:g} s, more than "
                f"deadline_s {policy.deadline_s:g} s"
                + (
                    ": retries after timeouts can never all run"
                    if timeouts_retried
                    else ": slow failures are not all retried"
                ),
            )
        if "retry_on" in retry.model_fields_set and retry.retry_on and retry.attempts == 1:
            yield Finding("retry-unused", "info", f"{path}.retry.retry_on", "retry_on has no effect with attempts: 1")


def _chain(policy: Policy) -> Iterator[Finding]:
    spent = 0.0
    for path, tier in _tiers(policy):
        if spent >= policy.deadline_s:
            yield Finding(
                "chain-exceeds-deadline",
                "warning",
                path,
                f"when every earlier tier runs to its time limits ({spent:g} s), deadline_s {policy.deadline_s:g} s "
                f"has passed: tier {tier.name!r} and the ones after it are skipped",
            )
            return
        spent += tier.retry.attempts * tier.timeout_s


def _isolation_and_safety(policy: Policy) -> Iterator[Finding]:
    for path, tier in _tiers(policy):
        backend: Any = tier.backend
        on_gpu = backend.kind in GPU_KINDS and backend.device == "cuda"
        if on_gpu and tier.effective_isolation == "inline":
            yield Finding(
                "gpu-tier-inline",
                "error",
                f"{path}.isolation",
                "a sticky CUDA error would poison the router's own process for good: use isolation: process",
            )
        if on_gpu and tier.quarantine_s == 0:
            yield Finding(
                "quarantine-off",
                "warning",
                f"{path}.quarantine_s",
                "a document that poisons the worker will poison every replacement it is sent to",
            )
        if getattr(backend, "trust_remote_code", False):
            yield Finding(
                "trust-remote-code",
                "warning",
                f"{path}.backend.trust_remote_code",
                "runs the checkpoint's own Python code",
            )
        if getattr(backend, "allow_download", False):
            yield Finding(
                "downloads-allowed", "info", f"{path}.backend.allow_download", "weights may be fetched from the Hub"
            )
    cpu = [t for t in policy.tiers if getattr(t.backend, "device", "cpu") == "cpu"]
    if not cpu:
        yield Finding(
            "no-cpu-tier",
            "warning",
            "tiers",
            "no tier runs without a GPU: on a machine without one, every request fails",
        )


def _generation(policy: Policy, transformers: str | None) -> Iterator[Finding]:
    for path, tier in _tiers(policy):
        generation = getattr(tier.backend, "generation", None)
        if generation is None:
            continue
        where = f"{path}.backend.generation"
        yield from _replaced(tier, where, transformers)
        if generation.do_sample:
            yield Finding("sampling", "info", f"{where}.do_sample", "sampled answers vary from run to run")
        if generation.max_new_tokens < 64:
            yield Finding(
                "short-generation",
                "warning",
                f"{where}.max_new_tokens",
                f"{generation.max_new_tokens} tokens rarely hold a receipt's JSON: expect invalid_output",
            )


def _replaced(tier: TierPolicy, where: str, transformers: str | None) -> Iterator[Finding]:
    """Parameters the kind's backend takes out of generate's arguments and applies vocabulary-safely
    (its spec's verdict): they work as asked, through a slower path the author should know of."""
    spec = spec_for(tier.backend.kind)
    generation: Any = getattr(tier.backend, "generation", None)
    if spec.generation is None or generation is None:
        return
    for name in RISKY_GENERATION:
        value = getattr(generation, name)
        if value is None or value == NEUTRAL[name] or spec.generation.verdict(name, transformers) == "passed":
            continue
        on = f"with transformers {transformers}" if transformers else "(transformers not installed: worst case)"
        native = (
            f"; transformers {'.'.join(map(str, CLAMPED_SINCE))}+ runs it natively"
            if name in UNSAFE_BEFORE_CLAMP
            else ""
        )
        yield Finding(
            "generation-replaced",
            "info",
            f"{where}.{name}",
            f"{on}, {name} on {spec.kind} would index the logits at a prompt id outside the lm_head "
            f"({spec.generation.why}): a device-side assert on CUDA (transformers issue 34304). The backend applies "
            f"it vocabulary-safely instead (its own processor on padded scores){native}",
        )


def _cascade(policy: Policy) -> Iterator[Finding]:
    """Accept thresholds that cannot do what a cheap-first cascade means them to."""
    last = len(policy.tiers) - 1  # its threshold decides review, not escalation
    for index, tier in enumerate(policy.tiers):
        path = f"tiers[{index}]"
        never = sorted(name for name, value in policy.thresholds(tier.name).items() if value == 0)
        if never and index < last:
            yield Finding(
                "threshold-never-escalates",
                "warning",
                f"{path}.accept",
                f"a threshold of 0 on {', '.join(never)} accepts any answer: this tier never escalates "
                "them to a later one",
            )
        earlier = [t for t in policy.tiers[:index] if t.cost > tier.cost]
        if policy.thresholds(tier.name) and earlier:
            yield Finding(
                "later-tier-cheaper",
                "warning",
                f"{path}.cost",
                f"costs {tier.cost} {policy.cost_unit}, less than the earlier {earlier[0].name} "
                f"({earlier[0].cost}): a cascade tries the cheaper tier first",
            )


def _path_key(path: str) -> tuple[int, str]:
    if path.startswith("tiers["):
        return (int(path[6 : path.index("]")]) + 1, path)
    return (0, path)


RULES: tuple[Rule, ...] = (
    _duplicates,
    _unreachable,
    _classes_that_never_occur,
    _retries,
    _chain,
    _isolation_and_safety,
    _cascade,
)
