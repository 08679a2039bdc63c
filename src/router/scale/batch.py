"""``docroute batch --engine ray``: a Ray Data pipeline over the inputs through an actor pool of routers.

The driver lists the inputs (on storage every node sees), leaves out those that already have their
line in OUT (``router.scale.output``) and streams the rest through ``map_batches`` to a pool of
``RouterActor``; Ray Data's streaming executor keeps only a bounded number of batches in flight
(backpressure). Each actor writes its batches' parts itself; the driver only tallies the summary.

Retries are bounded: an actor is restarted at most ``max_restarts`` times and a batch retried at
most ``max_task_retries`` times (Ray Data's defaults are unbounded, so a document that kills the
router process would loop forever); the ledger (``router.scale.ledger``) turns such a document into
one failed line after ``crash_limit`` crashes. When the bounds are spent anyway (say, many poison
documents on one actor), the run ends with an error and a rerun resumes where it stopped.
"""

from __future__ import annotations

import json
import math
import os
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from router import events
from router.batch import StopFlag, Summary
from router.batch.progress import NoProgress, Progress
from router.logs import get_logger
from router.policy import Policy
from router.scale.output import done_inputs, drop_repeats, remove_leftovers
from router.scale.resources import Sizing


@dataclass
class ClusterSettings:
    address: str | None = None
    routers: int = 1
    sizing: Sizing = field(default_factory=Sizing)  # each router's Ray resources (router.scale.resources)
    batch_size: int | None = None  # documents per part; default: twice the policy's worker slots
    crash_limit: int = 2
    max_restarts: int = 8
    max_task_retries: int = 8
    resources: dict[str, float] = field(default_factory=dict)  # custom Ray resources each router needs
    log_dir: Path | None = None
    warm: bool = True


def run_cluster_batch(
    paths: Sequence[Path],
    out_dir: Path,
    policy: Policy,
    settings: ClusterSettings,
    *,
    stop: StopFlag | None = None,
    progress: Progress | None = None,
) -> Summary:
    """Route every input without a line in ``out_dir`` on the cluster; return what happened."""
    stop = stop or StopFlag()
    progress = progress or NoProgress()
    started = time.monotonic()
    out_dir.mkdir(parents=True, exist_ok=True)
    remove_leftovers(out_dir)
    inputs = [os.path.abspath(p) for p in paths]
    done = done_inputs(out_dir)
    todo = [name for name in inputs if name not in done]
    summary = Summary(total=len(inputs), already_done=len(inputs) - len(todo))
    progress.skipped(summary.already_done)
    log = get_logger()
    events.BATCH_STARTED.emit(log, inputs=len(inputs), already_in_output=summary.already_done)
    if todo:
        for batch in _pipeline(todo, out_dir, policy, settings).iter_batches(batch_size=None, batch_format="numpy"):
            for raw in batch["summary"]:
                record = json.loads(raw)
                summary.add(record)
                progress.advance(record["status"])
            if stop.requested.is_set():
                break
        drop_repeats(out_dir)
    summary.interrupted_by = stop.reason
    summary.elapsed_s = time.monotonic() - started
    events.BATCH_FINISHED.emit(log, **summary.to_dict())
    return summary


def batch_size(policy: Policy, settings: ClusterSettings) -> int:
    return settings.batch_size or max(1, 2 * sum(t.workers for t in policy.tiers))


def _pipeline(todo: list[str], out_dir: Path, policy: Policy, settings: ClusterSettings):
    import ray.data

    size = batch_size(policy, settings)
    items = ray.data.from_items([{"input": name} for name in todo], override_num_blocks=math.ceil(len(todo) / size))
    with warnings.catch_warnings():  # Ray 2.60 takes the actors' retry bounds only as ray_remote_args
        warnings.filterwarnings("ignore", message="`ray_remote_args` is deprecated")
        return _map(items, size, out_dir, policy, settings)


def _map(items, size: int, out_dir: Path, policy: Policy, settings: ClusterSettings):
    import ray.data

    from router.scale.actor import RouterActor

    return items.map_batches(
        RouterActor,
        batch_size=size,
        compute=ray.data.ActorPoolStrategy(size=settings.routers),
        fn_constructor_kwargs={
            "policy_spec": policy.model_dump(mode="json"),
            "out_dir": str(out_dir.resolve()),
            "log_dir": str(settings.log_dir.resolve()) if settings.log_dir else None,
            "crash_limit": settings.crash_limit,
            "warm": settings.warm,
        },
        **settings.sizing.resources(policy).ray_options(),
        resources=settings.resources or None,
        max_restarts=settings.max_restarts,
        max_task_retries=settings.max_task_retries,
    )
