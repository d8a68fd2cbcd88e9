"""The house rules: imports point one way, flows stay short, importing changes nothing."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("data_contracts", "tasks", "ser_models", "flows", "deployments")

# Lower layers never import higher ones; the one line the README states.
LAYERS = ("data_contracts", "tasks.lib", "ser_models", "tasks", "flows", "flows.cli")
ENTRY_POINTS = ("flows.cli", "deployments")
# The domain and model layers stay importable without an orchestrator.
ORCHESTRATION = ("prefect", "prefect_dask", "dask", "distributed")
PURE_LAYERS = ("data_contracts", "tasks.lib", "ser_models")
MAX_FLOW_FUNCTION_LINES = 40


def module_name(path: Path) -> str:
    """Dotted module name of a source file under ROOT."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def source_files() -> list[Path]:
    """Every Python file of the product packages."""
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def within(module: str, package: str) -> bool:
    """Whether `module` is `package` or inside it."""
    return module == package or module.startswith(package + ".")


def layer_of(module: str) -> int:
    """Index in LAYERS of the most specific layer holding `module`."""
    if any(within(module, entry) for entry in ENTRY_POINTS):
        return len(LAYERS) - 1
    matches = [i for i, layer in enumerate(LAYERS) if within(module, layer)]
    return max(matches, key=lambda i: len(LAYERS[i]))


def imported_modules(source: str) -> set[str]:
    """Every module a source text imports, at top level or inside functions."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def violations(module: str, source: str) -> list[str]:
    """The imports in `source` that break the layering rules for `module`."""
    found = []
    for name in sorted(imported_modules(source)):
        top = name.split(".")[0]
        if top in ("data_contracts", "tasks", "ser_models", "flows", "deployments"):
            if layer_of(name) > layer_of(module):
                found.append(f"{module} imports {name} (a higher layer)")
        elif top in ORCHESTRATION and any(within(module, p) for p in PURE_LAYERS):
            found.append(f"{module} imports {name} (orchestration in a pure layer)")
    return found


def test_imports_point_one_way() -> None:
    found = [v for p in source_files() for v in violations(module_name(p), p.read_text())]
    assert found == []


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("ser_models.data", "from tasks.ingest import read_manifest\n"),
        ("tasks.lib.store", "def f():\n    import prefect\n"),
        ("data_contracts.suites", "from tasks.lib.audio import load\n"),
        ("tasks.score", "from flows.fanout import fan_out\n"),
        ("flows.score", "import flows.cli\n"),
    ],
)
def test_checker_catches_forbidden_imports(module: str, source: str) -> None:
    assert violations(module, source)


def test_entry_points_may_import_anything() -> None:
    assert violations("deployments.serve", "import flows.cli\nimport prefect\n") == []


def test_catalog_imports_no_orchestrator() -> None:
    code = (
        "import sys, json, ser_models.catalog, ser_models.inference;"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {ORCHESTRATION!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_flow_functions_read_as_a_table_of_contents() -> None:
    long = []
    for path in sorted((ROOT / "flows").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FLOW_FUNCTION_LINES:
                    long.append(f"{path.name}:{node.name} has {lines} lines")
    assert long == []


def test_importing_every_module_changes_no_settings() -> None:
    modules = [module_name(p) for p in source_files()]
    code = f"""
import copy, importlib, json, os
# Third-party imports first: their own side effects (sklearn sets KMP_*) are not ours.
import dask, distributed, prefect, prefect_dask, great_expectations, torch, librosa, sklearn
env, conf = dict(os.environ), copy.deepcopy(dask.config.config)
for name in {modules!r}:
    importlib.import_module(name)
changed = sorted(k for k in set(env) | set(os.environ) if env.get(k) != os.environ.get(k))
print(json.dumps({{"env": changed, "dask": dask.config.config != conf}}))
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"env": [], "dask": False}


# Tests that check the whole house rather than one unit.
CROSS_CUTTING = {"architecture", "docs"}


def test_every_test_module_is_named_after_a_unit() -> None:
    units = {p.stem for p in source_files()} | {p.parent.name for p in source_files()}
    tests = {p.stem.removeprefix("test_") for p in (ROOT / "tests").glob("test_*.py")}
    assert sorted(tests - units - CROSS_CUTTING) == []
