"""The batch actor: one whole ``Router`` per Ray actor, routing the batches Ray Data hands it.

For each batch it routes the suspects of the ledger one at a time, the rest ``parallelism`` at a
time, writes the batch's lines as one part, and returns the few fields the driver's summary needs.
A retried batch whose part is already written (its actor died after writing it, before Ray had the
result) is answered from the part: nothing is routed twice that was written once.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from router.core.result import DocumentInfo, ErrorSummary, Result
from router.failures.errors import ErrorClass
from router.observe import events, logs
from router.scale.cluster import log_file
from router.scale.ledger import Ledger
from router.scale.output import write_part, written_part

#: The fields of a line that the driver's summary reads.
SUMMARY_FIELDS = ("input", "status", "tier", "error", "duration_ms")


def where_am_i() -> dict[str, Any]:
    """This process on the cluster: Ray node id, actor id (when in an actor), pid, and the resources
    Ray gave it (``CPU``, ``GPU``, ``memory``: ``router.scale.resources``)."""
    import ray

    context = ray.get_runtime_context()
    return {
        "host": context.get_node_id(),
        "actor": context.get_actor_id(),
        "pid": os.getpid(),
        "resources": context.get_assigned_resources(),
    }


def placed_router(policy_spec: dict[str, Any], log_dir: str | None, place: dict[str, Any], *, source: str) -> Any:
    """The Router of a batch actor or a Serve replica. It owns its process: its events go to its own
    file under ``log_dir`` (named by node and pid, which collide only across nodes), tagged with
    its placement; long-running, it holds the malloc settings."""
    from router.api.router import Router
    from router.policy.model import policy_from_dict

    log_json = None
    if log_dir:
        log_json = log_file(log_dir, place["host"], place["pid"])
    logs.set_placement(host=place["host"], actor=place["actor"] or "")
    policy = policy_from_dict(policy_spec, source=source)
    return Router(policy, logger=logs.discard(), log_json=log_json, hold_malloc=True)


class RouterActor:
    """A callable class for ``Dataset.map_batches``: Ray Data makes one per actor of the pool."""

    def __init__(self, policy_spec: dict[str, Any], out_dir: str, *, log_dir: str | None, crash_limit: int, warm: bool):

        self.out_dir = Path(out_dir)
        self.ledger = Ledger(self.out_dir)
        self.crash_limit = crash_limit
        self.place = where_am_i()
        self.router = placed_router(policy_spec, log_dir, self.place, source="<ray batch>")
        policy = self.router.policy
        if warm:
            self.router.warm_up()
        self.max_bytes = policy.limits.max_bytes
        self.log = self.router.log  # the rerun events belong in this router's file
        self.threads = ThreadPoolExecutor(self.router.parallelism(), thread_name_prefix="route")
        _announce(self.out_dir, self.place)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        inputs = [str(name) for name in batch["input"]]
        lines = written_part(self.out_dir, inputs)  # a retry of a batch written whole: nothing to redo
        if lines is None:
            lines = self._lines(inputs)
            write_part(self.out_dir, inputs, lines)
            self.ledger.written(inputs)
        return {
            "input": inputs,
            "summary": [json.dumps({k: line.get(k) for k in SUMMARY_FIELDS}) for line in lines],
        }

    def _lines(self, inputs: list[str]) -> list[dict[str, Any]]:
        records: dict[str, dict[str, Any]] = {}
        for name in inputs:  # suspects first, alone
            crashes = self.ledger.crashes(name)
            if crashes >= self.crash_limit:
                records[name] = self._crashed(name, crashes)
                self.ledger.finish(name)
            elif crashes:
                records[name] = self._route(name, crashes)
        rest = [name for name in inputs if name not in records]
        records.update(zip(rest, self.threads.map(self._route, rest), strict=True))
        return [records[name] for name in inputs]

    def _route(self, name: str, crashes: int = 0) -> dict[str, Any]:
        data, key = _read(Path(name), self.max_bytes)
        answered_before = not crashes and self.ledger.answered(name)  # by a router lost before writing it
        self.ledger.begin(name)
        request_id = uuid.uuid4().hex
        if crashes or answered_before:
            reason = "in_flight" if crashes else "answered"
            events.BATCH_RERUN.emit(self.log, request_id=request_id, key=key, crashes=crashes, reason=reason)
        started = time.monotonic()
        try:
            result = self.router.extract(data if data is not None else name, name=name, request_id=request_id)
        except Exception as exc:  # the document must still get its line
            result = self._failed(name, request_id, ErrorClass.UNKNOWN, f"internal error: {exc!r}"[:300], started)
        self.ledger.finish(name)
        return {"input": name, "key": key, **result.model_dump(mode="json")}

    def _crashed(self, name: str, crashes: int) -> dict[str, Any]:
        message = f"the router process died {crashes} times while routing this document; not tried again"
        request_id, key = uuid.uuid4().hex, _read(Path(name), self.max_bytes)[1]
        events.BATCH_GAVE_UP.emit(self.log, request_id=request_id, key=key, crashes=crashes)
        result = self._failed(name, request_id, ErrorClass.WORKER_CRASHED, message, time.monotonic())
        return {"input": name, "key": key, **result.model_dump(mode="json")}

    def _failed(self, name: str, request_id: str, error: ErrorClass, message: str, started: float) -> Result:
        return Result(
            request_id=request_id,
            status="failed",
            document=DocumentInfo(source=name),
            policy=self.router.policy.name,
            policy_hash=self.router.policy_hash,
            duration_ms=round((time.monotonic() - started) * 1000, 2),
            error=ErrorSummary(error_class=error, message=message),
        )

    def __del__(self) -> None:
        router = getattr(self, "router", None)
        if router is not None:
            router.close()


def _read(path: Path, max_bytes: int) -> tuple[bytes | None, str]:
    """The bytes (None when they cannot be read here: the router names the problem) and the line's key."""
    try:
        if path.is_file() and path.stat().st_size <= max_bytes:
            data = path.read_bytes()
            return data, hashlib.sha256(data).hexdigest()
    except OSError:
        pass
    return None, f"path:{path}"


def _announce(out_dir: Path, place: dict[str, Any]) -> None:
    """Leave a note of this actor (host, actor id, pid, resources) for operators and tests."""
    folder = out_dir / "_actors"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{place['host'][:16]}-{place['pid']}.json").write_text(json.dumps(place))
