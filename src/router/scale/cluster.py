"""Joining a Ray cluster (or starting a local one) for a docroute command, and where each process
of it logs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from router.observe import logs

#: Set for a local cluster unless the caller set them: without the first, Ray rewrites 127.0.0.1 to
#: the host's interface address and connecting can hang for minutes; the second keeps usage reports off.
LOCAL_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}


def connect(address: str | None, **local_options: Any) -> bool:
    """Join the cluster at ``address`` ("auto": the one started on this node with ``ray start``; also
    read from RAY_ADDRESS, as under ``ray job submit``), or start a local one without a dashboard (with
    ``local_options``: ``ray.init``'s). True when it started one."""
    import ray

    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, log_to_driver=False)
        return False
    for name, value in LOCAL_ENV.items():
        os.environ.setdefault(name, value)
    ray.init(include_dashboard=False, log_to_driver=False, **local_options)
    return True


def largest_node() -> dict[str, float]:
    """The most ``CPU``, ``GPU`` and ``memory`` any live node of the connected cluster has."""
    import ray

    nodes = [node["Resources"] for node in ray.nodes() if node.get("Alive")]
    return {key: max((n.get(key, 0.0) for n in nodes), default=0.0) for key in ("CPU", "GPU", "memory")}


def log_file(log_dir: str | os.PathLike[str], host: str, pid: int, role: str = "") -> Path:
    """A process's own decision log in the cluster's log folder: ``[ROLE-]NODE-PID.jsonl``, NODE the first
    16 characters of its Ray node id (pids collide across nodes). Routers have no role; the service's
    ingress is ``ingress``, a batch's driver ``driver``. The folder is the cluster's own: made here."""
    folder = Path(log_dir)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{role + '-' if role else ''}{host[:16]}-{pid}.jsonl"


def place_this_process(log_dir: str | os.PathLike[str], role: str) -> Path:
    """Tag every event of this (connected) process with its Ray node id; return its log file."""
    import ray

    host = ray.get_runtime_context().get_node_id()
    logs.set_placement(host=host)
    return log_file(log_dir, host, os.getpid(), role)
