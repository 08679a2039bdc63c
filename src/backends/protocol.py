"""The backend protocol: what answers a document.

A backend is created from its options, ``load``-ed once (in a worker process for model tiers),
asked to ``extract`` any number of documents, and ``close``-d. ``preflight`` is a cheap check the
router runs before spending a process on it: it must not import torch or transformers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

from backends.documents.document import Document
from backends.schema import ReceiptFields


@dataclass
class Extraction:
    """A backend's answer: validated fields plus metadata about how they were produced.

    ``meta`` holds counts, timings, model ids and warnings, never document text: it is logged.
    ``text`` is the text the backend read its answer from (OCR, text layer), filled only when the
    document asks (``Document.keep_text``, see ``Document.text_if_asked``); None otherwise. Never logged.
    """

    fields: ReceiptFields
    meta: dict[str, Any] = field(default_factory=dict)
    text: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"fields": self.fields.model_dump(), "meta": self.meta, "text": self.text}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Extraction:
        fields = ReceiptFields.model_validate(data["fields"])
        return cls(fields=fields, meta=dict(data["meta"]), text=data.get("text"))


@runtime_checkable
class Backend(Protocol):
    kind: ClassVar[str]
    #: Whether the backend may touch CUDA, so must run in a worker process by default.
    uses_gpu: ClassVar[bool]

    def load(self) -> None: ...

    def extract(self, document: Document) -> Extraction: ...

    def close(self) -> None: ...


class BaseBackend:
    """Defaults for the protocol's optional parts."""

    kind: ClassVar[str] = ""
    uses_gpu: ClassVar[bool] = False

    @classmethod
    def preflight(cls, options: Any) -> str | None:
        """Why this backend cannot run here (e.g. weights not found), or None. Must be cheap."""
        return None

    @classmethod
    def declines(cls, options: Any, document: Document) -> str | None:
        """Why this backend does not read ``document`` at all (not its kind: a PDF without e-invoice
        XML for the e-invoice reader), or None. Cheap, and a fact about the document, not a failure:
        the router skips the tier as ``not_applicable``."""
        return None

    def load(self) -> None:
        return None

    def close(self) -> None:
        return None
