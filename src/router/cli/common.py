"""Helpers shared by commands."""

from __future__ import annotations

import typer

from router.errors import PolicyError
from router.policy import Policy, load_policy


def load_policy_or_exit(name_or_path: str) -> Policy:
    """The policy, or every problem with it on stderr and exit code 2."""
    try:
        return load_policy(name_or_path)
    except PolicyError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
