"""The policy file: which tiers answer, in what order, and what happens when they fail.

A policy is YAML read with ``yaml.safe_load``'s semantics (``router.policy.file``: lines recorded,
duplicate keys refused, limits) and validated into frozen pydantic models that forbid unknown keys.
A bad policy raises ``PolicyError`` listing every problem with the file, the line, the field path
(``tiers[1].retry.attempts``), what was expected, and the closest valid key for a typo. See
docs/policy.md for the reference.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from backends.doctraits import Trait
from backends.kinds import SPECS, BackendOptions, spec_for
from backends.options import Seconds
from backends.schema import FieldName
from router.failures.errors import ErrorClass, PolicyError
from router.failures.traits import default_fallback_on, default_retry_on
from router.policy.errors import describe_error
from router.policy.file import (
    MAX_POLICY_BYTES,
    MAX_TEXT_CHARS,
    MAX_TIERS,
    TOO_DEEP,
    ParsedYaml,
    PolicyYamlError,
    read_yaml,
    too_big,
)

#: Kinds that may touch CUDA (from their specs, ``backends.kinds``).
GPU_KINDS = frozenset(spec.kind for spec in SPECS if spec.cuda)
BUILTIN_POLICY_DIR = Path(__file__).resolve().parents[3] / "policies"


MAX_WORKERS = 64
DEFAULT_REQUIRED: tuple[FieldName, ...] = ("merchant", "date", "total")

#: Per field, the least confidence (0-1) at which an answer is accepted (``router.core.merge``).
Thresholds = dict[FieldName, Annotated[float, Field(ge=0, le=1)]]
_ACCEPT_DOC = (
    "Per field, the least confidence (0-1) an answer must reach to be accepted, e.g. {total: 0.9, date: 0.85}. "
    "Below it the router goes on to the next tier (low_confidence) and keeps the doubtful answer; when no "
    "tier reaches it the result is needs_review. A field without a confidence counts as 0."
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Backoff(_Model):
    """Exponential backoff between retries of one tier."""

    initial_s: Seconds = Field(0.2, ge=0, description="Wait before the first retry.")
    max_s: Seconds = Field(5.0, ge=0, description="Longest wait between retries.")
    multiplier: float = Field(2.0, ge=1, description="Growth of the wait per retry.")
    jitter_s: Seconds = Field(0.1, ge=0, description="Random extra wait, up to this much.")


class RetryPolicy(_Model):
    """How often one tier is tried for one request before the router moves on."""

    attempts: int = Field(1, ge=1, le=10, description="Tries in all, the first included.")
    retry_on: list[ErrorClass] = Field(
        default_factory=default_retry_on,
        description="Error classes worth another try on the same tier (default: the traits table's).",
    )
    backoff: Backoff = Field(default_factory=Backoff, description="Waits between tries.")


class ContentBreakerPolicy(_Model):
    """Opt-in: open the breaker of a tier that answers most documents with nothing usable.

    A failure rate over the last ``window`` distinct documents the tier read (resilience4j's
    count-based sliding window); content failures (invalid output, the quality gate) never count
    toward the ordinary breaker."""

    failure_rate: float = Field(0.9, gt=0, le=1, description="Share of content failures in the window that opens it.")
    window: int = Field(20, ge=1, description="Distinct documents the rate is taken over.")
    min_calls: int = Field(10, ge=1, description="Documents in the window before the rate is judged.")


class BreakerPolicy(_Model):
    """When a tier is taken out of the chain for a while. Only faults of the tier count (see the
    error classes' traits); the last tier that could answer a document is tried even when open."""

    failure_threshold: int = Field(5, ge=1, description="Consecutive failed attempts that open the breaker.")
    cooldown_s: Seconds = Field(30.0, gt=0, description="Time open before one half-open probe.")
    max_recycles: int = Field(
        3, ge=1, description="Worker recycles within recycle_window_s that count as a crash loop."
    )
    recycle_window_s: Seconds = Field(300.0, gt=0, description="Window for counting recycles.")
    content: ContentBreakerPolicy | None = Field(
        None, description="Also open on a high rate of content failures (off by default)."
    )


class QualityGate(_Model):
    """What an answer must hold to be accepted; anything less is ``invalid_output``."""

    required: list[FieldName] = Field(
        default_factory=lambda: list(DEFAULT_REQUIRED),
        description="Fields that must be present in an accepted answer.",
    )


class TierPolicy(_Model):
    """One step of the chain: a backend and how the router treats it."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,39}$", description="Unique tier name, used in logs.")
    backend: BackendOptions = Field(description="The backend and its options; 'kind' selects it.")
    isolation: Literal["process", "inline"] | None = Field(
        None,
        description="Run in worker processes or in the router's process. Default: "
        + "; ".join(
            f"{isolation} for {', '.join(s.kind for s in SPECS if s.isolation == isolation)}"
            for isolation in ("process", "inline")
        )
        + ".",
    )
    workers: int | Literal["cores"] = Field(
        1,
        description="Worker processes (or inline slots) for this tier; 'cores': one per core this process may "
        "run on (its CPU affinity), counted where the router runs.",
    )
    capacity: int = Field(
        1,
        ge=1,
        le=64,
        description="Requests one worker process takes at once. Above 1 the worker answers the pages that are "
        "waiting together in one batched call (left-padded, one generate): the weights are loaded once and "
        "the GPU is kept busy. Only for backends that batch ("
        + ", ".join(s.kind for s in SPECS if s.batches)
        + ") in worker processes. timeout_s then covers waiting for the batch before a request's own.",
    )
    batch_window_ms: float = Field(
        5.0,
        ge=0,
        le=1000,
        description="With capacity above 1: how long a worker holding one request waits for more to batch "
        "with it. Longer windows make fuller batches and add that much latency when traffic is light.",
    )
    preload: bool = Field(False, description="Start workers when the router starts, not on first use.")
    warm_start: bool = Field(
        False,
        description="Start this tier's workers with the router and admit no document until each has loaded "
        "its backend and read the canary (or failed to start): Router.extract waits before a request's "
        "deadline begins, and the tier's state reads 'warming' (readiness: not ready). For a tier every "
        "document needs, such as the cpu policy's OCR: its models load off the first documents' deadline. "
        "Needs isolation: process.",
    )
    idle_unload_s: Seconds | None = Field(
        None, gt=0, description="Stop idle workers after this long; they restart on demand."
    )
    timeout_s: Seconds = Field(60.0, gt=0, description="Time limit for one attempt.")
    start_timeout_s: Seconds = Field(600.0, gt=0, description="Time limit for a worker to load.")
    stop_grace_s: Seconds = Field(
        5.0, gt=0, description="Time a stopping worker gets at each step (ask, terminate) before it is killed."
    )
    retry: RetryPolicy = Field(default_factory=RetryPolicy, description="Retries of this tier within a request.")
    fallback_on: list[ErrorClass] = Field(
        default_factory=default_fallback_on,
        description="Error classes after which the next tier is tried; any other fails the request "
        "(default: the traits table's).",
    )
    breaker: BreakerPolicy = Field(default_factory=BreakerPolicy, description="When to take the tier out for a while.")
    quality_gate: QualityGate | None = Field(None, description="Overrides the policy's quality gate.")
    accept: Thresholds = Field(
        default_factory=dict, description=_ACCEPT_DOC + " Per field, this tier's threshold overrides the policy's."
    )
    skip_when: list[Trait] = Field(
        default_factory=list,
        description="Document traits known before reading (e_invoice, born_digital, photo, scan; "
        "backends.doctraits) for which this tier is skipped, logged as not_applicable with the trait: "
        "a cheap tier known to lose on a kind of document is not tried on it.",
    )
    cost: float = Field(
        0.0,
        ge=0,
        description="What one attempt of this tier costs, in the policy's cost_unit; each result sums what it spent.",
    )
    quarantine_s: Seconds = Field(
        3600.0, ge=0, description="How long a document that poisoned this tier skips it (0: never)."
    )

    @property
    def effective_isolation(self) -> Literal["process", "inline"]:
        if self.isolation is not None:
            return self.isolation
        return spec_for(self.backend.kind).isolation

    @field_validator("workers")
    @classmethod
    def _workers_in_range(cls, workers: int | str) -> int | str:
        if isinstance(workers, int) and not 1 <= workers <= MAX_WORKERS:
            raise ValueError(f"workers: expected 1 to {MAX_WORKERS} or 'cores', got {workers}")
        return workers

    @property
    def worker_count(self) -> int:
        """Its worker processes (or inline slots): ``workers``, with 'cores' counted here."""
        return min(MAX_WORKERS, machine_cores()) if self.workers == "cores" else int(self.workers)

    @property
    def slots(self) -> int:
        """Requests this tier works on at once: its workers times each one's capacity."""
        return self.worker_count * self.capacity

    @model_validator(mode="after")
    def _warm_start_needs_workers(self) -> TierPolicy:
        if self.warm_start and self.effective_isolation != "process":
            raise ValueError("warm_start needs isolation: process (an inline tier has no workers to start)")
        return self

    @model_validator(mode="after")
    def _capacity_needs_a_batching_worker(self) -> TierPolicy:
        if self.capacity == 1:
            return self
        kind = self.backend.kind
        if not spec_for(kind).batches:
            batching = ", ".join(s.kind for s in SPECS if s.batches)
            raise ValueError(f"capacity: {kind} backends answer one document per call; only {batching} batch")
        if self.effective_isolation != "process":
            raise ValueError("capacity above 1 needs isolation: process (a worker batches; inline slots do not)")
        return self


class InputLimits(_Model):
    """What the router refuses to read."""

    max_bytes: int = Field(50 * 2**20, gt=0, description="Largest input file, in bytes.")
    max_pixels: int = Field(40_000_000, gt=0, description="Largest page, in pixels (larger is a decompression bomb).")
    max_pages: int = Field(
        20,
        ge=1,
        description="Most pages of a document (PDF or multi-page TIFF) that are read. A longer one is read "
        "in part: its first max_pages - 1 pages and its last (where an invoice's total is); the result's "
        "document.pages_read and document.pages_total say which.",
    )
    max_document_pages: int = Field(
        200,
        ge=1,
        description="A document with more pages than this is refused as bad_input without reading any: "
        "no receipt or invoice is that long, and counting is all it costs.",
    )
    pdf_dpi: int = Field(200, ge=50, le=600, description="Resolution PDF pages are rendered at.")
    pdf_reader_memory_mb: int = Field(
        768,
        ge=128,
        le=65536,
        description="PDFs are read in a helper process capped at this much memory above its idle size: a PDF "
        "whose streams inflate past it (a decompression bomb) is refused as bad_input, and costs that helper, "
        "not the caller's process.",
    )
    pdf_read_timeout_s: Seconds = Field(
        60.0, gt=0, description="Time the PDF reader gets for one PDF (or one page's rendering)."
    )
    decode_max_side_px: int = Field(
        3000,
        ge=500,
        description="JPEG pages with a longer side are decoded at 1/2, 1/4 or 1/8 scale, never below this: "
        "a 600-dpi scan decodes 4x faster and in a quarter of the memory; no tier reads finer detail.",
    )


class LoggingPolicy(_Model):
    """Where the decision log goes and what it may contain."""

    format: Literal["auto", "json", "console"] = Field(
        "auto", description="stderr rendering: console on a terminal, JSON otherwise (auto)."
    )
    stderr: bool = Field(
        True,
        description="The CLI and the service print events on stderr (a library Router prints nothing itself).",
    )
    json_path: str | None = Field(None, description="Append this router's events to this file, as JSON lines.")
    rotate_bytes: int = Field(50 * 2**20, gt=0, description="Rotate the JSON file at this size.")
    backups: int = Field(5, ge=0, description="Rotated files kept.")
    level: Literal["debug", "info", "warning", "error"] = Field("info", description="Least level logged.")
    log_content: bool = Field(
        False, description="Put extracted values in the log. Receipts hold personal data: off by default."
    )


class Policy(_Model):
    """A whole routing policy."""

    version: Literal[1] = Field(1, description="Policy format version.")
    name: str = Field("unnamed", max_length=100, description="A name for logs and reports.")
    description: str = Field("", max_length=MAX_TEXT_CHARS, description="What this policy is for.")
    deadline_s: Seconds = Field(120.0, gt=0, description="Time limit for one request across all tiers.")
    quality_gate: QualityGate = Field(default_factory=QualityGate, description="What an accepted answer holds.")
    accept: Thresholds = Field(default_factory=dict, description=_ACCEPT_DOC)
    cost_unit: str = Field(
        "device_s", max_length=40, description="The unit of the tiers' cost (default: seconds of the device used)."
    )
    limits: InputLimits = Field(default_factory=InputLimits, description="What inputs are refused.")
    logging: LoggingPolicy = Field(default_factory=LoggingPolicy, description="The decision log.")
    tiers: list[TierPolicy] = Field(min_length=1, max_length=MAX_TIERS, description="The chain, tried in order.")

    @field_validator("tiers")
    @classmethod
    def _unique_names(cls, tiers: list[TierPolicy]) -> list[TierPolicy]:
        names = [t.name for t in tiers]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"tier names must be unique; repeated: {', '.join(duplicates)}")
        return tiers

    @model_validator(mode="after")
    def _trust_needs_isolation(self) -> Policy:
        for tier in self.tiers:
            if getattr(tier.backend, "trust_remote_code", False) and tier.effective_isolation != "process":
                raise ValueError(f"tier {tier.name!r}: trust_remote_code requires isolation: process")
        return self

    def thresholds(self, name: str) -> dict[str, float]:
        """The accept thresholds of tier ``name``: the policy's, each overridden by the tier's own."""
        own = self.tier(name).accept
        return {str(field): value for field, value in {**self.accept, **own}.items()}

    def tier(self, name: str) -> TierPolicy:
        for tier in self.tiers:
            if tier.name == name:
                return tier
        raise KeyError(name)

    def digest(self) -> str:
        """A short hash of the policy's content, logged with every event."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def machine_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS has one), at least 1."""
    affinity = getattr(os, "sched_getaffinity", None)
    return max(1, len(affinity(0)) if affinity is not None else os.cpu_count() or 1)


