"""Every backend kind, described once: its options, its class, where it runs, what it sees, and
which generation parameters it must replace.

The registry (``backends.registry``), policy validation (``router.policy.model``), policy lint and the
chaos drill all read ``SPECS``; adding a kind is one ``BackendSpec`` entry (plus its options class
and its backend module). Light on purpose: pydantic only, no model code.

Generation parameters and the seed bug (transformers issue #34304): a logits processor that
indexes the scores at prompt ids reads outside the logits when a prompt id lies outside the
lm_head. Only a model whose prompts hold such ids is exposed: Mllama (Llama 3.2 Vision), whose
``<|image|>`` id equals the lm_head size. InternVL's image ids (``<IMG_CONTEXT>`` and its
delimiters) and every id of a text prompt lie inside it, so there every parameter passes through.
Which processors index unchecked depends on the transformers version::

    encoder_repetition_penalty, encoder_no_repeat_ngram_size   every version (up to 5.24 checked)
    repetition_penalty, no_repeat_ngram_size                   before 5.18 (later ones clamp ids)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Literal, Union

from pydantic import Field

from backends import options as o

ALWAYS_UNSAFE = ("encoder_repetition_penalty", "encoder_no_repeat_ngram_size")
UNSAFE_BEFORE_CLAMP = ("repetition_penalty", "no_repeat_ngram_size")
#: transformers from this version clamps prompt ids in repetition_penalty / no_repeat_ngram_size.
CLAMPED_SINCE = (5, 18)
#: Values that switch each parameter off (``None`` would let the checkpoint's default back in).
NEUTRAL: dict[str, float | int] = {
    "repetition_penalty": 1.0,
    "no_repeat_ngram_size": 0,
    "encoder_repetition_penalty": 1.0,
    "encoder_no_repeat_ngram_size": 0,
}
Verdict = Literal["passed", "replaced"]
Isolation = Literal["process", "inline"]
REPLACEMENT = (
    "its own transformers processor on scores padded past the lm_head instead, so it still does what it says "
    "without reading outside the logits"
)


def version_tuple(version: str) -> tuple[int, ...]:
    """``"5.18.0.dev0"`` -> ``(5, 18, 0)``, without importing packaging."""
    parts = []
    for piece in version.split(".")[:3]:
        digits = "".join(c for c in piece if c.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def unsafe_parameters(transformers_version: str | None) -> tuple[str, ...]:
    """The parameters that index logits with prompt ids unchecked in this transformers version
    (None: unknown, so the worst case)."""
    if transformers_version is None or version_tuple(transformers_version) < CLAMPED_SINCE:
        return ALWAYS_UNSAFE + UNSAFE_BEFORE_CLAMP
    return ALWAYS_UNSAFE


@dataclass(frozen=True)
class GenerationSpec:
    """How a model kind's prompts sit against its lm_head, and so which parameters it replaces."""

    #: The prompt holds ids outside the lm_head (Mllama's image token): unchecked processors crash.
    ids_outside_lm_head: bool
    #: Why, in a few words, for docs and lint messages.
    why: str

    def unsafe(self, transformers_version: str | None) -> tuple[str, ...]:
        """The parameters the backend switches off and replaces on this transformers version."""
        return unsafe_parameters(transformers_version) if self.ids_outside_lm_head else ()

    def verdict(self, name: str, transformers_version: str | None) -> Verdict:
        """What the backend does with generation parameter ``name``."""
        return "replaced" if name in self.unsafe(transformers_version) else "passed"

    def describe(self) -> str:
        """One paragraph for the docs and the JSON schema."""
        if not self.ids_outside_lm_head:
            return f"Generation parameters pass through unchanged: {self.why}."
        return (
            f"{self.why}, so {', '.join(ALWAYS_UNSAFE)} (and, before transformers "
            f"{'.'.join(map(str, CLAMPED_SINCE))}, {', '.join(UNSAFE_BEFORE_CLAMP)}) would index the logits "
            f"outside their range (a device-side assert on CUDA): the backend takes each out of generate's "
            f"arguments, also when the checkpoint's generation_config sets it, and applies {REPLACEMENT}; the "
            "answer's meta lists them as generation_replaced."
        )


