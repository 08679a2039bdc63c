"""Typed options for each backend kind, validated as part of a policy file.

The ``kind`` field discriminates the union (``backends.kinds.BackendOptions``, built from the kinds'
specs), so a policy error names the kind's own fields. This
module is light (pydantic only): the router validates policies without importing any model code.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: The longest time any setting may name, in seconds (a week): a duration is a number a timer, a
#: sleep or a deadline takes, and a larger one (1e308) overflows them or never ends.
MAX_SECONDS = 7 * 24 * 3600.0
#: A duration setting: finite and at most ``MAX_SECONDS`` (each field adds its own lower bound).
Seconds = Annotated[float, Field(le=MAX_SECONDS)]

FaultMode = Literal["sticky_cuda", "cuda_oom", "hang", "segfault", "exit", "garbage", "slow"]


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


OcrEngine = Literal["tesseract", "rapidocr"]
DateOrder = Literal["auto", "dmy", "mdy", "ymd"]


class KindOptions(_Options):
    """The options of one backend kind; ``kind`` selects it (see ``backends.kinds``)."""

    kind: str


class OcrOptions(_Options):
    """How a page is read: by which engine, and how the page is prepared for it."""

    engine: OcrEngine = Field(
        "tesseract",
        description="OCR engine: 'tesseract' (the binary) or 'rapidocr' (PP-OCR models on onnxruntime, "
        "shipped in the rapidocr wheel; needs the 'rapidocr' extra).",
    )
    lang: str = Field("eng", description="Tesseract language(s), e.g. 'eng' or 'eng+deu'.")
    psm: int = Field(6, ge=0, le=13, description="Page segmentation mode; 6 reads receipts best.")
    min_chars: int = Field(40, ge=0, description="OCR text shorter than this is a failure to escalate, not an answer.")
    timeout_s: Seconds = Field(60.0, gt=0, description="Time limit for one Tesseract run.")
    max_side_px: int = Field(
        3600,
        ge=0,
        description="Pages whose longer side exceeds this are reduced by an integer factor before OCR "
        "(0: never). 600-dpi scans read as well at half the size and about five times faster.",
    )
    min_side_px: int = Field(
        420,
        ge=0,
        description="Pages whose shorter side is below this are enlarged by an integer factor (at most 4) "
        "before OCR (0: never): thumbnails of receipts (a 231-px-wide photo) lose their dates and totals "
        "otherwise. Receipt scans (SROIE: 443 px and wider) are read as they are.",
    )
    threads: int = Field(
        1,
        ge=1,
        le=64,
        description="Threads one reading of a page may use: onnxruntime's intra-op threads for RapidOCR, "
        "OMP_THREAD_LIMIT for Tesseract. 1 (the default) suits a tier that reads several pages at once, one "
        "per core (workers: cores): the readings then do not fight over cores. Raise it for a tier that "
        "reads one page at a time on a machine with idle cores.",
    )
    orientation: bool = Field(
        True,
        description="When a reading is poor (little text, or low confidence), detect the page's orientation "
        "(Tesseract OSD) and read it again turned upright, keeping the better reading.",
    )


_SEE_KIND = "Whether the kind passes it through or replaces it: see the kind's notes (backends.kinds)."


class GenerationOptions(_Options):
    """Generation parameters passed to ``model.generate``, checked before use by each backend."""

    max_new_tokens: int = Field(384, ge=1, le=8192, description="Upper bound on generated tokens.")
    do_sample: bool = Field(False, description="Sample instead of greedy decoding.")
    temperature: float | None = Field(None, gt=0, description="Sampling temperature (do_sample).")
    top_p: float | None = Field(None, gt=0, le=1, description="Nucleus sampling mass (do_sample).")
    num_beams: int = Field(1, ge=1, le=8, description="Beam search width; 1 is greedy.")
    early_stopping: bool | None = Field(None, description="Beam search only (num_beams > 1).")
    repetition_penalty: float | None = Field(
        None, gt=0, description=f"Penalty (> 1) for tokens already in the prompt or the answer. {_SEE_KIND}"
    )
    no_repeat_ngram_size: int | None = Field(
        None, ge=0, description=f"Forbid repeating an n-gram of this size. {_SEE_KIND}"
    )
    encoder_repetition_penalty: float | None = Field(
        None, gt=0, description=f"Rewards (> 1) or penalises (< 1) tokens of the prompt. {_SEE_KIND}"
    )
    encoder_no_repeat_ngram_size: int | None = Field(
        None, ge=0, description=f"Forbid repeating an n-gram of the prompt of this size. {_SEE_KIND}"
    )

    @model_validator(mode="after")
    def _coherent(self) -> GenerationOptions:
        if self.early_stopping is not None and self.num_beams == 1:
            raise ValueError(
                "early_stopping only applies to beam search; with num_beams=1 it does nothing. "
                "Remove early_stopping or set num_beams > 1"
            )
        if not self.do_sample and (self.temperature is not None or self.top_p is not None):
            raise ValueError("temperature and top_p need do_sample: true")
        return self


class ModelOptions(KindOptions):
    """Where a model's weights come from and how it is placed on a device."""

    model: str = Field(description="Local directory, or a Hugging Face model id looked up in the cache.")
    revision: str | None = Field(None, description="Model revision (branch, tag or commit).")
    cache_dir: str | None = Field(None, description="Hugging Face cache directory, if not the default.")
    allow_download: bool = Field(False, description="Allow fetching weights from the Hub.")
    trust_remote_code: bool = Field(False, description="Run the checkpoint's own Python code.")
    device: Literal["cuda", "cpu"] = Field("cuda", description="Where the model runs.")
    gpu: int = Field(0, ge=0, description="CUDA device index (device: cuda).")
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = Field("bfloat16", description="Weights dtype.")
    quantization: Literal["none", "4bit", "8bit"] = Field(
        "none", description="bitsandbytes quantisation of the language model."
    )
    generation: GenerationOptions = Field(default_factory=GenerationOptions, description="Generation parameters.")
    constrained: bool | None = Field(
        None,
        description="Generate only text that fits the answer's JSON Schema, so every answer parses and ends "
        "inside max_new_tokens (which must then leave room for a whole answer, about 80 tokens). null (the "
        "default): on wherever it works, which is everywhere but beam search and remote code; true: on, and "
        "refused where it cannot be; false: off.",
    )

    @model_validator(mode="after")
    def _constraint_supported(self) -> ModelOptions:
        reason = self._unconstrainable()
        if reason and self.constrained:
            raise ValueError(f"constrained: true {reason}; set constrained: false or leave it out")
        return self

    def _unconstrainable(self) -> str | None:
        if self.generation.num_beams > 1:
            return "does not work with beam search (num_beams > 1)"
        if self.trust_remote_code:
            return "needs a transformers-native checkpoint (remote code generates through its own chat())"
        return None

    @property
    def constrains(self) -> bool:
        """Whether this tier's generation is constrained: unless switched off, wherever it works."""
        return self.constrained is not False and self._unconstrainable() is None


