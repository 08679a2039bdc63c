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

import contextlib
import json
import math
import os
import queue
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from router.batch import StopFlag, Summary
from router.batch.progress import NoProgress, Progress
from router.observe import events
from router.observe.logs import get_logger
from router.policy.model import Policy, machine_cores
from router.scale.output import done_inputs, drop_repeats, remove_leftovers
from router.scale.resources import Sizing, on_cores

#: How often the driver looks at its stop flag while it waits for results, and how long, once stopped,
#: it waits for Ray Data's iterator to close.
STOP_POLL_S = 0.2
STOP_WAIT_S = 10.0


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
        for batch in _until_stopped(_pipeline(todo, out_dir, policy, settings), stop):
            for raw in batch["summary"]:
                record = json.loads(raw)
                summary.add(record)
                progress.advance(record["status"])
        drop_repeats(out_dir)
    summary.interrupted_by = stop.reason
    summary.elapsed_s = time.monotonic() - started
    events.BATCH_FINISHED.emit(log, **summary.to_dict())
    return summary


def _until_stopped(dataset: Any, stop: StopFlag) -> Iterator[dict[str, Any]]:
    """The pipeline's batches as they come, until it ends or ``stop`` is set, even while none comes (the
    routers waiting for a node, a GPU): Ray Data's iterator runs in a thread, which closes it (its
    executor stops the actors) at the first batch after the stop."""
    batches: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=1)

    def hand_over(kind: str, item: Any) -> bool:
        while not stop.requested.is_set():
            with contextlib.suppress(queue.Full):
                batches.put((kind, item), timeout=STOP_POLL_S)
                return True
        return False

    def pump() -> None:
        iterator = iter(dataset.iter_batches(batch_size=None, batch_format="numpy"))
        try:
            for batch in iterator:
                if not hand_over("batch", batch):
                    return
            hand_over("end", None)
        except BaseException as exc:  # handed to the driver's thread, which raises it
            hand_over("error", exc)
        finally:
            getattr(iterator, "close", lambda: None)()

    pumping = threading.Thread(target=pump, name="ray-data-results", daemon=True)
    pumping.start()
    while not stop.requested.is_set():
        with contextlib.suppress(queue.Empty):
            kind, item = batches.get(timeout=STOP_POLL_S)
            if kind == "end":
                return
            if kind == "error":
                raise item
            yield item
    pumping.join(STOP_WAIT_S)  # a pipeline still waiting for its first batch is left to the process's exit


def batch_size(policy: Policy, settings: ClusterSettings) -> int:
    return settings.batch_size or max(1, 2 * sum(t.slots for t in policy.tiers))


def _pipeline(todo: list[str], out_dir: Path, policy: Policy, settings: ClusterSettings):
    import ray.data

    policy = on_cores(policy, machine_cores())  # each actor runs the workers its CPUs were asked for
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
