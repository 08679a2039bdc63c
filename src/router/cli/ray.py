"""The ``--engine ray`` side of ``docroute batch`` and ``serve``: imported only with ``--engine ray``,
after ``ray_or_exit``; the one module outside ``router.scale`` that imports it."""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from router.batch.progress import Mode
from router.scale.resources import Sizing, fit

if TYPE_CHECKING:
    from fastapi import FastAPI

    from router.policy.model import Policy
    from router.service import ServiceSettings


def batch(
    inputs: list[str],
    out: Path,
    *,
    policy: str,
    address: str | None,
    routers: int,
    sizing: dict[str, float | None],
    progress: Mode,
    log_json: Path | None,
    warm: bool,
    summary_json: Path | None,
) -> None:
    """``docroute batch --engine ray``: OUT is a folder of JSONL parts; the summary and exit codes
    are the local batch's."""
    from router.batch import StopFlag, handle_signals
    from router.batch.progress import make_progress
    from router.cli.common import close_batch, inputs_or_exit, load_policy_or_exit
    from router.scale.batch import ClusterSettings, run_cluster_batch

    _folder_or_exit("--out", out, "OUT is a folder of parts")
    _folder_or_exit("--log-json", log_json, "--log-json is a folder: one log per process")
    paths = inputs_or_exit(inputs)
    loaded = load_policy_or_exit(policy)
    fitted = _join_sized(loaded, Sizing(**sizing), address, routers)
    settings = ClusterSettings(address=address, routers=routers, sizing=fitted, log_dir=log_json, warm=warm)
    _log_this_process(loaded, log_json, "driver", stderr=False)  # the driver's events (batch.*) stay off stdout
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
    sizing: dict[str, float | None],
    log_dir: Path | None,
) -> FastAPI:
    """``docroute serve --engine ray``: the service app, its router the replicas on Ray Serve. The app
    takes at most what the replicas hold (their slots and queue) before it answers 503 ``overloaded``.
    With ``log_dir``, the ingress's own events (refusals, timeouts) go to its file there, beside the
    replicas' (``ingress-NODE-PID.jsonl``)."""
    from router.scale.serve import deploy
    from router.service import create_app

    _folder_or_exit("--log-json", log_dir, "--log-json is a folder: one log per process")
    fitted = _join_sized(policy, Sizing(**sizing), address, routers)
    _log_this_process(policy, log_dir, "ingress", stderr=policy.logging.stderr, hold_malloc=True)
    remote = deploy(policy, replicas=routers, resources=fitted.resources(policy), log_dir=log_dir)
    capped = dataclasses.replace(settings, max_in_flight=min(settings.max_in_flight, remote.parallelism()))
    return create_app(lambda: remote, capped)


def _join_sized(policy: Policy, sizing: Sizing, address: str | None, routers: int) -> Sizing:
    """Join (or start) the cluster, with each router's resources from the policy, less what the options
    say (``router.scale.resources``). A cluster started here gets the logical CPUs its routers ask for
    (they share the real cores) and keeps what this machine has (``resources.fit``); every caveat is
    a line on stderr."""
    from router.scale.cluster import connect, largest_node

    try:
        wanted = sizing.resources(policy)
    except ValueError as exc:
        typer.echo(f"docroute: --gpus-per-router: {exc}", err=True)
        raise typer.Exit(2) from None
    cpus = max(os.cpu_count() or 1, math.ceil(routers * wanted.num_cpus) + 1)  # +1: Ray Data's own tasks
    local = connect(address, num_cpus=cpus)
    fitted, notes = fit(policy, sizing, routers, largest_node(), local=local)
    for note in [*wanted.notes, *notes]:
        typer.echo(f"docroute: warning: {note}", err=True)
    return fitted


def _folder_or_exit(option: str, path: Path | None, what: str) -> None:
    if path is not None and path.exists() and not path.is_dir():
        typer.echo(f"docroute: {option} {path}: with --engine ray, {what}, not a file", err=True)
        raise typer.Exit(2)


def _log_this_process(
    policy: Policy, log_dir: Path | None, role: str, *, stderr: bool, hold_malloc: bool = False
) -> None:
    """This command's process logs as the routers do: every event tagged with its Ray node, into its own
    file in the cluster's log folder (``router.scale.cluster.log_file``), and on stderr if ``stderr``."""
    from router.cli.common import configure_process
    from router.scale.cluster import place_this_process

    json_path = place_this_process(log_dir, role) if log_dir else None
    configure_process(policy, stderr=stderr, json_path=json_path, hold_malloc=hold_malloc)


def _quiet_ray_data() -> None:
    """The command's own progress and summary say it, once (this process is the command's own)."""
    import ray.data

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
