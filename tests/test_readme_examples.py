"""The README's command-line examples that need no model weights, run as written.

Each example is looked up in README.md by its exact text (so a changed example fails here until it
is run again), then run by a shell in a folder holding the files it names. Only what the example
cannot say is adapted: the port (8000 may be taken on a shared machine) and the request id given
to ``trail`` (the README's comes from its own run)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.router.surfaces_kit import env, images, pdf

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SHELL_PRELUDE = f'docroute() {{ "{sys.executable}" -m router "$@"; }}\n'


def example(text: str) -> str:
    assert text in README, f"the README no longer shows {text!r}"
    return text


def sh(command: str, cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", SHELL_PRELUDE + command], cwd=cwd, env=env(), capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("readme")
    shutil.copy(ROOT / "examples" / "receipt.png", folder / "receipt.jpg")
    images(folder / "receipts", 2)
    (folder / "scans").mkdir()
    pdf(folder / "scans" / "invoice.pdf")
    (folder / "more" / "march").mkdir(parents=True)
    shutil.copy(ROOT / "examples" / "receipt.png", folder / "more" / "march" / "receipt.jpg")
    for name, source in (("tuned.yaml", "cpu.yaml"), ("risky.yaml", "cpu.yaml"), ("chaos.yaml", "default.yaml")):
        shutil.copy(ROOT / "policies" / source, folder / name)
    return folder


def test_extract_the_sample_receipt():
    command = example(".venv/bin/docroute extract examples/receipt.png").replace(".venv/bin/", "")
    out = sh(command, ROOT)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["status"] in ("ok", "degraded")


def test_batch_then_the_forensics_commands_on_its_log(workdir):
    command = example(
        "docroute batch receipts/ scans/*.pdf more/**/*.jpg --out results.jsonl --policy cpu --log-json decisions.jsonl"
    )
    out = sh(command, workdir)
    assert out.returncode in (0, 1), out.stderr  # 1: some document failed, as documented
    results = [json.loads(line) for line in (workdir / "results.jsonl").read_text().splitlines()]
    assert len(results) == 4
    shutil.copy(workdir / "decisions.jsonl", workdir / "run.jsonl")
    request_id = results[0]["request_id"][:8]
    for command in (
        example("docroute incidents run.jsonl*"),
        example("docroute trail 010529 run.jsonl*").replace("010529", request_id),
        example("docroute replay run.jsonl* --policy tuned.yaml"),
        example("docroute policy diff chaos.yaml tuned.yaml"),
    ):
        out = sh(command, workdir)
        assert out.returncode == 0, (command, out.stderr)
    lint = sh(example("docroute policy lint risky.yaml"), workdir)
    assert lint.returncode in (0, 1), lint.stderr  # 1: an error found, as documented


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_and_the_curl_examples(workdir):
    port = str(free_port())
    serve = example("DOCROUTE_TOKEN=s3cret docroute serve --policy cpu --port 8000").replace("8000", port)
    curls = [
        example('curl -s -H "Authorization: Bearer s3cret" -F file=@receipt.jpg http://127.0.0.1:8000/v1/extract'),
        example("curl -s http://127.0.0.1:8000/readyz"),
        example('curl -s -H "Authorization: Bearer s3cret" http://127.0.0.1:8000/metrics'),
    ]
    process = subprocess.Popen(
        ["bash", "-c", serve.replace("docroute serve", f'exec "{sys.executable}" -m router serve')],  # signals reach it
        cwd=workdir,
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while sh(f"curl -sf http://127.0.0.1:{port}/healthz", workdir).returncode != 0:
            assert process.poll() is None and time.monotonic() < deadline, "the service did not come up"
            time.sleep(0.2)
        extract, ready, metrics = (sh(c.replace("8000", port), workdir) for c in curls)
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=60)
    assert json.loads(extract.stdout)["status"] in ("ok", "degraded")
    assert "tiers" in json.loads(ready.stdout)
    assert re.search(r"^docroute_documents_total\{", metrics.stdout, re.M)
    assert os.path.exists(workdir / "receipt.jpg")