def resolve_policy_path(name_or_path: str | os.PathLike[str]) -> Path:
    """A file path as given, or a built-in policy by name (``default``, ``cpu``)."""
    path = Path(name_or_path)
    if not _may_be_a_name(path):
        return path
    for directory in _policy_dirs():
        candidate = directory / f"{name_or_path}.yaml"
        if candidate.exists():
            return candidate
    return path


def _may_be_a_name(path: Path) -> bool:
    return not (path.exists() or path.suffix in (".yaml", ".yml") or len(path.parts) > 1)


def _policy_dirs() -> list[Path]:
    search = [Path(d) for d in os.environ.get("DOCROUTE_POLICY_DIR", "").split(os.pathsep) if d]
    return [*search, BUILTIN_POLICY_DIR]


def policy_names() -> list[str]:
    """The policies that can be named without a path: built-in ones and those in DOCROUTE_POLICY_DIR."""
    return sorted({p.stem for d in _policy_dirs() if d.is_dir() for p in d.glob("*.yaml")})


def _not_found(name_or_path: str | os.PathLike[str]) -> str:
    if _may_be_a_name(Path(name_or_path)):
        return (
            f"no such file, and no policy named {str(name_or_path)!r}; the policies that can be named are: "
            f"{', '.join(policy_names())} (or give a path to a .yaml file)"
        )
    return "file not found"


