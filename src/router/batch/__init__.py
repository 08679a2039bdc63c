"""Batch jobs: many documents in, one JSONL line per document out, resumable and interrupt-safe. Imports
``api`` (through ``from router import Router``), ``core``, ``observe`` and below; imported by the CLI, ``evaluation``
and ``scale``."""

from router.batch.discover import discover
from router.batch.run import BatchSettings, StopFlag, handle_signals, run_batch, warm_up
from router.batch.sink import ResultSink
from router.batch.summary import Summary, percentile

__all__ = [
    "BatchSettings",
    "ResultSink",
    "StopFlag",
    "Summary",
    "discover",
    "handle_signals",
    "percentile",
    "run_batch",
    "warm_up",
]
