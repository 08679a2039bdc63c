"""``docroute eval``: accuracy and latency on a labelled dataset, as a report and a chart."""

from __future__ import annotations

from pathlib import Path

import typer

from router.cli.app import POLICY_HELP, app


@app.command("eval")
def evaluate(
    dataset: Path = typer.Argument(..., exists=True, file_okay=False, help="A folder with labels.jsonl and images."),
    policy: str = typer.Option("default", "--policy", "-p", help=POLICY_HELP),
    out: Path = typer.Option(Path("eval-report"), "--out", "-o", help="Where report.md, accuracy.png go."),
    limit: int | None = typer.Option(None, "--limit", "-n", min=1, help="Only the first N labelled documents."),
    jobs: int | None = typer.Option(None, "--jobs", "-j", min=1, help="Documents at once (default: the policy's)."),
    resume: bool = typer.Option(False, "--resume", help="Keep OUT/results.jsonl and read only what is missing."),
    log_json: Path | None = typer.Option(None, "--log-json", help="Append the decision log (JSON) to this file."),
    warm: bool = typer.Option(
        True, "--warm-up/--no-warm-up", help="Wait for model tiers to load before the first document."
    ),
    progress: str = typer.Option("auto", "--progress", help="auto, bar, plain or none."),
    ceiling: bool = typer.Option(
        True,
        "--ceiling/--no-ceiling",
        help="Keep the text the OCR tiers read (in OUT/ocr-text, never in logs) to report each field's ceiling.",
    ),
) -> None:
    """Per-field strict and normalised accuracy, by answering tier, and latency percentiles."""
    from router.batch import BatchSettings
    from router.batch.sink import NotAnOutputError, OutputBusyError
    from router.cli.common import (
        SIGNAL_EXIT,
        batch_run,
        check_output_files_or_exit,
        check_output_folder_or_exit,
        check_policy_log_or_exit,
        load_policy_or_exit,
        progress_mode_or_exit,
    )
    from router.evaluation import DatasetError, evaluate, load_labels

    mode = progress_mode_or_exit(progress)
    check_output_files_or_exit({"--log-json": log_json})
    check_output_folder_or_exit("--out", out)
    try:
        count = len(load_labels(dataset, limit=limit))
    except DatasetError as exc:
        typer.echo(f"docroute: {exc}", err=True)
        raise typer.Exit(2) from None
    loaded = load_policy_or_exit(policy)
    check_policy_log_or_exit(loaded, log_json)
    texts = _keep_texts(out / "ocr-text", resume=resume) if ceiling else None
    try:
        with batch_run(loaded, total=count, progress=mode, warm=warm, log_json=log_json) as run:
            settings = BatchSettings(jobs=jobs or run.router.parallelism(), max_bytes=loaded.limits.max_bytes)
            result = evaluate(
                run.router,
                dataset,
                out,
                settings,
                limit=limit,
                resume=resume,
                stop=run.stop,
                progress=run.progress,
                texts=texts,
            )
    except (OutputBusyError, NotAnOutputError) as exc:  # OUT/results.jsonl: another eval's, or not one at all
        typer.echo(f"docroute: {exc}", err=True)
        raise typer.Exit(2) from None
    if result.summary.interrupted_by:
        typer.echo(f"docroute: interrupted; rerun with --resume to finish ({out / 'results.jsonl'})", err=True)
        raise typer.Exit(SIGNAL_EXIT.get(result.summary.interrupted_by, 130))
    typer.echo(result.outputs["report"].read_text(encoding="utf-8").split("\n## By answering tier")[0])
    typer.echo(f"report: {result.outputs['report']}\nchart:  {result.outputs['chart']}")
    if "frontier" in result.outputs:
        typer.echo(result.outputs["frontier"].read_text(encoding="utf-8"))
        typer.echo(f"frontier: {result.outputs['frontier']}\nchart:    {result.outputs['frontier_chart']}")


def _keep_texts(folder: Path, *, resume: bool) -> Path:
    """The folder the evaluation writes the text the tiers read into: emptied unless resuming."""
    import shutil

    if folder.exists() and not resume:
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return folder
