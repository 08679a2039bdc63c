"""``docroute doctor``: what this machine can run, tier by tier (readable at 80 columns)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from typing import Any

import typer

from router.cli.app import POLICY_HELP, app


@app.command()
def doctor(
    policy: str = typer.Option("default", "--policy", "-p", help=POLICY_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Report CUDA and GPUs, Tesseract, bitsandbytes, and whether each tier of a policy can run."""
    from backends import registry
    from router.cli.common import load_policy_or_exit

    loaded = load_policy_or_exit(policy)
    report: dict[str, Any] = {"tesseract": tesseract_version(), **_model_stack()}
    report["policy"] = {"name": loaded.name, "hash": loaded.digest()}
    report["tiers"] = [
        {
            "tier": t.name,
            "backend": t.backend.kind,
            "ready": (reason := registry.preflight(t.backend)) is None,
            "reason": reason,
            "weights": _weights(registry, t.backend),
        }
        for t in loaded.tiers
    ]
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    else:
        _print(report)


def _weights(registry: Any, options: Any) -> dict[str, Any] | None:
    """Where a model tier expects its weights and how to fetch them; None for tiers without weights."""
    weights = getattr(registry.backend_class(options.kind), "weights", None)
    return None if weights is None else dict(weights(options))


def tesseract_version() -> str | None:
    if shutil.which("tesseract") is None:
        return None
    out = subprocess.run(["tesseract", "--version"], capture_output=True, text=True, check=False)
    return (out.stdout or out.stderr).splitlines()[0].removeprefix("tesseract ").strip()


def _model_stack() -> dict[str, Any]:
    """Probe torch, CUDA and bitsandbytes in a child process: this one stays free of CUDA."""
    try:
        out = subprocess.run(
            [sys.executable, "-m", "backends.models.probe"], capture_output=True, text=True, timeout=120, check=True
        )
        data: dict[str, Any] = json.loads(out.stdout)
        return data
    except (subprocess.SubprocessError, json.JSONDecodeError) as exc:
        return {"probe_error": str(exc)}


def _print(report: dict[str, Any]) -> None:
    """For a person, at any width down to 80 columns: a short table, then why each tier cannot
    run, as paragraphs wrapped at word boundaries (commands and paths stay whole where they fit)."""
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    cuda = report.get("cuda", {})
    gpus = ", ".join(f"{g['index']}: {g['name']} ({g['memory_gib']} GiB)" for g in cuda.get("gpus", [])) or "none"
    bnb = report.get("bitsandbytes", {})
    for label, value in (
        ("tesseract", report["tesseract"] or "NOT FOUND (apt-get install tesseract-ocr)"),
        ("torch", report.get("torch", {}).get("version", report.get("probe_error", "?"))),
        ("CUDA", f"{'available' if cuda.get('available') else 'not available'}; GPUs: {gpus}"),
        ("transformers", report.get("transformers", {}).get("version", "?")),
        ("bitsandbytes", f"{bnb.get('version', bnb.get('error', '?'))} backends: {bnb.get('backends', '-')}"),
    ):
        console.print(f"{label:<14}{value}", markup=False)
    table = Table(title=f"policy {report['policy']['name']} [{report['policy']['hash']}]", title_justify="left")
    for column in ("tier", "backend", "can run", "weights"):
        table.add_column(column, overflow="fold")
    for tier in report["tiers"]:
        table.add_row(tier["tier"], tier["backend"], "yes" if tier["ready"] else "no", _weights_cell(tier["weights"]))
    console.print()
    console.print(table)
    for tier in report["tiers"]:
        if tier["reason"]:
            console.print()
            console.print(f"{tier['tier']}: {tier['reason']}", markup=False)


def _weights_cell(weights: dict[str, Any] | None) -> str:
    if weights is None:
        return "none needed"
    return f"found ({weights['source']})" if weights.get("found") else "missing"
