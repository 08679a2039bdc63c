"""What a document is, known before any tier reads it: the traits a policy may skip a tier by.

- ``e_invoice``: it embeds e-invoice XML (ZUGFeRD / Factur-X / XRechnung / UBL; the einvoice tier's test);
- ``born_digital``: a PDF whose every page read has a usable text layer;
- ``photo``: a camera image: in a format phones write (JPEG, HEIC, WebP), not from a PDF, and in
  colour (see ``colourful``);
- ``scan``: any other page image (PNG, TIFF, BMP, GIF, a grey JPEG) or a PDF page without a text layer.

Cheap by design (the container format, what the reader already found, one 96-pixel thumbnail), so
they are heuristics. Scanners write JPEG too, and camera metadata (EXIF) is no help: the photos of
the developers' data have none, stripped as most uploads are. What tells them apart is colour: a
scan is paper on white under even light, its pixels grey; a photo holds a table, a hand, a tinted
shadow. Measured on the developers' data (207 docs-dev, 150 sroie-dev documents), a JPEG page whose
pixels' chroma reaches COLOURFUL_CHROMA at the 90th percentile is a photo for 52 of 65 JPEG photos
and for 6 of 179 JPEG scans; either mistake costs a cheap tier's time, never an answer (the cascade
escalates a doubtful one). What a trait costs a tier is measured, not assumed: skip a tier for a
trait only where an eval run shows it loses there.
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np
from PIL import Image

from backends.documents.document import Document

Trait = Literal["e_invoice", "born_digital", "photo", "scan"]
TRAITS: tuple[str, ...] = get_args(Trait)
CAMERA_TYPES = frozenset({"image/jpeg", "image/heic", "image/heif", "image/webp"})
#: Chroma (max - min of a pixel's R, G, B, 0-255) that a tenth of a photo's pixels reach.
COLOURFUL_CHROMA = 20
THUMBNAIL_PX = 96


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
        camera = document.media_type in CAMERA_TYPES and bool(document.pages) and colourful(document.pages[0])
        found.add("photo" if camera else "scan")
    return frozenset(found)


def colourful(page: Image.Image) -> bool:
    """Whether a tenth of the page's pixels, on a thumbnail, carry a chroma of COLOURFUL_CHROMA or more."""
    factor = max(1, max(page.size) // (2 * THUMBNAIL_PX))  # a cheap box reduction first, then a filter
    thumbnail = page.reduce(factor) if factor > 1 else page.copy()
    thumbnail.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
    pixels = np.asarray(thumbnail.convert("RGB"), dtype=np.int16)
    chroma = pixels.max(axis=2) - pixels.min(axis=2)
    return bool(np.percentile(chroma, 90) >= COLOURFUL_CHROMA)
