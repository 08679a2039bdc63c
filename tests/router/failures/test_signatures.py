"""The classifier maps real failure texts to the right class, and every class has an action."""

import pytest

from router.failures.errors import ErrorClass, ErrorInfo
from router.failures.signatures import SIGNATURES, classify

C = ErrorClass

SCATTER_ASSERT = (
    "../aten/src/ATen/native/cuda/ScatterGatherKernel.cu:367: operator(): block: [0,0,0], thread: [0,0,0] "
    'Assertion `idx_dim >= 0 && idx_dim < index_size && "index out of bounds"` failed.'
)
# As printed by torch 2.11 + CUDA 13 on an H100 (bench: tests/router/workers/test_workers_gpu.py on the device).
SCATTER_ASSERT_2_11 = (
    "/pytorch/aten/src/ATen/native/cuda/ScatterGatherKernel.cu:163: operator(): block: [0,0,0], thread: [0,0,0] "
    'Assertion `idx_dim >= 0 && idx_dim < index_size && "scatter gather kernel index out of bounds"` failed.'
)
INDEX_ASSERT = (
    "../aten/src/ATen/native/cuda/IndexKernel.cu:92: operator(): block: [5,0,0], thread: [64,0,0] "
    'Assertion `-sizes[i] <= index && index < sizes[i] && "index out of bounds"` failed.'
)
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
HUB_MISSING = (
    "We couldn't connect to 'https://huggingface.co' to load the files, and couldn't find them in the "
    "cached files. Check your internet connection or see how to run the library in offline mode at "
    "'https://huggingface.co/docs/transformers/installation#offline-mode'."
)

CASES = [
    # (exception type, bases, message, expected class, expected signature)
    ("RuntimeError", (), SCATTER_ASSERT, C.STICKY_CUDA, "cuda_kernel_assert"),
    ("RuntimeError", (), SCATTER_ASSERT_2_11, C.STICKY_CUDA, "cuda_kernel_assert"),
    ("RuntimeError", (), INDEX_ASSERT, C.STICKY_CUDA, "cuda_kernel_assert"),
    ("torch.AcceleratorError", ("RuntimeError",), DEVICE_ASSERT, C.STICKY_CUDA, "cuda_device_assert"),
    ("RuntimeError", (), "CUDA error: an illegal memory access was encountered", C.STICKY_CUDA, "cuda_illegal_address"),
    ("RuntimeError", (), "CUDA error: unspecified launch failure", C.STICKY_CUDA, "cuda_launch_failure"),
    ("RuntimeError", (), "CUDA error: misaligned address", C.STICKY_CUDA, "cuda_sticky_other"),
    (
        "RuntimeError",
        (),
        "CUDA error: CUBLAS_STATUS_EXECUTION_FAILED when calling `cublasSgemm( handle, opa, opb, m, n, k, "
        "&alpha, a, lda, b, ldb, &beta, c, ldc)`",
        C.STICKY_CUDA,
        "cublas_error",
    ),
    (
        "RuntimeError",
        (),
        "CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`",
        C.CUDA_OOM,
        "cublas_alloc_failed",
    ),
    ("RuntimeError", (), "cuDNN error: CUDNN_STATUS_EXECUTION_FAILED", C.STICKY_CUDA, "cudnn_error"),
    (
        "torch.distributed.DistBackendError",
        ("RuntimeError",),
        "NCCL error in: ../torch/csrc/distributed/c10d/NCCLUtils.hpp:219, unhandled cuda error, "
        "NCCL version 2.19.3\nncclUnhandledCudaError: Call to CUDA function failed.",
        C.STICKY_CUDA,
        "nccl_error",
    ),
    ("torch.OutOfMemoryError", ("RuntimeError",), OOM, C.CUDA_OOM, "cuda_oom_type"),
    ("RuntimeError", (), OOM, C.CUDA_OOM, "cuda_oom"),
    (
        "RuntimeError",
        (),
        "index 128256 is out of bounds for dimension 1 with size 128256",
        C.BAD_INDEX,
        "index_out_of_bounds",
    ),
    ("IndexError", (), "index out of range in self", C.BAD_INDEX, "index_out_of_range"),
    (
        "backends.errors.IndexOutOfVocabulary",
        (),
        "input id 128256 >= lm_head rows 128256",
        C.BAD_INDEX,
        "preflight_index",
    ),
    ("OSError", (), HUB_MISSING, C.UNAVAILABLE, "missing_weights"),
    (
        "OSError",
        (),
        "/models/llama does not appear to have a file named config.json. Checkout "
        "'https://huggingface.co//models/llama/tree/None' for available files.",
        C.UNAVAILABLE,
        "missing_weights",
    ),
    (
        "huggingface_hub.errors.HFValidationError",
        ("ValueError",),
        "Repo id must be in the form 'repo_name' or 'namespace/repo_name': '/no/such/dir'. Use `repo_type` "
        "argument if needed. -- caused by: Incorrect path_or_model_id: '/no/such/dir'.",
        C.UNAVAILABLE,
        "missing_weights",
    ),
    ("ModuleNotFoundError", ("ImportError",), "No module named 'timm'", C.UNAVAILABLE, "missing_package"),
    (
        "ImportError",
        (),
        "InternVLProcessor requires the Torchvision library but it was not found in your environment.",
        C.UNAVAILABLE,
        "missing_library",
    ),
    ("RuntimeError", (), "Found no NVIDIA driver on your system.", C.UNAVAILABLE, "no_cuda"),
    ("AssertionError", (), "Torch not compiled with CUDA enabled", C.UNAVAILABLE, "no_cuda"),
    ("backends.errors.BackendUnavailable", (), "weights not found at /models/x", C.UNAVAILABLE, "backend_unavailable"),
    ("router.core.runners.AttemptTimeout", (), "worker 4242 gave no answer within 5.0s", C.TIMEOUT, "attempt_timeout"),
    ("TimeoutError", ("OSError",), "timed out", C.TIMEOUT, "timeout_builtin"),
    (
        "router.workers.protocol.WorkerStartFailed",
        (),
        "worker 4242 exited with code 1 during start-up",
        C.UNAVAILABLE,
        "worker_start_failed",
    ),
    (
        "router.workers.protocol.WorkerCrashed",
        (),
        "worker 4242 killed by signal SIGSEGV during serving",
        C.WORKER_CRASHED,
        "worker_signal",
    ),
    ("backends.errors.InvalidOutput", (), "no JSON object in model output", C.INVALID_OUTPUT, "invalid_output"),
    (
        "pydantic_core._pydantic_core.ValidationError",
        ("ValueError",),
        "1 validation error",
        C.INVALID_OUTPUT,
        "invalid_output",
    ),
    (
        "UnicodeEncodeError",
        ("UnicodeError", "ValueError"),
        "'utf-8' codec can't encode character '\\ud83d' in position 4: surrogates not allowed",
        C.INVALID_OUTPUT,
        "invalid_text",
    ),
    ("router.failures.errors.BadInputError", (), "x.jpg: file is empty", C.BAD_INPUT, "bad_input"),
    ("PIL.UnidentifiedImageError", ("OSError",), "cannot identify image file", C.BAD_INPUT, "unreadable_image"),
    ("ZeroDivisionError", ("ArithmeticError",), "division by zero", C.UNKNOWN, "unmatched"),
]


