"""The ledger of documents begun whose lines are not yet written, kept in the output folder (``_ledger/``).

An actor notes each document before routing it, marks the note answered when the router returns,
and removes the notes of a batch once the batch's part is written. A note still there when the
document comes round again (Ray retries the batch of an actor that died) says what happened:

- *begun, not answered*: the router process died while working on it (with others in flight,
  possibly because of one of them). Such a suspect is routed alone, so a document that crashes the
  process again is the only one in flight when it does; once it has crashed the process
  ``crash_limit`` times it is not routed again but gets one failed line (``worker_crashed``).
  Without this, Ray retries the batch on a fresh actor forever.
- *answered*: its router was lost after answering it and before its batch's part was written, so
  its answer was lost too; it is routed again with the others, and the re-run is logged
  (``batch.rerun``, reason ``answered``) like the suspects' (reason ``in_flight``).

Notes live on the shared output folder, so they survive the actor, its node and the driver.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from collections.abc import Iterable
from pathlib import Path

#: The suffix a note is renamed to once its document was answered (one rename, no write).
ANSWERED = ".answered"


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

    def answered(self, identity: str) -> bool:
        """Whether a router answered this document but its batch's part was never written."""
        return self._answered(identity).exists()

    def begin(self, identity: str) -> None:
        """Note the document as begun (counting the earlier begins that never finished)."""
        note = self._note(identity)
        temporary = note.with_name(f".{note.name}.{uuid.uuid4().hex}")
        temporary.write_text(str(self.crashes(identity) + 1))
        os.replace(temporary, note)

    def finish(self, identity: str) -> None:
        """Mark the document answered: its line is in the actor's hands, not yet in a part."""
        with contextlib.suppress(FileNotFoundError):
            os.replace(self._note(identity), self._answered(identity))

    def written(self, identities: Iterable[str]) -> None:
        """The batch's part is written: its documents need no note."""
        for identity in identities:
            for note in (self._answered(identity), self._note(identity)):
                with contextlib.suppress(FileNotFoundError):
                    note.unlink()
                    break  # a document has one note or the other

    def _note(self, identity: str) -> Path:
        return self.folder / hashlib.sha256(identity.encode()).hexdigest()[:40]

    def _answered(self, identity: str) -> Path:
        return self._note(identity).with_suffix(ANSWERED)
