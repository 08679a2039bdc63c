"""What answers a document: the backend protocol, its registry, and the backends themselves.

Nothing here imports ``router``. Model code (torch, transformers) is imported only inside a
backend's ``load``, so importing this package stays cheap.
"""

from backends.documents.document import Document
from backends.protocol import Backend, BaseBackend, Extraction
from backends.schema import FIELD_NAMES, LineItem, ReceiptFields

__all__ = ["FIELD_NAMES", "Backend", "BaseBackend", "Document", "Extraction", "LineItem", "ReceiptFields"]
