"""What answers a document: the backend protocol, its registry, and the backends themselves.

Nothing here imports ``router``. Model code (torch, transformers) is imported only inside a
backend's ``load``, so importing this package stays cheap.

Layers, high to low (import-linter contracts in pyproject.toml, see docs/architecture.md):
``testing``, ``registry``, ``models`` | ``einvoice``, ``fields``, ``ocr``, ``protocol``, ``documents``, ``kinds``,
``options`` | ``schema`` | ``errors``, ``normalize``. Imported by ``router`` (the registry, the protocol, the
document and the schema) and by users who write a backend.
"""

from backends.documents.document import Document
from backends.protocol import Backend, BaseBackend, Extraction
from backends.schema import FIELD_NAMES, LineItem, ReceiptFields

__all__ = ["FIELD_NAMES", "Backend", "BaseBackend", "Document", "Extraction", "LineItem", "ReceiptFields"]
