"""A router holds glibc's mmap threshold, so freed page buffers go back to the system (the CI
drill in test_drill_cli.py measures the effect: RSS growth under 10% over 2,000 requests)."""

import os
import platform
import subprocess
import sys

import pytest

CODE = "from router import memory; print(memory.hold_mmap_threshold(), memory.hold_mmap_threshold(1 << 20))"


def run(env: dict[str, str]) -> str:
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, env=env, check=True)
    return out.stdout.strip()


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_the_threshold_is_held_once_per_process():
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_MMAP_THRESHOLD_"}
    assert run(env) == "True True"


def test_a_threshold_chosen_in_the_environment_is_left_alone():
    assert run({**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}) == "False False"
