"""A router holds glibc's mmap threshold and arena limit, so freed page buffers go back to the
system (the CI drill in test_drill_cli.py measures the effect: RSS growth under 10% over 2,000
requests)."""

import json
import os
import platform
import subprocess
import sys

import pytest

CODE = "import json; from router.api import memory; print(json.dumps([memory.hold_malloc_settings() for _ in '12']))"
MALLOC_ENV = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_ARENA_MAX")


def held(**chosen: str) -> list[dict[str, bool]]:
    env = {k: v for k, v in os.environ.items() if k not in MALLOC_ENV} | chosen
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_both_settings_are_held_once_per_process():
    assert held() == [{"mmap_threshold": True, "arena_max": True}] * 2


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_a_setting_chosen_in_the_environment_is_left_alone():
    assert held(MALLOC_ARENA_MAX="4")[0] == {"mmap_threshold": True, "arena_max": False}
    assert held(MALLOC_MMAP_THRESHOLD_="65536")[0] == {"mmap_threshold": False, "arena_max": True}
