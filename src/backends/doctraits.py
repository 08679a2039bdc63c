"""What a document is, known before any tier reads it: the traits a policy may skip a tier by.

- ``e_invoice``: it embeds e-invoice XML (ZUGFeRD / Factur-X / XRechnung / UBL; the einvoice tier's test);
- ``born_digital``: a PDF whose every page read has a usable text layer;
- ``photo``: a camera image (JPEG, HEIC, WebP: the formats phones write), not from a PDF;
- ``scan``: any other page image (PNG, TIFF, BMP, GIF) or a PDF page without a text layer.

Cheap by design (the container format and what the reader already found), so they are heuristics:
a scanner that writes JPEG counts as a photo. What a trait costs a tier is measured, not assumed:
skip a tier for a trait only where an eval run shows it loses there.
"""

from __future__ import annotations

from typing import Literal, get_args

from backends.documents.document import Document

Trait = Literal["e_invoice", "born_digital", "photo", "scan"]
TRAITS: tuple[str, ...] = get_args(Trait)
CAMERA_TYPES = frozenset({"image/jpeg", "image/heic", "image/heif", "image/webp"})


def traits(document: Document) -> frozenset[str]:
    """The document's traits (see the module's docstring)."""
    from backends import registry
    from backends.options import EInvoiceOptions

    found: set[str] = set()
    if registry.declines(EInvoiceOptions(), document) is None:
        found.add("e_invoice")
    if document.media_type == "application/pdf":
        layers = document.text_layer
        found.add("born_digital" if layers and all(layers) else "scan")
    else:
        found.add("photo" if document.media_type in CAMERA_TYPES else "scan")
    return frozenset(found)
