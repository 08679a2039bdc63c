"""The ``docroute`` command line. Each command lives in its own module and imports what it needs
inside the command, so ``docroute --help`` answers without loading the router. The top layer: may import
every other package of ``router`` (``router.scale`` only from ``cli.ray``); nothing imports it but ``__main__``."""

from __future__ import annotations

import typer

from router import __version__
from router.cli import (  # noqa: F401 - register commands
    batch,
    doctor,
    drill,
    eval,
    extract,
    incidents,
    policy,
    replay,
    serve,
    trail,
)
from router.cli.app import app


def _version(value: bool) -> None:
    if value:
        typer.echo(f"docroute {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """Read business documents through a chain of models, OCR and rules, and never fall over."""


def main() -> None:
    app()
