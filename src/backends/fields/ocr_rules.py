"""OCR + rules: no model, CPU only, the answer of last resort.

``extract`` reads every page with the policy's OCR engine (``backends.ocr.engine``: Tesseract or RapidOCR),
or from its text layer where a PDF page has one (``backends.documents.textlayer``), and the fields off the
text with keyword rules (``backends.fields.rules``), each field with a confidence that the rules'
cross-checks lower where the document contradicts them. Too little text is ``InvalidOutput`` (the
router escalates or reports it), never an empty answer. The metadata holds counts, confidences and
timings, never text.
"""

from __future__ import annotations

import time
from typing import Any

from backends.documents.document import Document
from backends.errors import InvalidOutput
from backends.fields.layout import PageTable
from backends.fields.rules import read_receipt
from backends.fields.scorer import SCORED_FIELDS, FieldScorer, field_scorer
from backends.ocr.engine import INSTALL_HINT, language_hint, missing_languages, ocr_document, tesseract_cmd
from backends.ocr.reader import read_document
from backends.ocr.result import OcrPage
from backends.options import OcrRulesOptions
from backends.protocol import BaseBackend, Extraction
from backends.schema import CORE_FIELDS, ReceiptFields


class OcrRulesBackend(BaseBackend):
    kind = "ocr_rules"
    uses_gpu = False

    def __init__(self, options: OcrRulesOptions):
        self.options = options

    @classmethod
    def preflight(cls, options: Any) -> str | None:
        """Why this backend cannot run here: no tesseract binary, or no data for the languages; for
        RapidOCR, its packages missing."""
        if options.ocr.engine == "rapidocr":
            from backends.ocr import rapid as ocr_rapid

            return None if ocr_rapid.available() else ocr_rapid.INSTALL_HINT
        if tesseract_cmd() is None:
            return INSTALL_HINT
        return language_hint(options.ocr.lang) if missing_languages(options.ocr.lang) else None

    def load(self) -> None:
        """Build the OCR engine now rather than on the first document (RapidOCR loads its models)."""
        field_scorer()  # a missing or corrupt model file is a start-up error naming it
        if self.options.ocr.engine == "rapidocr":
            from backends.ocr.rapid import engine

            engine(self.options.ocr.threads)

    def extract(self, document: Document) -> Extraction:
        page, sources = read_document(document, self.options.ocr, ocr_document)
        extraction = self.read_page(page, pages=len(document.pages), text_layer="ocr" not in sources)
        extraction.meta["page_sources"] = sources
        extraction.text = document.text_if_asked(page.text)
        if "ocr" not in sources:  # a text layer holds the exact characters: another OCR mode adds nothing
            return extraction
        return self.reread_if_incomplete(document, extraction)

    def reread_if_incomplete(self, document: Document, extraction: Extraction) -> Extraction:
        """``extraction`` with missing core fields filled by readings in ``reread_psm``.

        Page segmentation mode 6 reads most receipts best, but a receipt whose date or total sits
        apart from the columns (a stamp, a footer) often reads only in sparse mode (11).
        """
        fields, tried, filled, texts = extraction.fields, [], [], [extraction.text or ""]
        started = time.perf_counter()
        rereads = self.options.reread_psm if self.options.ocr.engine == "tesseract" else []
        for psm in rereads:
            if fields.present() >= CORE_FIELDS:
                break
            tried.append(psm)
            try:
                page, _ = read_document(document, self.options.ocr.model_copy(update={"psm": psm}), ocr_document)
            except InvalidOutput:  # too little text in this mode: the first reading stands
                continue
            fields, taken = fields.filled_from(self.read_page(page).fields)
            filled += taken
            texts.append(page.text)
        if not tried:
            return extraction
        meta = {**extraction.meta, "reread_psm": tried, "filled_by_reread": filled}
        meta |= {"reread_s": round(time.perf_counter() - started, 3)}
        return Extraction(fields, meta, document.text_if_asked(*texts))

    def read_page(self, page: OcrPage, *, pages: int = 1, text_layer: bool = False) -> Extraction:
        """The fields the rules read off an OCR page (what ``extract`` does after Tesseract), each
        core field's confidence the calibrated probability that it is right (``fields.scorer``)."""
        started = time.perf_counter()
        reading = read_receipt(
            [line.text for line in page.lines],
            [line.confidence for line in page.lines],
            date_order=self.options.date_order,
        )
        scorer = field_scorer()
        fields = calibrated(reading.fields, PageTable.from_lines(page.lines, text_layer=text_layer), scorer)
        meta = {
            "pages": pages,
            "ocr_chars": page.chars,
            "ocr_words": page.words,
            "ocr_lines": len(page.lines),
            "ocr_mean_confidence": round(page.mean_confidence, 1),
            "ocr_s": round(page.seconds, 3),
            "rules_s": round(time.perf_counter() - started, 4),
            "confidence_model": scorer.version,
            "engine": self.options.ocr.engine,
            "psm": self.options.ocr.psm,
            "lang": self.options.ocr.lang,
            "pages_rotated": page.rotated,
            "pages_enlarged": page.enlarged,
            **{f"rules_{key}": value for key, value in reading.notes.items()},
        }
        return Extraction(fields=fields, meta=meta)


def calibrated(fields: ReceiptFields, table: PageTable, scorer: FieldScorer) -> ReceiptFields:
    """``fields`` with the scorer's calibrated confidence for each core field it holds."""
    own = {str(name): value for name, value in fields.confidence.items()}
    answers: dict[str, tuple[str, float]] = {
        name: (value, own.get(name, 0.0)) for name in SCORED_FIELDS if (value := getattr(fields, name)) is not None
    }
    return fields.model_copy(update={"confidence": {**fields.confidence, **scorer.confidences(table, answers)}})
