"""From OCR lines to fields: the rules (``rules/``, one module per field), the shared post-processing
of any tier's answer (``postprocess/``: repetition cleanup, JSON repair, field coercion) and the OCR + rules
tier (``ocr_rules``). May import ``ocr``, ``documents`` and the top of ``backends``; imported by the tiers
(``models``, ``einvoice``) and the registry, never by ``ocr`` or ``documents``."""
