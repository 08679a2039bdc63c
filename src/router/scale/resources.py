"""What one router (a batch actor or a Serve replica) asks Ray for, derived from its policy.

- **CPUs:** one for the router process (decoding, PDF rendering, supervising its workers), plus one per
  OCR slot: the slots (``workers`` x ``capacity``) of each tier whose backend runs OCR (``ocr_rules``,
  ``ocr_llm``: their options have ``ocr``). Tesseract runs one thread per page (``OMP_THREAD_LIMIT=1``) and RapidOCR's
  Python steps hold a core, so a slot is a core.
- **GPUs:** the GPUs its model tiers name: a policy's ``gpu: N`` is device N among those Ray gives the
  actor (``CUDA_VISIBLE_DEVICES``), so a router needs N + 1 of them. Routers that share a GPU take a
  fraction of one (``gpus=0.5``: two per device); a router that needs several GPUs cannot share them.
- **Memory:** the router process, plus each worker process its tiers can hold at once (a tier of
  ``isolation: process`` has at most ``workers`` processes: a recycle stops the old process before it
  starts the new one, ``router.workers.pool``; ``capacity`` batches requests inside one process, whose
  extra memory is the GPU's), plus each OCR slot's working memory.

The per-process figures are budgets, measured where this machine can (2 cores, no GPU) and estimated
where it cannot; ``docs/scaling.md`` prints them with the table this module renders for the shipped
policies (``python -m router.scale.resources [--check]``). Every figure can be overridden
(``--cpus-per-router``, ``--gpus-per-router``, ``--memory-per-router``).
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from router.policy.model import Policy, TierPolicy, load_policy

GB = 10**9
#: The router process with Ray's core worker in it: 0.08 GB measured for the default policy's router
#: (Tesseract runs as a child per page), 0.30 GB for the cpu policy's (RapidOCR's models inline), plus
#: about 0.1 GB of Ray's own per actor.
ROUTER_GB = 0.4
#: A worker process without a model: the interpreter, docroute's child side and a backend (0.08 GB measured).
WORKER_GB = 0.1
#: A model worker on a GPU: torch and transformers imported (0.57 GB measured, CPU build), the CUDA
#: libraries and context (about 1 GB, estimated), and the checkpoint's shards mapped while they are
#: copied to the GPU (page cache the kernel can reclaim, up to a shard of a few GB; 2 GB budgeted).
MODEL_WORKER_GB = 3.5
#: An OCR slot's working memory: a Tesseract process, or RapidOCR's inference buffers (the cpu policy's
#: router holds 0.22 GB more than the default policy's with its two slots).
OCR_SLOT_GB = 0.15
#: The policies the documentation sizes (the ones docroute ships).
SHIPPED = ("default", "cpu")
#: Routers sharing one GPU in the documented layout (two on an H200).
SHARED = 2
#: The cores a tier of ``workers: cores`` is sized for in the documented table (this project's machines).
DOC_CORES = 2


@dataclass(frozen=True)
class RouterResources:
    """Ray's resources for one router, and what the sizing could not know."""

    num_cpus: float
    num_gpus: float
    memory_bytes: int
    notes: tuple[str, ...] = field(default=())

    def ray_options(self) -> dict[str, Any]:
        """As ``ray_remote_args`` / ``ray_actor_options`` take them."""
        return {"num_cpus": self.num_cpus, "num_gpus": self.num_gpus, "memory": self.memory_bytes}


@dataclass(frozen=True)
class Sizing:
    """What the command line says of each router's resources; None: derived from the policy."""

    cpus: float | None = None
    gpus: float | None = None
    memory_gb: float | None = None

    def resources(self, policy: Policy) -> RouterResources:
        return router_resources(policy, cpus=self.cpus, gpus=self.gpus, memory_gb=self.memory_gb)


def router_resources(
    policy: Policy, *, cpus: float | None = None, gpus: float | None = None, memory_gb: float | None = None
) -> RouterResources:
    """One router's resources for ``policy``; ``cpus``, ``gpus`` and ``memory_gb`` override the derived
    figures (``gpus`` below 1 shares a GPU between routers)."""
    needed_gpus = gpus_needed(policy)
    if gpus is not None and 0 < gpus < 1 and needed_gpus > 1:
        raise ValueError(f"policy {policy.name!r} names {needed_gpus} GPUs; a router cannot share several GPUs")
    memory = memory_gb if memory_gb is not None else memory_needed_gb(policy)
    return RouterResources(
        num_cpus=cpus if cpus is not None else 1 + ocr_slots(policy),
        num_gpus=gpus if gpus is not None else needed_gpus,
        memory_bytes=int(memory * GB),
        notes=() if memory_gb is not None else _cpu_model_notes(policy),
    )


