"""The docs say where things are, and it stays true: docs/architecture.md lists every package of src/
with exactly its modules, every module path the README and docs/ name exists, and every name they show
a user importing imports."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
ARCHITECTURE = ROOT / "docs" / "architecture.md"
#: The prose users read: the README and docs/ (docs/results holds measurements, not paths to follow).
DOCS = [ROOT / "README.md", *sorted(p for p in (ROOT / "docs").glob("*.md"))]
#: `router.x.y` or `backends.x.y` in backquotes, optionally ending in an attribute.
DOTTED = re.compile(r"`((?:router|backends)(?:\.\w+)+)")
FROM_IMPORT = re.compile(r"^\s*from ((?:router|backends)[\w.]*) import ([\w, ]+)", re.MULTILINE)
#: `src/router/x.py`, `backends/fields/rules/` and the like.
SOURCE_PATH = re.compile(r"`((?:src/)?(?:router|backends)/[\w/]*(?:\.py)?)`")
PYTHON_M = re.compile(r"python -m ((?:router|backends)[\w.]*)")


def packages_in_src() -> dict[str, set[str]]:
    """Each package of src/ (dotted) and the modules directly in it."""
    found = {}
    for init in SRC.rglob("__init__.py"):
        package = ".".join(init.parent.relative_to(SRC).parts)
        found[package] = {p.stem for p in init.parent.glob("*.py") if p.stem not in ("__init__", "__main__")}
    return found


def packages_in_table() -> dict[str, set[str]]:
    rows = re.findall(r"^\| `([\w.]+)` \|\s*([\w, ]*?)\s*\|", ARCHITECTURE.read_text(encoding="utf-8"), re.MULTILINE)
    return {package: {m.strip() for m in modules.split(",") if m.strip()} for package, modules in rows}


def test_architecture_lists_every_package_with_exactly_its_modules():
    assert packages_in_table() == packages_in_src()


def test_the_layers_drawn_in_architecture_are_the_contracts_in_pyproject():
    """Each layer of each layers contract is drawn, in the contract's order, in its package's column."""
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    picture = ARCHITECTURE.read_text(encoding="utf-8").split("```")[1].splitlines()[2:]
    columns = {"router": [line[:47] for line in picture], "backends": [line[47:] for line in picture]}
    for container, lines in columns.items():
        block = pyproject.split(f'containers = ["{container}"]')[1].split("]")[0]
        layers = re.findall(r'"([^"]+)"', block)
        drawn = [line.split()[0] for line in lines if line.strip() and line.split()[0] != "|"]
        firsts = [layer.split(" | ")[0] for layer in layers]
        assert drawn == firsts, f"{container}: pyproject's layers {layers} vs drawn {drawn}"


def resolves(dotted: str) -> bool:
    """A module, or an attribute of the longest module prefix (``router.core.result.Result``)."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        module = ".".join(parts[:cut])
        try:
            target = importlib.import_module(module)
        except ImportError:
            continue
        for name in parts[cut:]:
            if not hasattr(target, name):
                return False
            target = getattr(target, name)
        return True
    return False


def event_names() -> set[str]:
    from router.observe.events import BY_NAME

    return set(BY_NAME)


def test_every_module_path_the_docs_name_exists():
    events = event_names()
    missing = {
        f"{doc.relative_to(ROOT)}: {name}"
        for doc in DOCS
        for name in DOTTED.findall(doc.read_text(encoding="utf-8"))
        if name not in events and not resolves(name)
    }
    assert missing == set()


def test_every_source_path_the_docs_name_exists():
    paths = {
        f"{doc.relative_to(ROOT)}: {path}"
        for doc in DOCS
        for path in SOURCE_PATH.findall(doc.read_text(encoding="utf-8"))
        if not (ROOT / path).exists() and not (SRC / path).exists()
    }
    assert paths == set()


def test_every_name_the_docs_show_users_importing_imports():
    """In a fresh interpreter, as a user would: ``from router import Router`` and every other
    ``from X import Y`` and ``python -m X`` in the README and docs/."""
    statements = {"from router import Router"}
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        statements |= {f"from {module} import {names.strip()}" for module, names in FROM_IMPORT.findall(text)}
        statements |= {f"import {module}" for module in PYTHON_M.findall(text)}
    code = "\n".join(sorted(statements)) + "\nprint('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.stdout.strip() == "ok", out.stderr


def test_the_public_names_of_router_all_import():
    import router

    assert {name: getattr(router, name).__name__ for name in router.__all__} == {n: n for n in router.__all__}
