"""``docroute serve``: the HTTP service under uvicorn."""

from __future__ import annotations

from pathlib import Path

import typer

from router.cli.app import CPUS_HELP, GPUS_HELP, MEMORY_HELP, POLICY_HELP, app
from router.service.settings import DEFAULT_BODY_TIMEOUT_S, DEFAULT_HEADER_TIMEOUT_S

LOOPBACK = ("127.0.0.1", "::1", "localhost")


@app.command()
def serve(
    policy: str = typer.Option("default", "--policy", "-p", help=POLICY_HELP),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind; 0.0.0.0 exposes the service."),
    port: int = typer.Option(8000, "--port", min=0, max=65535, help="Port to listen on."),
    token: str | None = typer.Option(
        None,
        "--token",
        envvar="DOCROUTE_TOKEN",
        help="Require 'Authorization: Bearer TOKEN' on /v1/*, /metrics, /openapi.json and /docs.",
    ),
    max_upload_mb: float = typer.Option(50.0, "--max-upload-mb", min=0.001, help="Largest request body, in MB."),
    allow_path: Path | None = typer.Option(
        None,
        "--allow-path",
        file_okay=False,
        exists=True,
        help='Allow {"path": ...} requests for files in this folder.',
    ),
    max_in_flight: int = typer.Option(64, "--max-in-flight", min=1, help="Requests accepted at once; more get 503."),
    max_parallel: int | None = typer.Option(
        None,
        "--max-parallel",
        min=1,
        help="Documents decoded and routed at once; accepted requests wait their turn with the upload spooled. "
        "Default: the worker slots of the tiers that can run.",
    ),
    log_json: Path | None = typer.Option(None, "--log-json", help="Append the decision log (JSON) to this file."),
    engine: str = typer.Option(
        "local",
        "--engine",
        help="local, or ray: routers as Ray Serve replicas (needs the ray extra; --log-json a folder).",
    ),
    address: str | None = typer.Option(None, "--address", help="Ray cluster to join (--engine ray). Default: local."),
    routers: int = typer.Option(2, "--routers", min=1, help="Router replicas (--engine ray)."),
    gpus_per_router: float | None = typer.Option(None, "--gpus-per-router", min=0, help=GPUS_HELP),
    cpus_per_router: float | None = typer.Option(None, "--cpus-per-router", min=0, help=CPUS_HELP),
    memory_per_router: float | None = typer.Option(None, "--memory-per-router", min=0, help=MEMORY_HELP),
    header_timeout_s: float = typer.Option(
        DEFAULT_HEADER_TIMEOUT_S, "--header-timeout", min=0.1, help="Seconds a client has to send a request's headers."
    ),
    body_timeout_s: float = typer.Option(
        DEFAULT_BODY_TIMEOUT_S, "--body-timeout", min=0.1, help="Seconds a client has to send the whole body; then 408."
    ),
) -> None:
    """Serve POST /v1/extract, GET /healthz, /readyz and /metrics.

    The port is bound before the model tiers load (a port in use fails at once, exit code 1). On
    SIGTERM, requests being routed finish; uploads still arriving are dropped.
    """
    from router.api.router import Router
    from router.cli.common import (
        check_output_files_or_exit,
        check_policy_log_or_exit,
        configure_process,
        load_policy_or_exit,
    )
    from router.service import ServiceSettings, create_app
    from router.service.server import bind, server

    token = _token_or_exit(token)
    loaded = load_policy_or_exit(policy)
    check_output_files_or_exit({"--log-json": log_json if engine == "local" else None})  # ray: a folder
    if engine == "local":
        check_policy_log_or_exit(loaded, log_json)
    try:
        sock = bind(host, port)
    except OSError as exc:
        typer.echo(f"docroute: cannot listen on {host}:{port}: {exc.strerror or exc}", err=True)
        raise typer.Exit(1) from None
    if token:
        typer.echo("docroute: authentication: a bearer token is required on /v1/*, /metrics and the docs", err=True)
    elif host not in LOOPBACK:
        typer.echo(
            f"docroute: warning: serving on {host} without --token: anyone who can reach it may use it", err=True
        )
    else:
        typer.echo("docroute: authentication: none (no token; bound to this machine only)", err=True)
    settings = ServiceSettings(
        token=token,
        max_upload_bytes=int(max_upload_mb * 1_000_000),
        allow_path=allow_path,
        max_in_flight=max_in_flight,
        max_parallel=max_parallel,
        header_timeout_s=header_timeout_s,
        body_timeout_s=body_timeout_s,
    )
    # --log-json is the process's: the service's own events (refusals, timeouts) go there too
    if engine == "local":
        configure_process(loaded, stderr=loaded.logging.stderr, json_path=log_json, hold_malloc=True)
        service = create_app(lambda: Router(loaded), settings)
    else:  # ray: --log-json is a folder, a file for the ingress (this process) and one per replica
        from router.cli.common import ray_or_exit

        ray_or_exit(engine)
        from router.cli import ray

        sizing = {"cpus": cpus_per_router, "gpus": gpus_per_router, "memory_gb": memory_per_router}
        service = ray.service(loaded, settings, address, routers, sizing, log_json)
    grace = int(loaded.deadline_s) + 5
    shown = f"[{host}]" if ":" in host else host
    typer.echo(f"docroute: listening on http://{shown}:{sock.getsockname()[1]} (the tiers load next)", err=True)
    with sock:
        server(service, settings, timeout_graceful_shutdown=grace, log_level="info").run(sockets=[sock])


def _token_or_exit(given: str | None) -> str | None:
    """The token from --token or DOCROUTE_TOKEN (set but empty counts: click reads it as unset), by
    ``check_token``'s rules; exit 2 saying which rule it breaks."""
    import os

    from router.service.settings import check_token

    if given is None and "DOCROUTE_TOKEN" in os.environ:
        given = os.environ["DOCROUTE_TOKEN"]
    try:
        return check_token(given)
    except ValueError as exc:
        typer.echo(f"docroute: {exc}", err=True)
        raise typer.Exit(2) from None