@dataclass(frozen=True)
class BackendSpec:
    """One backend kind."""

    kind: str
    #: The pydantic options model a policy's ``backend:`` block validates into.
    options: type[o.KindOptions]
    #: ``module:Class``, imported only when a tier of this kind is created.
    backend: str
    #: Where a tier runs unless its policy says ``isolation``.
    isolation: Isolation
    #: The backend may touch CUDA (it has ``device``/``gpu`` options): it belongs in a worker process.
    cuda: bool
    #: It reads page images (rather than OCR text or nothing).
    vision: bool
    #: Its generation parameters and which of them it replaces; None: it generates nothing.
    generation: GenerationSpec | None = None
    #: Its backend answers several documents in one call (``extract_batch``), so a worker of it may
    #: take several requests at once (a tier's ``capacity``).
    batches: bool = False

    def unsafe_generation(self, transformers_version: str | None) -> tuple[str, ...]:
        """The generation parameters this kind's backend replaces on this transformers version."""
        return self.generation.unsafe(transformers_version) if self.generation else ()

    def describe(self) -> str:
        """What the docs and the JSON schema say about this kind beyond its fields."""
        runs = f"Runs {'in worker processes' if self.isolation == 'process' else 'in the router process'} by default"
        sees = "reads page images" if self.vision else "reads no page images itself"
        batches = "; batches requests (capacity)" if self.batches else ""
        text = f"{runs}; {sees}{'; may use CUDA' if self.cuda else ''}{batches}."
        return text + (f" {self.generation.describe()}" if self.generation else "")


SPECS: tuple[BackendSpec, ...] = (
    BackendSpec(
        "ocr_rules",
        options=o.OcrRulesOptions,
        backend="backends.fields.ocr_rules:OcrRulesBackend",
        isolation="inline",
        cuda=False,
        vision=False,
    ),
    BackendSpec(
        "internvl3",
        options=o.InternVLOptions,
        backend="backends.models.internvl:InternVLBackend",
        isolation="process",
        cuda=True,
        vision=True,
        generation=GenerationSpec(ids_outside_lm_head=False, why="InternVL's image token ids lie inside the lm_head"),
        batches=True,
    ),
    BackendSpec(
        "llama_vision",
        options=o.LlamaVisionOptions,
        backend="backends.models.llama_vision:LlamaVisionBackend",
        isolation="process",
        cuda=True,
        vision=True,
        generation=GenerationSpec(ids_outside_lm_head=True, why="Mllama's <|image|> token id equals the lm_head size"),
        batches=True,
    ),
    BackendSpec(
        "ocr_llm",
        options=o.OcrLlmOptions,
        backend="backends.models.ocr_llm:OcrLlmBackend",
        isolation="process",
        cuda=True,
        vision=False,
        generation=GenerationSpec(ids_outside_lm_head=False, why="a text prompt holds only ids inside the lm_head"),
        batches=True,
    ),
    BackendSpec(
        "einvoice",
        options=o.EInvoiceOptions,
        backend="backends.einvoice.reader:EInvoiceBackend",
        isolation="inline",
        cuda=False,
        vision=False,
    ),
    BackendSpec(
        "faulty",
        options=o.FaultyOptions,
        backend="backends.testing.faulty:FaultyBackend",
        isolation="process",
        cuda=False,
        vision=False,
        batches=True,
    ),
)
BY_KIND: dict[str, BackendSpec] = {spec.kind: spec for spec in SPECS}
KINDS: tuple[str, ...] = tuple(BY_KIND)


def spec_for(kind: str) -> BackendSpec:
    """The spec of ``kind``; a KeyError naming the known kinds otherwise."""
    try:
        return BY_KIND[kind]
    except KeyError:
        raise KeyError(f"unknown backend kind {kind!r}; known: {', '.join(sorted(BY_KIND))}") from None


if TYPE_CHECKING:
    BackendOptions = o.KindOptions
else:
    BackendOptions = Annotated[Union[tuple(spec.options for spec in SPECS)], Field(discriminator="kind")]  # noqa: UP007
