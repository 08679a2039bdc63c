"""Helpers for the batch, service and eval tests: real files, real policies, real subprocesses."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
FIXED = {"merchant": "FAULTY MART", "date": "2024-01-31", "total": "12.50"}


def images(folder: Path, count: int, *, prefix: str = "doc", size: tuple[int, int] = (48, 32)) -> list[Path]:
    """``count`` small PNGs with distinct content (so distinct sha256)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        path = folder / f"{prefix}{index:03d}.png"
        Image.new("RGB", size, (index % 256, index // 256, 77)).save(path)
        paths.append(path)
    return paths


def bad_files(folder: Path) -> list[Path]:
    """Inputs no tier can read: text, empty, a truncated PNG, and a folder-free missing name."""
    folder.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    Image.effect_noise((300, 300), 60).convert("RGB").save(buffer, "PNG")
    files = {"notes.png": b"just some text", "empty.jpg": b"", "cut.png": buffer.getvalue()[:400]}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return [folder / name for name in files]


def pdf(path: Path, pages: int = 2) -> Path:
    frames = [Image.new("RGB", (200, 280), (255, 255, 255 - 40 * i)) for i in range(pages)]
    frames[0].save(path, "PDF", save_all=True, append_images=frames[1:])
    return path


def tier(name: str, **overrides: Any) -> dict[str, Any]:
    """An inline ``faulty`` tier that answers FIXED, with options merged into its backend."""
    backend = {"kind": "faulty", **overrides.pop("backend", {})}
    return {"name": name, "backend": backend, "isolation": "inline", **overrides}


def policy_file(folder: Path, *tiers: dict[str, Any], **settings: Any) -> Path:
    path = folder / "policy.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "name": "surfaces-test", **settings, "tiers": list(tiers)}))
    return path


def env() -> dict[str, str]:
    paths = [str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "router", *args]


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cli(*args), capture_output=True, text=True, env=env(), timeout=timeout, check=False)


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def one_line_per_input(path: Path, inputs: list[Path]) -> bool:
    """Every input has exactly one line, and no line belongs to something else."""
    seen = sorted(os.path.realpath(line["input"]) for line in lines(path))
    return seen == sorted(os.path.realpath(p) for p in inputs)


def cpu_inline() -> Any:
    """The shipped cpu policy with its OCR tier in the test's own process (two slots, no workers to
    start): for tests of what the tier reads, not of where it runs. RapidOCR's models then load once
    per test process instead of once per router and worker."""
    from router.policy.model import load_policy

    policy = load_policy("cpu")
    inline = {"isolation": "inline", "workers": 2, "warm_start": False}
    tiers = [t.model_copy(update=inline) if t.name == "ocr-rules" else t for t in policy.tiers]
    return policy.model_copy(update={"tiers": tiers})
