"""A backend that injects faults, for tests and chaos drills (policy kind ``faulty``).

Each call first checks the process's (simulated or real) CUDA context, then picks a fault: a
document listed in ``triggers`` always gets its mode, otherwise the modes in ``faults`` are drawn
with their probabilities from a per-process generator seeded by ``seed`` and the process's name (a
pool names its n-th worker ``docroute-TIER-n``), so each replacement worker draws its own faults,
the same ones on every run: a fault drawn first by every new process would recycle it forever. Without
a fault it answers like ``answer_with`` says. The modes model what real model backends do:

- ``sticky_cuda``: a device-side assert. Afterwards *every* call in the process fails with the same
  error until the process is replaced. With CUDA (``cuda: on``, or ``auto`` on a GPU machine) this is
  a real out-of-range gather on the GPU, so the context is really poisoned; without, a process-global
  flag and the real error text model it (so never inject it into a backend running in the router's
  own process: like the real thing, nothing but a new process recovers).
- ``cuda_oom``: out of GPU memory (a real failed allocation with CUDA); not sticky.
- ``hang``: blocks for ``hang_s`` (only a timeout and a kill end it).
- ``segfault``: a real SIGSEGV (a read of address 0). ``exit``: ``os._exit(exit_code)``.
- ``garbage``: output that fails the schema (pydantic ``ValidationError``: ``invalid_output``).
- ``slow``: answers after ``slow_s`` more.

``extract_batch`` answers several documents in one call, as a model backend's batched ``generate``
does: a fault of the process or the device (``sticky_cuda``, ``cuda_oom``, ``hang``, ``segfault``,
``exit``) drawn for any document of the batch hits the shared call, so every document of the batch
fails with it; ``garbage`` fails its own document only; ``slow`` delays the whole batch.
"""

from __future__ import annotations

import ctypes
import importlib
import multiprocessing
import os
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from backends.documents.document import Document
from backends.errors import BackendUnavailable
from backends.options import FaultyOptions, OcrRulesOptions
from backends.protocol import BaseBackend, Extraction
from backends.schema import ReceiptFields

#: What PyTorch raises after a device-side assert (torch 2.8+: ``torch.AcceleratorError``).
DEVICE_ASSERT = (
    "CUDA error: device-side assert triggered\n"
    "CUDA kernel errors might be asynchronously reported at some other API call, so the stacktrace "
    "below might be incorrect.\nFor debugging consider passing CUDA_LAUNCH_BLOCKING=1\n"
    "Compile with `TORCH_USE_CUDA_DSA` to enable device-side assertions."
)
OOM = (
    "CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 79.19 GiB of which "
    "1.06 GiB is free. Of the allocated memory 75.80 GiB is allocated by PyTorch"
)
CUDA_MODES = frozenset({"sticky_cuda", "cuda_oom"})
#: Faults that hit the shared call of a batch (and so every document in it), in order of precedence.
SHARED_MODES = ("segfault", "exit", "sticky_cuda", "cuda_oom", "hang", "slow")

#: The simulated CUDA context of this process: once poisoned, poisoned until the process exits.
_poisoned = False


class AcceleratorError(RuntimeError):
    """Stands in for ``torch.AcceleratorError`` where there is no GPU."""


class OutOfMemoryError(RuntimeError):
    """Stands in for ``torch.OutOfMemoryError`` where there is no GPU."""


