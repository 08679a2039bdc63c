"""INTERIM: stands in for ``backends.faulty`` (branch ``workers``) until it lands on main; then unused.

Implements the options main already has: ``fields``, ``faults`` drawn with ``seed`` (slow, garbage,
cuda_oom, sticky_cuda as raised errors), ``startup_s``, ``fail_load``.
"""

from __future__ import annotations

import importlib.util
import random
import time

from backends.base import Extraction
from backends.schema import ReceiptFields


class StandInFaulty:
    kind = "faulty"
    uses_gpu = False

    def __init__(self, options):
        self.options = options
        self._rng = random.Random(options.seed)

    @classmethod
    def preflight(cls, options):
        return None

    def load(self):
        time.sleep(self.options.startup_s)
        if self.options.fail_load:
            raise OSError(self.options.fail_load)

    def extract(self, document):
        draw = self._rng.random()
        for mode, probability in self.options.faults.items():
            if draw < probability:
                self._inject(mode)
                break
            draw -= probability
        return Extraction(ReceiptFields.model_validate(self.options.fields), {"backend": "faulty"})

    def _inject(self, mode):
        if mode == "slow":
            time.sleep(self.options.slow_s)
        elif mode == "garbage":
            ReceiptFields.model_validate({"date": "31/31/2024", "total": "tw3lve"})
        elif mode == "cuda_oom":
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        else:
            raise RuntimeError("CUDA error: device-side assert triggered")

    def close(self):
        return None


def install() -> None:
    """Point the registry's ``faulty`` kind here, unless the real backend exists."""
    if importlib.util.find_spec("backends.faulty") is not None:
        return
    from backends import registry

    registry.BACKENDS["faulty"] = "tests.router.faulty_standin:StandInFaulty"
