"""OCR engines behind one interface: ``engine`` (``ocr_page`` / ``ocr_document``: the engine a policy
picks, upright and at a readable scale), Tesseract, RapidOCR (``rapid``), their result (``result``: lines with
boxes and confidences) and ``reader`` (a page's text layer where usable, else OCR). May import
``backends.documents`` and the top of ``backends``; imported by the tiers that read text (``fields``,
``models.ocr_llm``, ``einvoice``)."""
