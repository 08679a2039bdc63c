"""The signature table: how a failure's type and message map to an error class.

Signatures are data, matched in order, most specific first: a CUDA kernel assertion mentions
"index out of bounds" too, but it is a sticky error, not a bad index. The real texts these patterns
come from are in ``tests/router/failures/test_signatures.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from router.failures.errors import ErrorClass, ErrorInfo, Failure

C = ErrorClass


@dataclass(frozen=True)
class Signature:
    """One row of the table. ``types`` match the exception's type or any of its bases (bare or
    qualified names); ``pattern`` is searched in the message. A row with both needs both."""

    name: str
    error_class: ErrorClass
    pattern: str | None = None
    types: tuple[str, ...] = ()

    def matches(self, info: ErrorInfo) -> bool:
        if self.types and not set(self.types) & set(info.names()):
            return False
        if self.pattern is not None:
            return re.search(self.pattern, info.message, re.IGNORECASE | re.MULTILINE) is not None
        return bool(self.types)


SIGNATURES: tuple[Signature, ...] = (
    # Failures the worker pool observes, sent as exceptions by name (router.workers.protocol).
    Signature("worker_signal", C.WORKER_CRASHED, types=("WorkerCrashed",)),
    Signature("attempt_timeout", C.TIMEOUT, types=("AttemptTimeout",)),
    Signature("worker_start_failed", C.UNAVAILABLE, types=("WorkerStartFailed",)),
    # Sticky CUDA errors: the context is gone, only a new process recovers (CUDA errors 700-719).
    Signature("cuda_kernel_assert", C.STICKY_CUDA, r"\.cu:\d+: .*Assertion .* failed"),
    Signature("cuda_device_assert", C.STICKY_CUDA, r"device-side assert triggered"),
    Signature("cuda_illegal_address", C.STICKY_CUDA, r"an illegal memory access was encountered"),
    Signature("cuda_launch_failure", C.STICKY_CUDA, r"unspecified launch failure"),
    Signature(
        "cuda_sticky_other",
        C.STICKY_CUDA,
        r"CUDA error: (misaligned address|an illegal instruction was encountered|"
        r"hardware stack error|operation not supported on global/shared address space|"
        r"invalid program counter|uncorrectable ECC error|unspecified launch failure)",
    ),
    # cuBLAS / cuDNN: allocation failures are memory pressure, the rest poison the context.
    Signature("cublas_alloc_failed", C.CUDA_OOM, r"CUBLAS_STATUS_ALLOC_FAILED"),
    Signature("cublas_error", C.STICKY_CUDA, r"CUBLAS_STATUS_[A-Z_]+"),
    Signature("cudnn_error", C.STICKY_CUDA, r"CUDNN_STATUS_(EXECUTION_FAILED|INTERNAL_ERROR)"),
    Signature("nccl_error", C.STICKY_CUDA, r"\bNCCL error\b|ncclUnhandledCudaError|ncclSystemError"),
    # Out of memory: not sticky.
    Signature("cuda_oom_type", C.CUDA_OOM, types=("OutOfMemoryError",)),
    Signature("cuda_oom", C.CUDA_OOM, r"CUDA out of memory|out of memory on device"),
    # Out-of-range indices caught on the CPU (or by a preflight check) before they poison a GPU.
    Signature("index_out_of_bounds", C.BAD_INDEX, r"index -?\d+ is out of bounds for dimension"),
    Signature("index_out_of_range", C.BAD_INDEX, r"index out of range in self"),
    Signature("preflight_index", C.BAD_INDEX, types=("IndexOutOfVocabulary",)),
    # The tier cannot run on this machine.
    Signature("backend_unavailable", C.UNAVAILABLE, types=("BackendUnavailable",)),
    Signature(
        "no_cuda",
        C.UNAVAILABLE,
        r"Torch not compiled with CUDA enabled|Found no NVIDIA driver|No CUDA GPUs are available|"
        r"CUDA driver version is insufficient",
    ),
    Signature(
        "missing_weights",
        C.UNAVAILABLE,
        r"does not appear to have (a file named|files named)|is not a local folder and is not a "
        r"valid model identifier|Can't load (the )?(config|tokenizer|processor|model|weights)|"
        r"Incorrect path_or_model_id|We couldn't connect to|LocalEntryNotFoundError|"
        r"outgoing traffic has been disabled|offline mode is enabled",
    ),
    Signature("missing_package", C.UNAVAILABLE, types=("ModuleNotFoundError",)),
    Signature(
        "missing_library",
        C.UNAVAILABLE,
        r"requires the \S+ library|requires `?\w+`? to be installed|pip install \S+|"
        r"tesseract is not installed|TesseractNotFoundError",
    ),
    # The document.
    Signature("bad_input", C.BAD_INPUT, types=("BadInputError", "DecompressionBombError")),
    Signature("unreadable_image", C.BAD_INPUT, types=("UnidentifiedImageError",)),
    # An answer that is not an answer.
    Signature("invalid_output", C.INVALID_OUTPUT, types=("InvalidOutput", "ValidationError")),
    # Text of the document's that is not valid Unicode (a lone surrogate) where it had to be: the
    # document's fault, never the tier's (it must not count toward the tier's breaker).
    Signature("invalid_text", C.INVALID_OUTPUT, types=("UnicodeEncodeError", "UnicodeDecodeError")),
    Signature("timeout_builtin", C.TIMEOUT, types=("TimeoutError",)),
)


def classify(info: ErrorInfo) -> Failure:
    """Sort a foreign failure into its class by the first matching signature; ``unknown`` otherwise."""
    for signature in SIGNATURES:
        if signature.matches(info):
            return Failure(signature.error_class, signature.name, info)
    return Failure(C.UNKNOWN, "unmatched", info)
