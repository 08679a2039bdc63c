"""``docroute batch``: many documents to a JSONL file, one line each, resumable."""

from __future__ import annotations

from pathlib import Path

import typer

from router.cli.app import CPUS_HELP, GPUS_HELP, MEMORY_HELP, OUTPUT_ERROR_EXIT, POLICY_HELP, app

#: Exit codes of an interrupted run, as a shell reports a process killed by the signal.


@app.command()
def batch(
    inputs: list[str] = typer.Argument(..., help="Files, folders (walked for images and PDFs) and globs."),
    out: Path = typer.Option(..., "--out", "-o", help="JSONL output; appended to, so a rerun resumes."),
    policy: str = typer.Option("default", "--policy", "-p", help=POLICY_HELP),
    jobs: int | None = typer.Option(
        None, "--jobs", "-j", min=1, help="Documents at once. Default: the worker slots of the tiers that can run."
    ),
    log_json: Path | None = typer.Option(None, "--log-json", help="Append the decision log (JSON) to this file."),
    log_stderr: bool = typer.Option(False, "--log-stderr", help="Also print the decision log on stderr."),
    warm: bool = typer.Option(
        True, "--warm-up/--no-warm-up", help="Wait for model tiers to load before the first document."
    ),
    progress: str = typer.Option("auto", "--progress", help="auto (a bar on a terminal), bar, plain or none."),
    summary_json: Path | None = typer.Option(None, "--summary-json", help="Write the summary as JSON here."),
    grace_s: float = typer.Option(30.0, "--grace", help="Seconds documents in flight get to finish on Ctrl-C."),
    engine: str = typer.Option(
        "local",
        "--engine",
        help="local, or ray: a Ray cluster (needs the ray extra); OUT and --log-json are then folders.",
    ),
    address: str | None = typer.Option(None, "--address", help="Ray cluster to join (--engine ray). Default: local."),
    routers: int = typer.Option(1, "--routers", min=1, help="Router actors (--engine ray)."),
    gpus_per_router: float | None = typer.Option(None, "--gpus-per-router", min=0, help=GPUS_HELP),
    cpus_per_router: float | None = typer.Option(None, "--cpus-per-router", min=0, help=CPUS_HELP),
    memory_per_router: float | None = typer.Option(None, "--memory-per-router", min=0, help=MEMORY_HELP),
    retry_failed: bool = typer.Option(
        False, "--retry-failed", help="Also read again inputs whose line failed because of the document itself."
    ),
    wait: bool = typer.Option(False, "--wait", help="If another batch is writing OUT, wait for it instead of failing."),
) -> None:
    """Extract every input into OUT, one JSON line per input (a result or a classified error).

    A rerun resumes: inputs are matched to OUT's lines by content (the sha256 of their bytes), not by
    name, so a renamed or moved copy of a done input is done too. Inputs whose line failed for a
    passing reason (no tier could run, breaker open, timeout, crashed worker) are read again and
    their line replaced; failures of the document itself (bad_input, invalid_output) are kept unless
    --retry-failed. One batch at a time may write OUT (OUT.lock). On Ctrl-C or SIGTERM, documents in
    flight finish (a second signal abandons them), the summary is printed and the exit code is 130
    or 143; otherwise 0, or 1 if any document failed; 2 for a usage error.
    """
    from router.batch import BatchSettings, ResultSink, run_batch
    from router.batch.sink import NotAnOutputError, OutputBusyError, OutputWriteError, lock_path
    from router.cli.common import (
        batch_run,
        check_output_files_or_exit,
        check_policy_log_or_exit,
        close_batch,
        inputs_or_exit,
        load_policy_or_exit,
        progress_mode_or_exit,
        ray_or_exit,
    )

    mode = progress_mode_or_exit(progress)
    if engine != "local":  # OUT and --log-json are folders there; resume and retries are its own
        ray_or_exit(engine)
        from router.cli import ray

        ray.batch(
            inputs,
            out,
            policy=policy,
            address=address,
            routers=routers,
            sizing={"cpus": cpus_per_router, "gpus": gpus_per_router, "memory_gb": memory_per_router},
            progress=mode,
            log_json=log_json,
            warm=warm,
            summary_json=summary_json,
        )
        return
    check_output_files_or_exit({"--out": out, "--log-json": log_json, "--summary-json": summary_json})
    paths = inputs_or_exit(inputs, own=[out, lock_path(out), log_json, summary_json])
    loaded = load_policy_or_exit(policy)
    check_policy_log_or_exit(loaded, log_json)
    try:
        sink = ResultSink(out, retry_failed=retry_failed, wait=wait)
    except (OutputBusyError, NotAnOutputError) as exc:
        typer.echo(f"docroute: {exc}", err=True)
        raise typer.Exit(2) from None
    except OSError as exc:  # the lock cannot be made next to OUT (a read-only or special folder)
        typer.echo(f"docroute: --out {out}: {exc.strerror} ({exc.filename})", err=True)
        raise typer.Exit(2) from None
    summary = None
    try:
        with (
            sink,
            batch_run(
                loaded, total=len(paths), progress=mode, warm=warm, log_json=log_json, log_stderr=log_stderr
            ) as run,
        ):
            jobs = jobs or run.router.parallelism()
            settings = BatchSettings(jobs=jobs, max_bytes=loaded.limits.max_bytes, grace_s=grace_s)
            summary = run_batch(run.router, paths, sink, settings, stop=run.stop, progress=run.progress)
    except OutputWriteError as exc:  # the last flush or the compaction at close: the lines written stand
        if summary is None:
            typer.echo(f"docroute: {exc}; rerun the same command to finish once it can be written", err=True)
            raise typer.Exit(OUTPUT_ERROR_EXIT) from None
        summary.output_error = summary.output_error or str(exc)
    close_batch(summary, summary_json)