@pytest.mark.parametrize(
    ("type_", "bases", "message", "expected", "signature"), CASES, ids=[c[4] + ":" + c[0] for c in CASES]
)
def test_real_failure_texts_are_classified(type_, bases, message, expected, signature):
    verdict = classify(ErrorInfo(type=type_, message=message, bases=bases))
    assert (verdict.error_class, verdict.signature) == (expected, signature)


def test_every_signature_names_a_known_class_and_every_foreign_class_has_a_signature():
    # invalid_output is also born inside the router (the quality gate); unknown is what matches nothing
    assert {s.error_class for s in SIGNATURES} | {C.UNKNOWN} == set(ErrorClass)


def test_every_signature_is_exercised_by_a_real_text():
    assert {s.name for s in SIGNATURES} <= {case[4] for case in CASES}


def test_sticky_assert_wins_over_bad_index_although_it_says_index_out_of_bounds():
    assert classify(ErrorInfo("RuntimeError", SCATTER_ASSERT)).error_class is C.STICKY_CUDA


def test_types_match_through_bases_and_chained_causes():
    class OutOfMemoryError(RuntimeError):
        pass

    try:
        try:
            raise OutOfMemoryError("Tried to allocate 20.00 MiB")
        except OutOfMemoryError as inner:
            raise ValueError("generation failed") from inner
    except ValueError as outer:
        info = ErrorInfo.from_exception(outer)
    # the outer type is a ValueError, but the cause's message is part of the text matched
    assert "Tried to allocate" in info.message
    assert classify(ErrorInfo.from_exception(OutOfMemoryError("x"))).error_class is C.CUDA_OOM


def test_error_info_round_trips_as_plain_data():
    info = ErrorInfo.from_exception(RuntimeError("CUDA error: device-side assert triggered"))
    again = ErrorInfo.from_dict(info.to_dict())
    assert again == info
    assert classify(again).error_class is C.STICKY_CUDA
