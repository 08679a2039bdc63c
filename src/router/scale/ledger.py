"""The ledger of documents begun but not finished, kept in the output folder (``_ledger/``).

An actor notes each document before routing it and removes the note when the router returns. A
note that is still there when the document comes round again means the router process died while
working on it (with others in flight, possibly because of one of them). Such a suspect is routed
alone, so a document that crashes the process again is the only one in flight when it does; once it
has crashed the process ``crash_limit`` times it is not routed again but gets one failed line
(``worker_crashed``). Without this, Ray retries the batch on a fresh actor forever.

Notes live on the shared output folder, so they survive the actor, its node and the driver.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from pathlib import Path


class Ledger:
    def __init__(self, out_dir: Path):
        self.folder = out_dir / "_ledger"
        self.folder.mkdir(parents=True, exist_ok=True)

    def crashes(self, identity: str) -> int:
        """How many times the router process died with this document in flight."""
        try:
            return int(self._note(identity).read_text() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def begin(self, identity: str) -> None:
        """Note the document as begun (counting the earlier begins that never finished)."""
        note = self._note(identity)
        temporary = note.with_name(f".{note.name}.{uuid.uuid4().hex}")
        temporary.write_text(str(self.crashes(identity) + 1))
        os.replace(temporary, note)

    def finish(self, identity: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._note(identity).unlink()

    def _note(self, identity: str) -> Path:
        return self.folder / hashlib.sha256(identity.encode()).hexdigest()[:40]
