"""From OCR lines to fields: the rules (``rules/``, one module per field), the shared post-processing
of any tier's answer (``postprocess/``: repetition cleanup, JSON repair, field coercion) and the OCR + rules
tier (``ocr_rules``), and the learned scorer that gives that tier's answers calibrated confidences: the page
as a table (``layout``), ``candidates``, the feature table (``features``), boosted ``trees`` read from JSON,
the ``verify`` columns, ``calibration`` and the run-time ``scorer``; ``training`` is imported only by
``scripts/train_fields.py`` and tests. May import ``ocr``, ``documents`` and the top of ``backends``;
imported by the tiers
(``models``, ``einvoice``) and the registry, never by ``ocr`` or ``documents``."""
