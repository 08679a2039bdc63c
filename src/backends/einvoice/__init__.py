"""The e-invoice tier: fields read from the XML a PDF embeds (Factur-X/ZUGFeRD CII, XRechnung UBL),
parsed with defusedxml. Imported only by the registry (lazily, by string); imports ``fields``, ``documents``
and the top of ``backends``."""
