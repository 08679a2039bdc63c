"""What a document is: the decoded, validated pages of one input (``document``), a PDF's pages
rendered on demand (``pdf``) and its text layer (``textlayer``). The bottom of ``backends`` above the value
types: everything that reads a document may import it; it imports nothing of docroute but ``backends.errors``
and ``backends.options``."""
