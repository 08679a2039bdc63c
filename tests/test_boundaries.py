"""Module boundaries: the import contracts (import-linter), and what they cannot see: what importing a module
loads at run time, and imports at a module's top level as against inside its functions."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"


def test_the_import_contracts_hold():
    """The layering in pyproject's [tool.importlinter] (no cycles; each layer imports only those below it;
    backends never import router; router never imports torch or transformers; only router.scale imports
    ray and only the CLI's ray command imports router.scale), checked by import-linter."""
    lint = Path(sys.executable).parent / "lint-imports"
    if not lint.exists():
        pytest.skip("import-linter is not installed (pip install -e '.[test]')")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))}
    out = subprocess.run([str(lint)], cwd=SRC.parent, env=env, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr


def test_importing_every_router_module_loads_no_model_code():
    code = (
        "import pkgutil, sys, importlib, router\n"
        "for m in pkgutil.walk_packages(router.__path__, 'router.'):\n"
        "    if m.name != 'router.__main__': importlib.import_module(m.name)\n"
        "heavy = sorted(n for n in ('torch', 'transformers', 'tokenizers') if n in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_cli_help_answers_without_loading_the_router():
    code = (
        "import sys, runpy\n"
        "sys.argv = ['docroute', '--help']\n"
        "try:\n    runpy.run_module('router', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "heavy = ('router.api.router', 'router.core.engine', 'PIL', 'torch')\n"
        "print('LOADED', sorted(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "LOADED []" in out.stdout


def _full_imports(path: Path, *, top_level_only: bool = False) -> set[str]:
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_router_scale_imports_ray_only_inside_functions():
    """So importing any router module (as the test above does for every one) works without the extra
    (import-linter sees an import, not where in the module it stands)."""
    top_level = {
        str(path.relative_to(SRC)): {n for n in _full_imports(path, top_level_only=True) if n.split(".")[0] == "ray"}
        for path in (SRC / "router" / "scale").rglob("*.py")
    }
    assert {f: n for f, n in top_level.items() if n} == {}