class FaultyBackend(BaseBackend):
    kind = "faulty"
    uses_gpu = False

    def __init__(self, options: FaultyOptions):
        self.options = options
        self._rng = random.Random(_process_seed(options.seed))
        self._cuda = False
        self._calls = 0
        self._delegate: Any = None

    @classmethod
    def preflight(cls, options: FaultyOptions) -> str | None:
        if options.answer_with != "ocr_rules":
            return None
        from backends import registry

        try:
            return registry.preflight(OcrRulesOptions())
        except ImportError as exc:
            return f"answer_with: ocr_rules needs the ocr_rules backend: {exc}"

    @classmethod
    def warm_imports(cls, options: FaultyOptions) -> None:
        """Import what load() needs (workers time this apart from load)."""
        for name in options.imports:
            importlib.import_module(name)

    def load(self) -> None:
        self.warm_imports(self.options)
        if self.options.startup_s:
            time.sleep(self.options.startup_s)
        if self.options.fail_load:
            raise OSError(self.options.fail_load)
        self._cuda = _resolve_cuda(self.options)
        if self.options.answer_with == "ocr_rules":
            from backends import registry

            self._delegate = registry.create(OcrRulesOptions())
            self._delegate.load()

    def extract(self, document: Document) -> Extraction:
        self._calls += 1
        self._check_context()
        mode = self._choose(document)
        if mode is not None:
            self._inject(mode)
        return self._answer(document, mode, {})

    def extract_batch(self, documents: Sequence[Document]) -> list[Extraction | Exception]:
        """One answer or one error per document; a shared fault is raised, for the whole batch."""
        self._calls += 1
        self._check_context()
        modes = [self._choose(document) for document in documents]
        shared = next((mode for mode in SHARED_MODES if mode in modes), None)
        if shared is not None:
            self._inject(shared)
        outcomes: list[Extraction | Exception] = []
        for document, mode in zip(documents, modes, strict=True):
            try:
                if mode == "garbage":
                    self._inject(mode)
                outcomes.append(self._answer(document, shared or mode, {"batch_size": len(documents)}))
            except Exception as exc:  # a document's own failure (garbage): its error, the others answer
                outcomes.append(exc)
        return outcomes

    def _answer(self, document: Document, mode: str | None, extra: dict[str, Any]) -> Extraction:
        meta = {**self._meta(mode), "document": document.sha256[:16], **extra}
        if self._delegate is not None:
            answer: Extraction = self._delegate.extract(document)
            answer.meta.update(meta)
            return answer
        fields = {**self.options.fields, "confidence": self.options.confidence}
        return Extraction(ReceiptFields.model_validate(fields), meta)

    def close(self) -> None:
        if self._delegate is not None:
            self._delegate.close()

    # -- faults --------------------------------------------------------------------------------

    def _choose(self, document: Document) -> str | None:
        for prefix, mode in self.options.triggers.items():
            if document.sha256.startswith(prefix):
                return mode
        draw = self._rng.random()
        for mode, probability in self.options.faults.items():
            if draw < probability:
                return mode
            draw -= probability
        return None

    def _inject(self, mode: str) -> None:
        if mode == "sticky_cuda":
            self._device_assert()
        elif mode == "cuda_oom":
            self._out_of_memory()
        elif mode == "hang":
            time.sleep(self.options.hang_s)
        elif mode == "slow":
            time.sleep(self.options.slow_s)
        elif mode == "segfault":
            ctypes.string_at(0)  # a real invalid read: SIGSEGV
        elif mode == "exit":
            os._exit(self.options.exit_code)
        elif mode == "garbage":
            ReceiptFields.model_validate({"merchant": "\ufffd", "date": "31/31/2024", "total": "tw3lve"})

    def _check_context(self) -> None:
        """A poisoned context fails every call, as a real one does."""
        if self._cuda:
            import torch

            torch.ones(1, device="cuda").add_(1).sum().item()
        elif _poisoned:
            raise AcceleratorError(DEVICE_ASSERT)

    def _device_assert(self) -> None:
        global _poisoned
        if not self._cuda:
            _poisoned = True
            raise AcceleratorError(DEVICE_ASSERT)
        import torch

        source = torch.zeros(8, device="cuda")
        index = torch.full((1,), 1 << 20, dtype=torch.long, device="cuda")
        torch.gather(source, 0, index).sum().item()
        torch.cuda.synchronize()
        raise RuntimeError("an out-of-range gather on the GPU did not assert")

    def _out_of_memory(self) -> None:
        if not self._cuda:
            raise OutOfMemoryError(OOM)
        import torch

        torch.empty(1 << 50, dtype=torch.uint8, device="cuda")

    def _meta(self, mode: str | None) -> dict[str, Any]:
        return {"backend": "faulty", "call": self._calls, "pid": os.getpid(), "fault": mode}


def _process_seed(seed: int | None) -> int | str | None:
    """No seed: fresh draws. In the main process the seed itself; in a worker, the seed and its name."""
    process = multiprocessing.current_process()
    if seed is None or multiprocessing.parent_process() is None:
        return seed
    return f"{seed}:{process.name}"


def _resolve_cuda(options: FaultyOptions) -> bool:
    """Whether CUDA faults are real here. Imports torch only when they may be."""
    if options.cuda == "off":
        return False
    modes = set(options.faults) | set(options.triggers.values())
    if options.cuda == "auto" and not (modes & CUDA_MODES and _nvidia_present()):
        return False
    import torch

    if not torch.cuda.is_available():
        if options.cuda == "on":
            raise BackendUnavailable("faulty backend: cuda: on, but CUDA is not available here")
        return False
    torch.zeros(1, device="cuda")  # create the context at load, as a model backend does
    return True


def _nvidia_present() -> bool:
    return Path("/proc/driver/nvidia/version").exists() or Path("/dev/nvidiactl").exists()
