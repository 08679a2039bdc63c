"""The ``--engine ray`` side of the CLI commands (reached through importlib by ``router.cli``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from router.batch import discover
from router.batch.progress import Mode

if TYPE_CHECKING:
    from fastapi import FastAPI

    from router.policy import Policy
    from router.service import ServiceSettings


def batch(
    inputs: list[str],
    out: Path,
    *,
    policy: str,
    address: str | None,
    routers: int,
    gpus_per_router: float,
    progress: Mode,
    log_json: Path | None,
    warm: bool,
    summary_json: Path | None,
) -> None:
    """``docroute batch --engine ray``: OUT is a folder of JSONL parts; the summary and exit codes
    are the local batch's."""
    from router.batch import StopFlag, handle_signals
    from router.batch.progress import make_progress
    from router.cli.batch import close_batch
    from router.cli.common import configure_process, load_policy_or_exit
    from router.scale.batch import ClusterSettings, run_cluster_batch
    from router.scale.cluster import connect

    if out.exists() and not out.is_dir():
        typer.echo(f"docroute: --out {out}: with --engine ray, OUT is a folder of parts, not a file", err=True)
        raise typer.Exit(2)
    paths, unmatched = discover(inputs)
    for pattern in unmatched:
        typer.echo(f"docroute: no file matches {pattern}", err=True)
    if not paths:
        typer.echo("docroute: no inputs", err=True)
        raise typer.Exit(2)
    loaded = load_policy_or_exit(policy)
    configure_process(loaded, stderr=False)  # the driver's own events (batch.*) stay off stdout
    settings = ClusterSettings(
        address=address, routers=routers, gpus_per_router=gpus_per_router, log_dir=log_json, warm=warm
    )
    connect(address)
    _quiet_ray_data()
    stop = StopFlag()
    bar = make_progress(progress, len(paths))
    try:
        with handle_signals(stop):
            summary = run_cluster_batch(paths, out, loaded, settings, stop=stop, progress=bar)
    finally:
        bar.close()
    close_batch(summary, summary_json)


def service(
    policy: Policy,
    settings: ServiceSettings,
    address: str | None,
    routers: int,
    gpus_per_router: float,
    log_dir: Path | None,
) -> FastAPI:
    """``docroute serve --engine ray``: the service app, its router the replicas on Ray Serve. The app
    takes at most what the replicas hold (their slots and queue) before it answers 503 ``overloaded``."""
    from router.scale.cluster import connect
    from router.scale.serve import deploy
    from router.service import create_app

    connect(address)
    remote = deploy(policy, replicas=routers, gpus_per_router=gpus_per_router, log_dir=log_dir)
    capped = dataclasses.replace(settings, max_in_flight=min(settings.max_in_flight, remote.parallelism()))
    return create_app(lambda: remote, capped)


def _quiet_ray_data() -> None:
    """The command's own progress and summary say it, once (this process is the command's own)."""
    import ray.data

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
