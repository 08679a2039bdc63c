"""``docroute drill``: a chaos drill against a real router, and its audit."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from router.cli.app import app

DEFAULT_FAULTS = "all=0.2"


@app.command()
def drill(
    requests: int = typer.Option(1000, "--requests", "-n", min=1, help="Requests to send."),
    faults: str = typer.Option(
        DEFAULT_FAULTS,
        "--faults",
        "-f",
        help="Fault rates per model call, e.g. sticky_cuda=0.05,hang=0.02,segfault=0.02,cuda_oom=0.03,"
        "garbage=0.05,exit=0.01 (modes: sticky_cuda, cuda_oom, hang, segfault, exit, garbage, slow; "
        "all=R spreads R over every mode).",
    ),
    policy: str | None = typer.Option(
        None,
        "--policy",
        "-p",
        help="Drill this policy: its model and faulty tiers get faulty stand-ins with --faults, keeping "
        "their settings. Default: the drill's own chain of two faulty model tiers and --last-tier.",
    ),
    last_tier: str = typer.Option(
        "ocr_rules",
        "--last-tier",
        help="The drill chain's last tier: ocr_rules (Tesseract on the rendered receipts), fixed (instant "
        "answers: a quicker drill of the router alone) or none (no safety net).",
    ),
    concurrency: int = typer.Option(4, "--concurrency", "-c", min=1, max=256, help="Requests at once."),
    workers: int = typer.Option(2, "--workers", min=1, max=16, help="Worker processes per model tier (own chain)."),
    capacity: int = typer.Option(
        1, "--capacity", min=1, max=64, help="Requests each model worker batches at once (own chain)."
    ),
    timeout_s: float = typer.Option(2.0, "--timeout", min=0.1, help="Model tiers' timeout_s (own chain)."),
    bad_inputs: float = typer.Option(
        0.0, "--bad-inputs", min=0.0, max=1.0, help="Share of requests that send a file of the bad-input corpus."
    ),
    warmup: int = typer.Option(200, "--warmup", min=0, help="Uncounted requests before memory is measured."),
    seed: int = typer.Option(0, "--seed", help="Seed for the inputs and the fault draws (own chain)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as one JSON object."),
    log_json: Path | None = typer.Option(None, "--log-json", help="Write the decision log (JSON) to this file."),
) -> None:
    """Send REQUESTS documents through a router whose tiers inject faults; report what became of each.

    Exit code 0 when every input got exactly one result, bad inputs were refused as such, nothing
    raised and no child process was left; 1 otherwise; 2 for bad arguments.
    """
    from router.cli.common import check_output_files_or_exit
    from router.drill import DrillSettings, FaultSpecError, drill_policy, parse_faults, run_drill, with_fault_stand_ins

    check_output_files_or_exit({"--log-json": log_json})
    if last_tier not in ("fixed", "ocr_rules", "none"):
        raise typer.BadParameter("expected fixed, ocr_rules or none", param_hint="--last-tier")
    try:
        rates = parse_faults(faults)
    except FaultSpecError as exc:
        raise typer.BadParameter(str(exc), param_hint="--faults") from None
    if policy is None:
        chosen = drill_policy(
            rates,
            last_tier=last_tier,  # type: ignore[arg-type]
            workers=workers,
            capacity=capacity,
            timeout_s=timeout_s,
            seed=seed,
        )
    else:
        from router.cli.common import load_policy_or_exit

        try:
            chosen = with_fault_stand_ins(load_policy_or_exit(policy), rates)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--policy") from None
    settings = DrillSettings(
        requests=requests, concurrency=concurrency, warmup=warmup, bad_input_rate=bad_inputs, seed=seed
    )
    report = run_drill(chosen, settings, log_json=log_json)
    if as_json:
        typer.echo(json.dumps(report.to_dict()))
    else:
        typer.echo("\n".join(report.lines()))
    if not report.passed:
        raise typer.Exit(1)
