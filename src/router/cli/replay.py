"""``docroute replay LOG... --policy NEW.yaml``: what another policy would have done."""

from __future__ import annotations

import json
from typing import Any

import typer

from router.cli.app import POLICY_HELP, app
from router.cli.incidents import LOGS_HELP, skipped_line


@app.command()
def replay(
    logs: list[str] = typer.Argument(..., help=LOGS_HELP),
    policy: str = typer.Option(..., "--policy", "-p", help=POLICY_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON (every request)."),
    top: int = typer.Option(20, "--top", min=1, help="Rows of the per-request tables."),
) -> None:
    """What another policy would have done with the logged requests.

    Re-decides the recorded requests under the new policy (tier order, retries, timeouts, deadline,
    fallback classes, breakers, quality gate) and reports what would change. A request whose new
    path needs an outcome the log does not hold is reported unknown, never guessed."""
    from router.cli.common import load_policy_or_exit, read_logs_or_exit
    from router.forensics.replay import replay as run_replay

    read = read_logs_or_exit(logs)
    report = run_replay(read.events, load_policy_or_exit(policy))
    if as_json:
        typer.echo(json.dumps({**report.to_dict(), "skipped": read.skipped}, indent=2, default=str))
    else:
        _render(report, top, read.skipped)


def _render(report: Any, top: int, skipped: dict[str, int]) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    counts = report.counts()
    console.print(
        f"[bold]replay under policy {escape(report.policy)} \\[{report.policy_hash}][/]: "
        f"{len(report.predictions)} requests"
    )
    console.print("  " + ", ".join(f"{name.replace('_', ' ')} {n}" for name, n in counts.items()))
    if skipped:
        console.print(f"  [yellow]{skipped_line(skipped)}[/]")
    latency = report.latency()
    rec, proj = latency["recorded"], latency["projected"]
    console.print(
        f"  latency over the {latency['requests']} predictable requests: p50 {rec['p50']} -> {proj['p50']} ms, "
        f"p95 {rec['p95']} -> {proj['p95']} ms"
    )
    what_if = report.what_if()
    accepted = ", ".join(f"{tier} {n}" for tier, n in what_if["accepted"].items()) or "none"
    console.print(
        f"  at these thresholds: accepted {accepted}; needs review {what_if['needs_review']}; failed "
        f"{what_if['failed']}; cost {what_if['cost']} (recorded {what_if['recorded_cost']})"
    )
    changed = [p for p in report.predictions if p.change not in ("same", "unknown")]
    table = Table(title="Requests that would change", title_justify="left")
    for column in ("request", "sha256", "change", "recorded", "predicted", "why"):
        table.add_column(column, overflow="fold")
    for p in changed[:top]:
        table.add_row(
            p.request_id[:12],
            (p.sha256 or "")[:12],
            p.change,
            _outcome(p.recorded),
            _outcome(p.predicted),
            escape("; ".join(p.notes) or " > ".join(p.predicted.path)),
        )
    console.print(table)
    unknown = [p for p in report.predictions if p.change == "unknown"]
    if unknown:
        table = Table(title="Requests the log cannot decide", title_justify="left")
        table.add_column("request")
        table.add_column("needs", overflow="fold")
        for p in unknown[:top]:
            table.add_row(p.request_id[:12], escape(p.unknown or ""))
        console.print(table)
    for transition in report.breaker_transitions[:top]:
        console.print(f"  breaker {transition['tier']} -> {transition['state']} ({transition['reason']})")
    for line in [*report.notes, *report.assumptions]:
        console.print(f"  note: {escape(line)}", style="dim")


def _outcome(outcome: Any) -> str:
    if outcome is None:
        return "?"
    return f"{outcome.status} {outcome.tier or outcome.error_class or ''} {outcome.duration_ms:.0f} ms"
