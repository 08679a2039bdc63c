"""A document's text for the OCR tiers: pages with a usable text layer as they are, the others through
the tier's OCR engine, each page in its place."""

from __future__ import annotations

import time
from collections.abc import Callable

from backends.documents.document import Document
from backends.documents.textlayer import PageText
from backends.errors import InvalidOutput
from backends.ocr.engine import check_length
from backends.ocr.result import OcrLine, OcrPage
from backends.options import OcrOptions

OcrFunction = Callable[[Document, OcrOptions], OcrPage]


def read_document(document: Document, options: OcrOptions, ocr: OcrFunction) -> tuple[OcrPage, list[str]]:
    """The document's text: text-layer pages as they are, the others through ``ocr`` (one page each).

    Returns the joined page (the length check applies to the whole, as in ``ocr_document``) and
    how each page was read, ``"text_layer"`` or ``"ocr"``. A document without text layers goes to
    ``ocr`` whole, exactly as before.
    """
    layers = document.text_layer
    if not any(layers):
        return ocr(document, options), ["ocr"] * len(document.pages)
    pages: list[OcrPage] = []
    sources: list[str] = []
    for index, layer in enumerate(layers):
        if layer is not None:
            pages.append(_as_ocr_page(layer))
            sources.append("text_layer")
            continue
        sources.append("ocr")
        try:
            pages.append(ocr(document.page_document(index), options))
        except InvalidOutput:  # a blank scanned page among text pages: the whole is checked below
            continue
    page = OcrPage.join(pages)
    check_length(page, options)
    return page, sources


def layer_text(document: Document) -> str:
    """The text of the document's text layers, pages apart by a blank line."""
    return "\n\n".join("\n".join(line.text for line in layer.lines) for layer in document.text_layer if layer)


def _as_ocr_page(layer: PageText) -> OcrPage:
    started = time.perf_counter()
    lines = tuple(
        OcrLine(ln.text, 100.0, round(ln.left), round(ln.top), round(ln.width), round(ln.height)) for ln in layer.lines
    )
    text = "\n".join(line.text for line in lines)
    words = sum(len(line.text.split()) for line in lines)
    seconds = layer.seconds + time.perf_counter() - started
    return OcrPage(text=text, mean_confidence=100.0, words=words, chars=len(text), lines=lines, seconds=seconds)
