"""Helpers shared by commands."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from router.errors import PolicyError
from router.policy import Policy, load_policy

if TYPE_CHECKING:
    from router.forensics.reader import LogSet


def load_policy_or_exit(name_or_path: str) -> Policy:
    """The policy, or every problem with it on stderr and exit code 2."""
    try:
        return load_policy(name_or_path)
    except PolicyError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


def read_logs_or_exit(paths: list[str]) -> LogSet:
    """The events of the given log files; warnings (skipped lines) on stderr; exit 2 if none was read."""
    from router.forensics.reader import read_logs

    logs = read_logs(paths)
    for warning in logs.warnings:
        typer.echo(f"warning: {warning}", err=True)
    if not logs.events:
        typer.echo(f"no docroute events in {', '.join(map(str, paths))}", err=True)
        raise typer.Exit(2)
    return logs
