"""Helpers shared by commands."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import typer

from router.cli.app import OUTPUT_ERROR_EXIT
from router.failures.errors import PolicyError
from router.observe.outputs import log_problem, output_problem
from router.policy.model import Policy, load_policy

if TYPE_CHECKING:
    from router.api.router import Router
    from router.batch import StopFlag
    from router.batch.progress import Mode, Progress
    from router.forensics.reader import LogSet

PROGRESS_MODES = ("auto", "bar", "plain", "none")


def print_or_exit(text: str) -> None:
    """One line of results on stdout; stdout that cannot take it (a full disk, a reader that went
    away) is one line on stderr and exit code 74, not a traceback."""
    try:
        if sys.stdout is None:  # started with stdout closed
            raise OSError("standard output is closed")
        typer.echo(text)
        sys.stdout.flush()
    except OSError as exc:
        _silence_stdout()
        typer.echo(f"docroute: cannot write the results to stdout: {exc.strerror or exc}", err=True)
        raise typer.Exit(OUTPUT_ERROR_EXIT) from None


def _silence_stdout() -> None:
    """What is left in stdout's buffer would fail again at exit: send it nowhere."""
    if sys.stdout is None:
        return
    with contextlib.suppress(OSError, ValueError, AttributeError):  # no descriptor: nothing to redirect
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, sys.stdout.fileno())
        finally:
            os.close(null)


def load_policy_or_exit(name_or_path: str) -> Policy:
    """The policy, or every problem with it on stderr and exit code 2."""
    try:
        return load_policy(name_or_path)
    except PolicyError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


def configure_process(
    policy: Policy,
    *,
    stderr: bool,
    level: str | None = None,
    json_path: Path | None = None,
    hold_malloc: bool = False,
) -> None:
    """What a command sets up for its own process (a library router never does): the decision log
    on stderr (if ``stderr``; at ``level``, or the policy's) and in ``json_path`` (every event of the
    process: its routers' and its own), and, for long runs, the allocator settings that keep memory
    flat (``router.api.memory``)."""
    from router.api import memory
    from router.observe import logs

    logs.configure(policy.logging, stderr=stderr, level=level, json_path=json_path)
    if hold_malloc:
        memory.hold_malloc_settings()


def check_output_files_or_exit(options: dict[str, Path | None]) -> None:
    """Files a command will write: each in an existing folder, none a folder, no two the same file.
    A problem is one line on stderr and exit code 2, before any work starts."""
    seen: dict[str, str] = {}
    for option, path in options.items():
        if path is None:
            continue
        problem = log_problem(path) if option in LOG_OPTIONS else output_problem(path)
        if problem:
            typer.echo(f"docroute: {option} {path}: {problem}", err=True)
            raise typer.Exit(2)
        identity = os.path.realpath(path)
        if identity in seen:
            typer.echo(f"docroute: {seen[identity]} and {option} name the same file ({path})", err=True)
            raise typer.Exit(2)
        seen[identity] = option


def check_output_folder_or_exit(option: str, path: Path) -> None:
    """A folder a command writes into, by the same rule as its files; exit 2 naming the problem."""
    from router.observe.outputs import folder_problem

    problem = folder_problem(path)
    if problem:
        typer.echo(f"docroute: {option} {path}: {problem}", err=True)
        raise typer.Exit(2)


#: The options that name a decision log, a file appended to and rotated.
LOG_OPTIONS = ("--log-json", "logging.json_path")


def check_policy_log_or_exit(policy: Policy, log_json: Path | None) -> None:
    """The policy's own ``logging.json_path``, when no ``--log-json`` replaces it, checked as that option is."""
    if log_json is None and policy.logging.json_path:
        check_output_files_or_exit({"logging.json_path": Path(policy.logging.json_path)})


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


def progress_mode_or_exit(value: str) -> Mode:
    """``--progress`` checked: auto, bar, plain or none."""
    if value not in PROGRESS_MODES:
        raise typer.BadParameter(f"expected {', '.join(PROGRESS_MODES[:-1])} or none", param_hint="--progress")
    return cast("Mode", value)


@dataclass
class BatchRun:
    router: Router
    stop: StopFlag
    progress: Progress


@contextmanager
def batch_run(
    policy: Policy, *, total: int, progress: Mode, warm: bool, log_json: Path | None, log_stderr: bool = False
) -> Iterator[BatchRun]:
    """A router for a command over many documents (batch, eval): Ctrl-C and SIGTERM set ``stop``,
    model tiers load first when ``warm``, a progress display; all closed on the way out."""
    from router.api.router import Router
    from router.batch import StopFlag, handle_signals, warm_up
    from router.batch.progress import make_progress

    stop = StopFlag()
    configure_process(policy, stderr=log_stderr, hold_malloc=True)
    with handle_signals(stop):
        router = Router(policy, log_json=log_json)
        try:
            if warm:
                warm_up(router, stop)
            bar = make_progress(progress, total)
            try:
                yield BatchRun(router, stop, bar)
            finally:
                bar.close()
        finally:
            router.close()


_LEVELS = ("debug", "info", "warning", "error")


def quieter(level: str, floor: str) -> str:
    """The quieter of two log levels."""
    return max(level, floor, key=_LEVELS.index)


def ray_or_exit(engine: str) -> None:
    """Exit 2 unless ``engine`` is ray and the ``docroute[ray]`` extra is installed: the check before
    ``router.cli.ray`` (the only importer of ``router.scale``) is imported."""
    if engine != "ray":
        raise typer.BadParameter("expected local or ray", param_hint="--engine")
    if importlib.util.find_spec("ray") is None:
        typer.echo("docroute: --engine ray needs the ray extra: pip install 'docroute[ray]'", err=True)
        raise typer.Exit(2)


#: Exit codes of a batch stopped by a signal.
SIGNAL_EXIT = {"SIGINT": 130, "SIGTERM": 143}


def close_batch(summary: Any, summary_json: Path | None) -> None:
    """Print the summary, write it as JSON when asked, and exit as a batch does: 130/143 when a
    signal stopped it, 1 when a document failed (local and cluster batches alike)."""
    for line in summary.lines():
        typer.echo(line, err=True)
    if summary_json:
        try:
            summary_json.write_text(json.dumps(summary.to_dict(), indent=2) + "\n")
        except OSError as exc:
            typer.echo(f"docroute: --summary-json {summary_json}: cannot write: {exc.strerror or exc}", err=True)
            raise typer.Exit(OUTPUT_ERROR_EXIT) from None
    if summary.output_error:
        raise typer.Exit(OUTPUT_ERROR_EXIT)
    if summary.interrupted_by:
        raise typer.Exit(SIGNAL_EXIT.get(summary.interrupted_by, 130))
    if summary.failed:
        raise typer.Exit(1)


def inputs_or_exit(inputs: list[str], own: list[Path | None] | None = None) -> list[Path]:
    """The files the inputs name, less the files this batch writes; each pattern that matches
    nothing is said, and no input at all exits 2."""
    from router.batch import discover

    paths, unmatched = discover(inputs)
    paths = _without_own_files(paths, own or [])
    for pattern in unmatched:
        typer.echo(f"docroute: no file matches {pattern}", err=True)
    if not paths:
        typer.echo("docroute: no inputs", err=True)
        raise typer.Exit(2)
    return paths


def _without_own_files(paths: list[Path], own: list[Path | None]) -> list[Path]:
    """The inputs, less the files this batch writes (a rerun's glob matches its own output)."""
    mine = {os.path.realpath(p) for p in own if p is not None}
    return [p for p in paths if os.path.realpath(p) not in mine]
