"""``docroute extract``: one JSON result per document on stdout, the decision log on stderr."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from router.cli.app import POLICY_HELP, app


@app.command()
def extract(
    files: list[Path] = typer.Argument(..., help="Images (JPEG, PNG, TIFF, ...) or PDFs."),
    policy: str = typer.Option("default", "--policy", "-p", help=POLICY_HELP),
    log_json: Path | None = typer.Option(None, "--log-json", help="Also append JSON events to this file."),
    pretty: bool = typer.Option(False, "--pretty", help="Indent the JSON results."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No decision log on stderr."),
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Every decision on stderr (default: warnings only; --log-json keeps all)."
    ),
    warm_up: bool = typer.Option(True, help="Wait for model tiers to load before the first document."),
) -> None:
    """Extract merchant, date, total (and more) from each file. Exit code 1 if any failed, 74 if the
    results could not be written (a full disk)."""
    from router.api.router import Router
    from router.cli.common import (
        check_output_files_or_exit,
        check_policy_log_or_exit,
        configure_process,
        load_policy_or_exit,
        print_or_exit,
        quieter,
    )

    check_output_files_or_exit({"--log-json": log_json})
    loaded = load_policy_or_exit(policy)
    check_policy_log_or_exit(loaded, log_json)
    level = loaded.logging.level if verbose else quieter(loaded.logging.level, "warning")
    configure_process(loaded, stderr=loaded.logging.stderr and not quiet, level=level)
    router = Router(loaded, log_json=log_json)
    failed = 0
    try:
        if warm_up:
            router.warm_up()
        for file in files:
            result = router.extract(file)
            failed += result.status == "failed"
            print_or_exit(json.dumps(result.model_dump(mode="json"), indent=2 if pretty else None))
    finally:
        router.close()
    if failed:
        typer.echo(f"docroute: {failed} of {len(files)} documents failed", err=True)
        raise typer.Exit(1)