class OcrRulesOptions(KindOptions):
    """Tesseract OCR and hand-written rules: no model, CPU only."""

    kind: Literal["ocr_rules"] = "ocr_rules"
    ocr: OcrOptions = Field(default_factory=OcrOptions, description="How pages are read (engine, language, ...).")
    date_order: DateOrder = Field(
        "auto",
        description="How numeric dates are read: 'auto' infers day- or month-first from the document "
        "(impossible days, currency, country cues); 'dmy', 'mdy' or 'ymd' fix the order.",
    )
    reread_psm: list[Annotated[int, Field(ge=0, le=13)]] = Field(
        default_factory=lambda: [11],
        description="When merchant, date or total is missing, the document is read again in these page "
        "segmentation modes, in order, and each reading fills only what is still missing ([]: never).",
    )


class EInvoiceOptions(KindOptions):
    """E-invoice XML embedded in a PDF (ZUGFeRD, Factur-X, XRechnung; CII or UBL), read exactly."""

    kind: Literal["einvoice"] = "einvoice"


class _NativeOnly(ModelOptions):
    """A model transformers implements itself: there is no remote code to trust."""

    @model_validator(mode="after")
    def _no_remote_code(self) -> _NativeOnly:
        if self.trust_remote_code:
            raise ValueError(
                "trust_remote_code: this backend uses transformers' own model class and never runs "
                "checkpoint code; remove trust_remote_code"
            )
        return self


