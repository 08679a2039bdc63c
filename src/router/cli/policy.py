"""``docroute policy check|schema|lint|diff``."""

from __future__ import annotations

import json
from typing import Any

import typer

from router.cli.app import policy_app


@policy_app.command("check")
def check(files: list[str] = typer.Argument(..., help="Policy files or built-in names.")) -> None:
    """Validate policy files: exit 0, or print every problem and exit 2 (as every command does for an
    invalid policy)."""
    from router.failures.errors import PolicyError
    from router.policy.model import load_policy

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
        raise typer.Exit(2)


@policy_app.command("schema")
def schema() -> None:
    """Print the JSON Schema of policy files (for editors)."""
    from router.policy.model import json_schema

    typer.echo(json.dumps(json_schema(), indent=2))


@policy_app.command("lint")
def lint(
    file: str = typer.Argument(..., help="Policy file or built-in name."),
    as_json: bool = typer.Option(False, "--json", help="Print the findings as JSON."),
) -> None:
    """Find what a valid policy still gets wrong.

    Unreachable or duplicate tiers, retries x timeouts beyond the deadline, fallback classes that
    never occur, unsafe generation parameters, and more. Exit 1 if any finding is an error, 2 if
    the policy is invalid."""
    from router.cli.common import load_policy_or_exit
    from router.forensics.lint import lint as run_lint

    findings = run_lint(load_policy_or_exit(file))
    if as_json:
        typer.echo(json.dumps([f.to_dict() for f in findings], indent=2))
    else:
        _print_findings(file, findings)
    if any(f.severity == "error" for f in findings):
        raise typer.Exit(1)


def _print_findings(file: str, findings: list[Any]) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    if not findings:
        console.print(f"{file}: no findings")
        return
    table = Table(title=escape(file), title_justify="left")
    for column in ("severity", "rule", "path", "message"):
        table.add_column(column, overflow="fold")
    colors = {"error": "red", "warning": "yellow", "info": "dim"}
    for f in findings:
        table.add_row(f"[{colors[f.severity]}]{f.severity}[/]", f.rule, escape(f.path), escape(f.message))
    console.print(table)
    counts = {s: sum(f.severity == s for f in findings) for s in colors}
    console.print(", ".join(f"{n} {s}{'s' if n != 1 else ''}" for s, n in counts.items()))


@policy_app.command("diff")
def diff(
    a: str = typer.Argument(..., help="The first policy (file or built-in name)."),
    b: str = typer.Argument(..., help="The second policy."),
    as_json: bool = typer.Option(False, "--json", help="Print the differences as JSON."),
    exit_code: bool = typer.Option(False, "--exit-code", help="Exit 1 if the policies differ (like git diff)."),
) -> None:
    """What differs between two policies, field by field (defaults filled in, tiers matched by name)."""
    from router.cli.common import load_policy_or_exit
    from router.forensics.diff import diff as run_diff

    result = run_diff(load_policy_or_exit(a), load_policy_or_exit(b))
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
    else:
        _print_diff(result)
    if exit_code and not result.same:
        raise typer.Exit(1)


def _print_diff(result: Any) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    if result.same:
        console.print(escape(f"{result.a} and {result.b}: no differences"))
        return
    table = Table(title=escape(f"{result.a} -> {result.b}"), title_justify="left")
    for column in ("path", "a", "b", "change"):
        table.add_column(column, overflow="fold")
    for change in result.changes:
        table.add_row(escape(change.path), escape(_show(change.a)), escape(_show(change.b)), escape(change.note or ""))
    console.print(table)


def _show(value: Any) -> str:
    if value is None:
        return "-"
    return json.dumps(value) if isinstance(value, list | dict | bool) else str(value)
