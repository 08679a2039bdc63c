"""Module boundaries: the router never imports torch or transformers; backends never import router."""

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def imported_modules(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (SRC / package).rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(SRC))] = names
    return found


def test_router_source_never_imports_torch_or_transformers_anywhere():
    offenders = {f: n & {"torch", "transformers"} for f, n in imported_modules("router").items()}
    assert {f: n for f, n in offenders.items() if n} == {}


def test_backends_never_import_router():
    offenders = {f: n for f, n in imported_modules("backends").items() if "router" in n}
    assert offenders == {}


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


def test_only_router_scale_imports_ray_and_nothing_imports_router_scale():
    """The ray extra stays optional: the CLI reaches router.scale through importlib, on --engine ray only."""
    offenders = {}
    for path in (SRC / "router").rglob("*.py"):
        relative = path.relative_to(SRC)
        if relative.parts[:2] == ("router", "scale"):
            continue
        names = {n for n in _full_imports(path) if n.split(".")[0] == "ray" or n.startswith("router.scale")}
        if names:
            offenders[str(relative)] = names
    assert offenders == {}


def test_router_scale_imports_ray_only_inside_functions():
    """So importing any router module (as the test above does for every one) works without the extra."""
    top_level = {
        str(path.relative_to(SRC)): {n for n in _full_imports(path, top_level_only=True) if n.split(".")[0] == "ray"}
        for path in (SRC / "router" / "scale").rglob("*.py")
    }
    assert {f: n for f, n in top_level.items() if n} == {}