class VisionOptions(ModelOptions):
    """A model that sees page images, one page per generation."""

    pages_read: int = Field(
        2,
        ge=1,
        le=20,
        description="Most pages of a document read, one generation each: the first, the last, then the ones "
        "between, stopping once merchant, date and total are found. The tier's timeout_s covers them all.",
    )


class InternVLOptions(VisionOptions):
    """InternVL3: native transformers "-hf" checkpoints, or the original remote-code ones when trusted."""

    kind: Literal["internvl3"] = "internvl3"
    max_tiles: int = Field(12, ge=1, le=40, description="Most 448-px tiles an image is cut into.")


class LlamaVisionOptions(_NativeOnly, VisionOptions):
    """Llama 3.2 Vision (Mllama), whole on one GPU, with generation parameters made CUDA-safe."""

    kind: Literal["llama_vision"] = "llama_vision"


class OcrLlmOptions(_NativeOnly):
    """Tesseract OCR text into a text-only Llama 3.2 Instruct."""

    kind: Literal["ocr_llm"] = "ocr_llm"
    ocr: OcrOptions = Field(default_factory=OcrOptions, description="How pages are read (engine, language, ...).")
    max_ocr_chars: int = Field(
        6000, ge=100, le=100_000, description="OCR text beyond this many characters is cut before prompting."
    )


class FaultyOptions(KindOptions):
    """Injects faults for tests and chaos drills, and otherwise answers like ``answer_with``."""

    kind: Literal["faulty"] = "faulty"
    faults: dict[FaultMode, float] = Field(
        default_factory=dict, description="Probability of each fault mode per call (0..1)."
    )
    seed: int | None = Field(None, description="Seed for the fault draws (per process).")
    hang_s: Seconds = Field(3600.0, gt=0, description="How long a 'hang' blocks.")
    slow_s: Seconds = Field(0.5, ge=0, description="Extra latency of a 'slow' call.")
    startup_s: Seconds = Field(0.0, ge=0, description="Extra time spent in load().")
    fail_load: str | None = Field(
        None, description="Make load() fail with an OSError of this message (e.g. a missing-weights text)."
    )
    triggers: dict[str, FaultMode] = Field(
        default_factory=dict,
        description="Documents that always trigger a fault: sha256 (or a prefix of at least 8 hex digits) to "
        "fault mode. Checked before the random draws; models poison inputs deterministically.",
    )
    cuda: Literal["auto", "off", "on"] = Field(
        "auto",
        description="Real CUDA faults: 'on' makes sticky_cuda a real device-side assert (an out-of-range gather "
        "on the GPU) and cuda_oom a real allocation failure; 'auto' does so where an NVIDIA GPU is present; "
        "'off' simulates both without importing torch (the same error texts).",
    )
    exit_code: int = Field(3, ge=0, le=255, description="Exit status of the 'exit' fault.")
    imports: list[str] = Field(
        default_factory=list,
        description="Modules imported at start-up, to model a real backend's import cost (e.g. ['torch']).",
    )
    answer_with: Literal["fixed", "ocr_rules"] = Field(
        "fixed", description="Where a fault-free call's answer comes from."
    )
    fields: dict[str, str] = Field(
        default_factory=lambda: {"merchant": "FAULTY MART", "date": "2024-01-31", "total": "12.50"},
        description="The answer for answer_with: fixed.",
    )
    confidence: dict[str, Annotated[float, Field(ge=0, le=1)]] = Field(
        default_factory=dict,
        description="The confidence of each field of the fixed answer (a field left out has none): to drive "
        "accept thresholds and the merge in tests and drills.",
    )

    @field_validator("faults")
    @classmethod
    def _probabilities(cls, faults: dict[str, float]) -> dict[str, float]:
        bad = {mode: p for mode, p in faults.items() if not 0 <= p <= 1}
        if bad:
            raise ValueError(f"fault probabilities must lie in 0..1, got {bad}")
        if sum(faults.values()) > 1 + 1e-9:
            raise ValueError("fault probabilities must add up to at most 1")
        return faults

    @field_validator("triggers")
    @classmethod
    def _digests(cls, triggers: dict[str, str]) -> dict[str, str]:
        short = [key for key in triggers if len(key) < 8 or not all(c in "0123456789abcdef" for c in key)]
        if short:
            raise ValueError(f"triggers must be sha256 hex digests or prefixes of at least 8 digits, got {short}")
        return triggers
