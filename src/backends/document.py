"""A document as backends see it: decoded, validated pages and the identity of the input."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PIL import Image


@dataclass(frozen=True)
class Document:
    """One input, ready for a backend: pages are RGB images, already checked for size and sanity.

    ``sha256`` identifies the input bytes (not the path): quarantine, resume and logs key on it.
    """

    sha256: str
    pages: tuple[Image.Image, ...]
    media_type: str
    source: str
    size_bytes: int
    #: The 1-based numbers in the file of ``pages`` when only some were read (a long PDF); None: all.
    page_numbers: tuple[int, ...] | None = None
    #: How many pages the file has, when more than ``pages`` (None: as many as ``pages``).
    pages_total: int | None = None

    @property
    def pages_read(self) -> tuple[int, ...]:
        """The 1-based numbers in the file of the pages held here."""
        return self.page_numbers if self.page_numbers is not None else tuple(range(1, len(self.pages) + 1))

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
        )
