"""The drill's inputs: rendered receipts, each request's bytes unique, and bad inputs mixed in.

A few receipts are rendered once and encoded as PNG; request ``i`` sends one of them with a
``tEXt`` chunk naming ``i`` added before ``IEND``, so every request is a distinct, valid PNG with
its own sha256 (quarantine keys on it: a repeated document would be quarantined for good after one
crash and the drill would stop exercising that tier). With ``bad_input_rate``, some requests send
a file of the bad-input corpus instead (``router.drill.corpus``); those must be refused as
``bad_input``, and the good cases of the corpus must be answered.
"""

from __future__ import annotations

import random
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from router.drill.corpus import Case, write_corpus
from router.drill.receipts import encode, receipt

RECEIPTS = 8


@dataclass(frozen=True)
class DrillInput:
    """What request ``index`` sends, and what it must get back."""

    index: int
    source: bytes | Path
    name: str
    expect_bad_input: bool  # True: must be refused as bad_input; False: must not be


class DrillInputs:
    def __init__(self, *, seed: int = 0, bad_input_rate: float = 0.0, corpus_dir: Path | None = None):
        rng = random.Random(seed)
        self._receipts = [encode(receipt(rng)) for _ in range(RECEIPTS)]
        self._bad_rate = bad_input_rate
        self._seed = seed
        self.cases: list[Case] = []
        if bad_input_rate > 0:
            if corpus_dir is None:
                raise ValueError("bad inputs need a corpus directory")
            self.cases = write_corpus(corpus_dir)

    def __call__(self, index: int) -> DrillInput:
        """The input of request ``index``: the same for the same seed, whichever thread asks."""
        rng = random.Random(f"{self._seed}:{index}")
        if self.cases and rng.random() < self._bad_rate:
            case = rng.choice(self.cases)
            return DrillInput(index, case.path, f"corpus/{case.name}", expect_bad_input=case.bad)
        data = with_text_chunk(self._receipts[index % len(self._receipts)], f"drill request {index}")
        return DrillInput(index, data, f"receipt-{index}.png", expect_bad_input=False)


def with_text_chunk(png: bytes, text: str) -> bytes:
    """``png`` with a ``tEXt`` chunk holding ``text`` inserted before its final ``IEND`` chunk."""
    body = b"Comment\x00" + text.encode("latin-1")
    chunk = struct.pack(">I", len(body)) + b"tEXt" + body + struct.pack(">I", zlib.crc32(b"tEXt" + body))
    end = png.rindex(b"IEND") - 4
    return png[:end] + chunk + png[end:]