def fit(
    policy: Policy, sizing: Sizing, routers: int, node: dict[str, float], *, local: bool
) -> tuple[Sizing, list[str]]:
    """``sizing`` as ``routers`` routers can have it next to ``node`` (the largest node of the cluster:
    Ray's ``CPU``, ``GPU``, ``memory``), and a line for each thing that changed or will wait. On a
    cluster started here (``local``), which will not grow, a GPU it lacks is dropped (the policy's
    model tiers are then unavailable and its other tiers answer) and the memory is shared out; on a
    cluster joined, nothing is lowered (an autoscaler may bring the node), the wait is said. Figures
    the options set are kept."""
    derived = sizing.resources(policy)
    changes: dict[str, float] = {}
    notes: list[str] = []
    gpus, memory_gb = node.get("GPU", 0.0), node.get("memory", 0.0) / GB
    if sizing.gpus is None and derived.num_gpus > gpus:
        if local and not gpus:
            changes["gpus"] = 0.0
            notes.append("no GPU here: the routers start without one (the policy's model tiers are unavailable)")
        else:
            notes.append(f"a router needs {derived.num_gpus:g} GPU(s) and no node has that many now: it waits for one")
    wanted_gb = derived.memory_bytes / GB
    if sizing.memory_gb is None and wanted_gb * (routers if local else 1) > memory_gb:
        if local:
            changes["memory_gb"] = round(memory_gb / routers, 2)
            notes.append(
                f"{routers} router(s) of {wanted_gb:.2f} GB do not fit in this machine's {memory_gb:.1f} GB: each "
                f"takes {changes['memory_gb']:.2f} GB"
            )
        else:
            notes.append(f"a router needs {wanted_gb:.2f} GB and no node has that much memory now: it waits for one")
    if sizing.cpus is None and derived.num_cpus > node.get("CPU", 0.0) and not local:
        notes.append(f"a router needs {derived.num_cpus:g} CPUs and no node has that many now: it waits for one")
    return dataclasses.replace(sizing, **changes), notes


def on_cores(policy: Policy, cores: int) -> Policy:
    """``policy`` with each tier of ``workers: cores`` given ``cores`` workers: as a router on a machine of
    that many cores runs it (the driver sends the actors a policy resolved so, for the CPUs it asks)."""
    tiers = [t.model_copy(update={"workers": cores}) if t.workers == "cores" else t for t in policy.tiers]
    return policy.model_copy(update={"tiers": tiers})


def ocr_slots(policy: Policy) -> int:
    return sum(tier.slots for tier in policy.tiers if _runs_ocr(tier))


def gpus_needed(policy: Policy) -> int:
    """Devices the router must see: its model tiers' highest ``gpu`` index, plus one."""
    indices = [
        getattr(tier.backend, "gpu", 0) for tier in policy.tiers if getattr(tier.backend, "device", None) == "cuda"
    ]
    indices += [0 for tier in policy.tiers if getattr(tier.backend, "cuda", None) == "on"]  # faulty: real faults
    return max(indices) + 1 if indices else 0


def memory_needed_gb(policy: Policy) -> float:
    workers = sum(
        tier.worker_count * _worker_gb(tier) for tier in policy.tiers if tier.effective_isolation == "process"
    )
    return round(ROUTER_GB + workers + OCR_SLOT_GB * ocr_slots(policy), 2)


def _worker_gb(tier: TierPolicy) -> float:
    return MODEL_WORKER_GB if getattr(tier.backend, "device", None) is not None else WORKER_GB


def _runs_ocr(tier: TierPolicy) -> bool:
    return "ocr" in type(tier.backend).model_fields


def _cpu_model_notes(policy: Policy) -> tuple[str, ...]:
    return tuple(
        f"tier {tier.name!r} runs its model on the CPU: its weights, in each of its {tier.worker_count} worker(s), "
        "come on top of this memory (set --memory-per-router)"
        for tier in policy.tiers
        if getattr(tier.backend, "device", None) == "cpu"
    )


# -- the table in docs/scaling.md ----------------------------------------------------------------

DOC = Path(__file__).resolve().parents[3] / "docs" / "scaling.md"
BEGIN, END = "<!-- BEGIN GENERATED: python -m router.scale.resources -->", "<!-- END GENERATED -->"


def sizing_table(policies: tuple[str, ...] = SHIPPED) -> str:
    """Per shipped policy and layout, one router's resources (markdown)."""
    rows = [
        "| policy | layout | `num_cpus` (1 + OCR slots) | `num_gpus` | `memory` (router + workers + OCR slots) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name in policies:
        policy = on_cores(load_policy(name), DOC_CORES)
        alone = router_resources(policy)
        layouts = [("one GPU per router" if alone.num_gpus else "no GPU", alone)]
        if alone.num_gpus == 1:
            layouts.append((f"{SHARED} routers per GPU (an H200)", router_resources(policy, gpus=1 / SHARED)))
        for layout, sized in layouts:
            memory = f"{sized.memory_bytes / GB:.2f} GB"
            rows.append(f"| `{name}` | {layout} | {sized.num_cpus:g} | {sized.num_gpus:g} | {memory} |")
    return "\n".join(rows)


def render_doc(text: str) -> str:
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    return text[:start] + "\n" + sizing_table() + "\n" + text[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print (or check) the sizing table of docs/scaling.md.")
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/scaling.md's table is out of date")
    parser.add_argument("--write", action="store_true", help="rewrite the table in docs/scaling.md")
    args = parser.parse_args(argv)
    text = DOC.read_text(encoding="utf-8")
    if args.check:
        return 0 if render_doc(text) == text else 1
    if args.write:
        DOC.write_text(render_doc(text), encoding="utf-8")
        return 0
    print(sizing_table())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