def load_policy(name_or_path: str | os.PathLike[str]) -> Policy:
    """Read and validate a policy file (or a built-in policy by name)."""
    path = resolve_policy_path(name_or_path)
    try:
        if path.exists() and not path.is_file():  # opening a FIFO would wait forever for a writer
            raise PolicyError(str(path), ["not a regular file (a folder, FIFO or device): give the policy file's path"])
        if path.is_file() and (size := path.stat().st_size) > MAX_POLICY_BYTES:  # never read into memory
            raise PolicyError(str(path), [too_big(size)])
        with path.open("rb") as file:
            data = file.read(MAX_POLICY_BYTES + 1)
        if len(data) > MAX_POLICY_BYTES:  # it grew while read
            raise PolicyError(str(path), [too_big(None)])
        text = data.decode("utf-8")
    except FileNotFoundError:
        raise PolicyError(str(path), [_not_found(name_or_path)]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(str(path), [f"cannot read: {exc}"]) from None
    return parse_policy(text, source=str(path))


def parse_policy(text: str, source: str = "<string>") -> Policy:
    """Validate policy YAML text; ``source`` names it in errors, which also name lines."""
    try:
        parsed = read_yaml(text, source)
    except PolicyYamlError as exc:
        raise PolicyError(source, exc.problems) from None
    if not isinstance(parsed.data, dict):
        got = type(parsed.data).__name__
        raise PolicyError(source, [f"<top level>: expected a mapping at the top level, got {got}"])
    return policy_from_dict(parsed.data, source, parsed)


def policy_from_dict(data: dict[str, Any], source: str = "<dict>", parsed: ParsedYaml | None = None) -> Policy:
    """Validate a policy given as data; ``parsed`` (from YAML) lets errors name lines."""
    tiers = data.get("tiers")
    if isinstance(tiers, list) and len(tiers) > MAX_TIERS:  # refused before validating them all
        raise PolicyError(source, [f"tiers: {len(tiers)} tiers, over the limit of {MAX_TIERS}"])
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(source, [describe_error(err, parsed, Policy) for err in exc.errors()]) from None
    except RecursionError:
        raise PolicyError(source, [TOO_DEEP]) from None


def json_schema() -> dict[str, Any]:
    """JSON Schema of the policy format, for editors."""
    schema = Policy.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "docroute policy"
    for spec in SPECS:  # what a kind does beyond its fields, from its spec
        definition = schema["$defs"][spec.options.__name__]
        definition["description"] = f"{definition.get('description', '').strip()}\n\n{spec.describe()}".strip()
    return schema
