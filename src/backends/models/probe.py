"""What this machine's model stack can do, printed as JSON: ``python -m backends.models.probe``.

Run in a child process by ``docroute doctor``, so that the supervising process never imports torch
or initialises CUDA.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def probe() -> dict[str, Any]:
    report: dict[str, Any] = {"python": sys.version.split()[0]}
    try:
        import torch
    except ImportError as exc:
        report["torch"] = {"error": str(exc)}
        return report
    cuda = torch.cuda.is_available()
    report["torch"] = {"version": torch.__version__, "cuda_build": torch.version.cuda}
    report["cuda"] = {
        "available": cuda,
        "gpus": [
            {
                "index": i,
                "name": torch.cuda.get_device_name(i),
                "memory_gib": round(torch.cuda.get_device_properties(i).total_memory / 2**30, 1),
            }
            for i in range(torch.cuda.device_count() if cuda else 0)
        ],
    }
    report["transformers"] = _version("transformers")
    report["bitsandbytes"] = _bitsandbytes()
    return report


def _version(module: str) -> dict[str, Any]:
    try:
        imported = __import__(module)
    except ImportError as exc:
        return {"error": str(exc)}
    return {"version": getattr(imported, "__version__", "?")}


def _bitsandbytes() -> dict[str, Any]:
    try:
        import bitsandbytes as bnb
    except Exception as exc:  # bitsandbytes raises a variety of errors on unsupported platforms
        return {"error": f"{type(exc).__name__}: {exc}"}
    backends = getattr(getattr(bnb, "backends", None), "__all__", None)
    return {"version": bnb.__version__, "backends": backends or _bnb_backend_names(bnb)}


def _bnb_backend_names(bnb: Any) -> list[str]:
    import torch

    names = ["cpu"]
    if torch.cuda.is_available():
        names.insert(0, "cuda")
    return names


if __name__ == "__main__":
    json.dump(probe(), sys.stdout)
