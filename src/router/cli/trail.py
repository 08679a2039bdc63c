"""``docroute trail REQUEST_ID LOG...``: the whole story of one request, in order."""

from __future__ import annotations

import json
from typing import Any

import typer

from router.cli.app import app
from router.cli.incidents import LOGS_HELP

#: Fields every line shows in its own column, or that say nothing new about the step.
_COLUMNS = frozenset(
    {"event", "ts", "level", "pid", "host", "schema_version", "policy_hash", "request_id", "tier", "policy", "backend"}
)


@app.command()
def trail(
    request_id: str = typer.Argument(..., help="The request's id, or a unique prefix of it."),
    logs: list[str] = typer.Argument(..., help=LOGS_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the events as JSON."),
) -> None:
    """The whole story of one request, in order.

    Every event of the request, with the worker processes it went through and the breakers of the
    tiers it touched, in time order, across processes."""
    from router.cli.common import read_logs_or_exit
    from router.forensics.trail import TrailError
    from router.forensics.trail import trail as build

    events = read_logs_or_exit(logs).events
    try:
        story = build(events, request_id)
    except TrailError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps(story.to_dict(), indent=2, default=str))
    else:
        _render(story)


def _render(story: Any) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from router.forensics.reader import process_name, when

    table = Table(title=f"request {story.request_id}", title_justify="left")
    for column in ("+ms", "router", "who", "event", "tier", "detail"):
        table.add_column(column, overflow="fold", justify="right" if column == "+ms" else "left")
    for step in story.steps:
        event = step.event
        offset = (when(event) - story.started) * 1000
        detail = " ".join(f"{k}={_value(v)}" for k, v in event.items() if k not in _COLUMNS and v is not None)
        style = "red" if event.get("level") in ("warning", "error") else None
        table.add_row(
            f"{offset:.1f}",
            process_name(event.get("host"), event.get("pid")),
            step.role,
            event["event"],
            escape(event.get("tier") or event.get("from_tier") or ""),
            escape(detail),
            style=style,
        )
    Console().print(table)


def _value(value: Any) -> str:
    return json.dumps(value, default=str) if isinstance(value, list | dict) else str(value)
