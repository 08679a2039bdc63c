"""Each router's Ray resources, derived from its policy (no Ray needed: the sizing is plain arithmetic)."""

from __future__ import annotations

import pytest

from router.policy.model import load_policy, policy_from_dict
from router.scale import resources as R
from router.scale.resources import router_resources


def _model_tier(name: str, **backend: object) -> dict:
    return {"name": name, "backend": {"kind": "llama_vision", "model": "/m", **backend}, "workers": 1}


def _with(*tiers: dict) -> object:
    return policy_from_dict({"name": "sized", "tiers": [*tiers, {"name": "rules", "backend": {"kind": "ocr_rules"}}]})


def test_the_default_policy_asks_for_its_gpu_a_cpu_per_ocr_slot_and_memory_for_each_model_worker():
    policy = load_policy("default")
    sized = router_resources(policy)
    ocr = {"ocr-llm": 1, "ocr-rules": 2}  # the OCR tiers' workers in policies/default.yaml
    assert {t.name: t.workers for t in policy.tiers if t.name in ocr} == ocr
    assert (sized.num_cpus, sized.num_gpus) == (1 + 3, 1)
    models = sum(t.workers for t in policy.tiers if t.effective_isolation == "process")  # all three model tiers
    expected = R.ROUTER_GB + models * R.MODEL_WORKER_GB + 3 * R.OCR_SLOT_GB
    assert models == 3 and sized.memory_bytes == round(expected * R.GB)
    assert router_resources(policy, gpus=0.5).num_gpus == 0.5  # two routers share a GPU; the rest is the same


def test_the_cpu_policy_asks_for_no_gpu_and_a_cpu_per_ocr_worker_process():
    sized = router_resources(R.on_cores(load_policy("cpu"), 2))  # workers: cores, on a machine of 2
    assert (sized.num_cpus, sized.num_gpus) == (3, 0)
    assert sized.memory_bytes == round((R.ROUTER_GB + 2 * (R.WORKER_GB + R.OCR_SLOT_GB)) * R.GB)
    assert router_resources(R.on_cores(load_policy("cpu"), 8)).num_cpus == 9


def test_more_workers_more_memory_and_a_higher_gpu_index_more_gpus():
    one = router_resources(_with(_model_tier("v")))
    two = router_resources(_with({**_model_tier("v"), "workers": 2}))
    assert two.memory_bytes - one.memory_bytes == round(R.MODEL_WORKER_GB * R.GB)
    assert router_resources(_with(_model_tier("v", gpu=1))).num_gpus == 2  # gpu: 1 is the second device it sees


def test_a_router_that_needs_two_gpus_cannot_share_them_and_options_override():
    policy = _with(_model_tier("v"), _model_tier("w", gpu=1))
    with pytest.raises(ValueError, match="cannot share several GPUs"):
        router_resources(policy, gpus=0.5)
    sized = router_resources(policy, cpus=8, gpus=2, memory_gb=40)
    assert (sized.num_cpus, sized.num_gpus, sized.memory_bytes) == (8, 2, 40 * R.GB)
    assert sized.ray_options() == {"num_cpus": 8, "num_gpus": 2, "memory": 40 * R.GB}


def test_a_model_on_the_cpu_says_its_weights_are_not_counted():
    (note,) = router_resources(_with(_model_tier("v", device="cpu"))).notes
    assert "tier 'v' runs its model on the CPU" in note and "--memory-per-router" in note
    assert router_resources(_with(_model_tier("v", device="cpu")), memory_gb=30).notes == ()


def test_the_sizing_table_in_docs_scaling_is_the_one_these_figures_give():
    assert R.main(["--check"]) == 0, "run: PYTHONPATH=src python -m router.scale.resources --write"


def test_a_cluster_started_here_drops_the_gpu_it_lacks_and_shares_out_its_memory_a_joined_one_waits():
    policy, laptop = load_policy("default"), {"CPU": 8.0, "GPU": 0.0, "memory": 16 * R.GB}
    fitted, notes = R.fit(policy, R.Sizing(), 2, laptop, local=True)
    assert fitted == R.Sizing(gpus=0.0, memory_gb=8.0)  # two routers of 11.35 GB share 16 GB
    assert len(notes) == 2 and "model tiers are unavailable" in notes[0]

    kept, notes = R.fit(policy, R.Sizing(), 2, laptop, local=False)  # an autoscaler may bring GPU nodes
    assert kept == R.Sizing() and len(notes) == 1 and "waits for one" in notes[0]  # 11.35 GB fit a 16 GB node

    chosen = R.Sizing(gpus=1, memory_gb=20)  # what the options say is kept
    assert R.fit(policy, chosen, 2, laptop, local=True)[0] == chosen

    node = {"CPU": 96.0, "GPU": 8.0, "memory": 1000 * R.GB}
    assert R.fit(policy, R.Sizing(), 8, node, local=False) == (R.Sizing(), [])
