"""A document as backends see it: decoded, validated pages and the identity of the input."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from PIL import Image

from backends.documents.textlayer import PageText


@dataclass(frozen=True)
class EmbeddedFile:
    """A file embedded in a PDF (an e-invoice's XML): its name, and its bytes unless it could not be
    read within the size limit (``problem`` says why)."""

    name: str
    data: bytes | None
    problem: str | None = None


@dataclass(frozen=True)
class Document:
    """One input, ready for a backend: pages are RGB images, already checked for size and sanity.

    ``sha256`` identifies the input bytes (not the path): quarantine, resume and logs key on it.
    A PDF's pages may render on first access (``backends.documents.pdf.LazyPages``): a page with a usable
    text layer (``text_layer[i]``, None for a scanned page) is never rendered unless a tier looks
    at its image. ``attachments`` are the XML files a PDF embeds (e-invoices).

    ``keep_text`` asks the backends for the text they read (``Extraction.text``): off by default,
    set only by a caller that needs it (``docroute eval``'s ceiling). No backend writes it anywhere.
    """

    sha256: str
    pages: Sequence[Image.Image]
    media_type: str
    source: str
    size_bytes: int
    #: The 1-based numbers in the file of ``pages`` when only some were read (a long PDF); None: all.
    page_numbers: tuple[int, ...] | None = None
    #: How many pages the file has, when more than ``pages`` (None: as many as ``pages``).
    pages_total: int | None = None

    text_layer: tuple[PageText | None, ...] = ()
    attachments: tuple[EmbeddedFile, ...] = ()
    keep_text: bool = False

    @property
    def pages_read(self) -> tuple[int, ...]:
        """The 1-based numbers in the file of the pages held here."""
        return self.page_numbers if self.page_numbers is not None else tuple(range(1, len(self.pages) + 1))

    def text_if_asked(self, *texts: str) -> str | None:
        """The texts a backend read, pages apart by a blank line, when this document asks; else None."""
        return "\n\n".join(texts) if self.keep_text else None

    def page_document(self, index: int) -> Document:
        """Page ``index`` alone, as a one-page document (for reading one page with OCR)."""
        return replace(
            self,
            pages=(self.pages[index],),
            page_numbers=(self.pages_read[index],),
            pages_total=self.pages_total or len(self.pages),
            text_layer=(),
            attachments=(),
        )

    def extras_to_wire(self) -> dict[str, Any]:
        """The text layers and attachments as plain data, beside the pages on a worker's pipe."""
        return {
            "text_layer": [layer.to_wire() if layer else None for layer in self.text_layer],
            "attachments": [(a.name, a.data, a.problem) for a in self.attachments],
            "keep_text": self.keep_text,
        }

    @staticmethod
    def extras_from_wire(header: dict[str, Any]) -> dict[str, Any]:
        """``extras_to_wire``'s data as ``Document`` keyword arguments."""
        return {
            "text_layer": tuple(PageText.from_wire(x) if x else None for x in header.get("text_layer", ())),
            "attachments": tuple(EmbeddedFile(*row) for row in header.get("attachments", ())),
            "keep_text": bool(header.get("keep_text", False)),
        }

    def to_wire(self) -> tuple[dict[str, Any], list[bytes]]:
        """A header of plain data and one raw buffer per page, for a worker's pipe."""
        header = {
            "sha256": self.sha256,
            "media_type": self.media_type,
            "source": self.source,
            "size_bytes": self.size_bytes,
            "pages": [{"mode": p.mode, "size": p.size} for p in self.pages],
            "page_numbers": None if self.page_numbers is None else list(self.page_numbers),
            "pages_total": self.pages_total,
            **self.extras_to_wire(),
        }
        return header, [p.tobytes() for p in self.pages]

    @classmethod
    def from_wire(cls, header: dict[str, Any], buffers: list[bytes]) -> Document:
        pages = tuple(
            Image.frombytes(spec["mode"], tuple(spec["size"]), buf)
            for spec, buf in zip(header["pages"], buffers, strict=True)
        )
        return cls(
            sha256=header["sha256"],
            pages=pages,
            media_type=header["media_type"],
            source=header["source"],
            size_bytes=header["size_bytes"],
            page_numbers=None if header.get("page_numbers") is None else tuple(header["page_numbers"]),
            pages_total=header.get("pages_total"),
            **cls.extras_from_wire(header),
        )
