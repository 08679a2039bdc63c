"""``docroute policy check|schema``."""

from __future__ import annotations

import json

import typer

from router.cli.app import policy_app


@policy_app.command("check")
def check(files: list[str] = typer.Argument(..., help="Policy files or built-in names.")) -> None:
    """Validate policy files: exit 0, or print every problem and exit 1."""
    from router.errors import PolicyError
    from router.policy import load_policy

    bad = 0
    for name in files:
        try:
            policy = load_policy(name)
        except PolicyError as exc:
            bad += 1
            typer.echo(str(exc), err=True)
        else:
            tiers = " -> ".join(f"{t.name} ({t.backend.kind})" for t in policy.tiers)
            typer.echo(f"{name}: ok, policy {policy.name!r} [{policy.digest()}]: {tiers}")
    if bad:
        raise typer.Exit(1)


@policy_app.command("schema")
def schema() -> None:
    """Print the JSON Schema of policy files (for editors)."""
    from router.policy import json_schema

    typer.echo(json.dumps(json_schema(), indent=2))
