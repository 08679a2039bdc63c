"""One Ray cluster for the session's ``ray`` tests, started and torn down as the issue's gotchas say.

- ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``: otherwise Ray rewrites 127.0.0.1 to the host's interface
  address and connecting can hang for minutes.
- The temp dir (and the auth token) in a short temp dir of its own, its ``ray/`` made first; no dashboard;
  4 logical CPUs (with 2, a Ray Data pipeline with an actor pool can deadlock).
- Actors import ``router`` from this checkout (PYTHONPATH), not from wherever docroute is installed.
- After shutdown, any Ray process still alive is killed by pid: none may outlive the session.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

# Read by Ray when it is imported, so set before any test imports it: for every Ray process this session starts.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

from tests.router.surfaces_kit import ROOT


@dataclass
class LocalCluster:
    address: str
    cluster: object  # ray.cluster_utils.Cluster: add_node / remove_node for node failures
    temp_dir: Path


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[LocalCluster]:
    ray = pytest.importorskip("ray", reason="needs the ray extra: pip install 'docroute[ray]'")
    from ray.cluster_utils import Cluster

    # a short path of its own: Ray's socket paths under an xdist worker's temp dir pass the 107-byte limit
    base = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))
    temp_dir = base / "ray"
    temp_dir.mkdir()
    saved = dict(os.environ)
    os.environ.update(
        RAY_TMPDIR=str(base),  # where Ray notes the current cluster's address (ray/ray_current_cluster)
        RAY_AUTH_TOKEN_PATH=str(temp_dir / "auth_token"),
        PYTHONPATH=os.pathsep.join(p for p in (str(ROOT / "src"), str(ROOT), saved.get("PYTHONPATH", "")) if p),
    )
    before = {child.pid for child in psutil.Process().children(recursive=True)}
    try:
        cluster = Cluster(initialize_head=True, head_node_args=node_args(temp_dir, num_cpus=4))
        ray.init(address=cluster.address, log_to_driver=False)
        yield LocalCluster(cluster.address, cluster, temp_dir)
    finally:
        ray.shutdown()
        if "cluster" in locals():
            cluster.shutdown()
        _kill_leftovers(before)
        os.environ.clear()
        os.environ.update(saved)
        shutil.rmtree(base, ignore_errors=True)


def node_args(temp_dir: Path, **more: object) -> dict[str, object]:
    """A simulated node: on 127.0.0.1, no dashboard, a small object store."""
    return {
        "node_ip_address": "127.0.0.1",
        "temp_dir": str(temp_dir),
        "include_dashboard": False,
        "object_store_memory": 100 * 2**20,
        **more,
    }


def _kill_leftovers(before: set[int]) -> None:
    """Ray agents of a killed driver can ignore SIGTERM: whatever the cluster started and left goes."""
    left = [c for c in psutil.Process().children(recursive=True) if c.pid not in before]
    for child in left:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            continue
    psutil.wait_procs(left, timeout=10)
