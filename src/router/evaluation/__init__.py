"""``docroute eval``: run a labelled dataset through the router and score each field.

The documents go through the batch machinery (so an evaluation is parallel, and resumable with
``resume=True``); their lines land in ``OUT/results.jsonl``, the scores in ``OUT/report.md``,
``OUT/scores.json`` and ``OUT/accuracy.png``. Labels with a ``kind`` are also scored per kind, and
given ``texts`` (a folder) the tiers are asked for the text they read, which is written there
(``ceiling.TextKeeper``) and each field's ceiling is given beside it.

Imports ``batch`` and below; imported only by the CLI (``docroute eval``) and ``bench/rules_on_text.py``.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from router.batch.progress import Progress
from router.batch.run import BatchSettings, Extractor, StopFlag, run_batch
from router.batch.sink import ResultSink, read_records
from router.batch.summary import Summary
from router.evaluation import whatif
from router.evaluation.ceiling import TextKeeper, read_texts
from router.evaluation.dataset import DatasetError, Label, load_labels
from router.evaluation.report import write_outputs
from router.evaluation.scoring import Group, score, score_kinds

__all__ = ["DatasetError", "Evaluation", "evaluate"]


@dataclass
class Evaluation:
    summary: Summary
    groups: dict[str, Group]
    outputs: dict[str, Path]
    kinds: dict[str, Group] = field(default_factory=dict)


def evaluate(
    router: Extractor,
    dataset: Path,
    out: Path,
    settings: BatchSettings,
    *,
    limit: int | None = None,
    resume: bool = False,
    stop: StopFlag | None = None,
    progress: Progress | None = None,
    texts: Path | None = None,
) -> Evaluation:
    """Run and score ``dataset``. An interrupted run returns no outputs (rerun with ``resume``)."""
    labels = load_labels(dataset, limit=limit)
    results = out / "results.jsonl"
    if results.exists() and not resume:
        results.unlink()
    extractor = router if texts is None else TextKeeper(router, texts)
    with ResultSink(results) as sink:
        summary = run_batch(extractor, [label.image for label in labels], sink, settings, stop=stop, progress=progress)
    if summary.interrupted_by:
        return Evaluation(summary, {}, {})
    pairs = _pair(labels, read_records(results))
    kept = read_texts(texts) if texts is not None else None
    groups, kinds = score(pairs, kept), score_kinds(pairs, kept)
    outputs = write_outputs(groups, _context(router, dataset, summary, settings), out, kinds)
    outputs.update(_frontier(getattr(router, "policy", None), pairs, out))
    return Evaluation(summary, groups, outputs, kinds)


def _frontier(policy: Any, pairs: list[tuple[Label, dict[str, Any]]], out: Path) -> dict[str, Path]:
    """With accept thresholds: the cascade re-decided at the policy's own and over a grid (``whatif``)."""
    fields = list(dict.fromkeys(n for t in getattr(policy, "tiers", []) for n in policy.thresholds(t.name)))
    if not fields:
        return {}
    costs = {t.name: t.cost for t in policy.tiers}
    points = [whatif.what_if(pairs, policy.accept, costs), *whatif.frontier(pairs, fields, costs)]
    paths = {"frontier": out / "frontier.md", "frontier_chart": out / "frontier.png"}
    table = whatif.frontier_table(points, policy.cost_unit)
    note = "First row: the policy's own thresholds; then one threshold for every field. " + whatif.HOW
    paths["frontier"].write_text(f"# Cost-quality frontier\n\n{note}\n\n{table}\n", encoding="utf-8")
    whatif.write_frontier_chart(points[1:], paths["frontier_chart"], policy.cost_unit)
    return paths


def _pair(labels: list[Label], records: list[dict[str, Any]]) -> list[tuple[Label, dict[str, Any]]]:
    by_input = {os.path.realpath(r["input"]): r for r in records if "input" in r}
    return [(label, by_input[key]) for label in labels if (key := os.path.realpath(label.image)) in by_input]


def _context(router: Any, dataset: Path, summary: Summary, settings: BatchSettings) -> dict[str, Any]:
    policy = getattr(router, "policy", None)
    return {
        "dataset": str(dataset),
        "policy": getattr(policy, "name", "?"),
        "policy_hash": getattr(router, "policy_hash", "?"),
        "elapsed_s": summary.elapsed_s,
        "jobs": settings.jobs,
        "when": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
