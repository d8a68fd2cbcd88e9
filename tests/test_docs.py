"""The docs match the code: the module map lists every module, and named files and links exist."""
import re
import shutil
from pathlib import Path

import duckdb
import pytest

from flows.score import score_calls
from tasks.lib.synth import synth_calls

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("data_contracts", "tasks", "ser_models", "flows", "deployments")
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MAX_README_LINES = 200


def module_map() -> set[str]:
    """Module paths in the first column of docs/architecture.md's module map."""
    text = (ROOT / "docs" / "architecture.md").read_text().split("## Module map", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([\w/]+\.py)` \|", text, flags=re.M))


def test_module_map_lists_exactly_the_modules_on_disk():
    on_disk = {p.relative_to(ROOT).as_posix() for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}
    mapped = module_map()
    assert (sorted(on_disk - mapped), sorted(mapped - on_disk)) == ([], [])


def test_every_file_the_docs_name_exists():
    named = {m for doc in DOCS for m in re.findall(r"`((?:[\w.-]+/)+[\w.-]+\.(?:py|toml|yaml|csv))(?::\w+)?`",
                                                    doc.read_text())}
    assert named and sorted(n for n in named if not (ROOT / n).exists()) == []


def test_every_link_between_docs_resolves():
    broken = []
    for doc in DOCS:
        for target in re.findall(r"\]\(([^)#:]+\.md)(?:#[^)]*)?\)", doc.read_text()):
            if not (doc.parent / target).exists():
                broken.append(f"{doc.name} -> {target}")
    assert broken == []


def test_readme_is_a_short_guide_opening_with_the_two_commands():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= MAX_README_LINES
    first_block = text.split("```bash", 1)[1].split("```", 1)[0]
    assert [line.split()[:2] for line in first_block.strip().splitlines()] == [["make", "demo"], ["make", "test"]]
    assert not re.search(r"this session|\b\d{2}-\d{2}\b", text)  # dated measurements live in docs/benchmarks.md


# Every SQL snippet in the README and docs/ runs against a store built here, as an analyst would paste it.
def sql_snippets() -> list[tuple[str, str]]:
    """(where, statement) for each statement of each ```sql block and each `duckdb -c "..."` line."""
    found = []
    for doc in DOCS:
        text = doc.read_text()
        blocks = re.findall(r"```sql\n(.*?)```", text, flags=re.S) + re.findall(r'duckdb -c "([^"]+)"', text)
        for block in blocks:
            body = "\n".join(line for line in block.splitlines() if not line.strip().startswith("--"))
            found += [(doc.name, s.strip()) for s in body.split(";") if s.strip()]
    return found


def test_docs_hold_the_snippets_analysts_copy():
    where = {w for w, _ in sql_snippets()}
    assert {"README.md", "tables.md"} <= where and len(sql_snippets()) >= 6


@pytest.fixture(scope="module")
def scored_store(trained_store, tmp_path_factory, dask_address) -> Path:
    root = tmp_path_factory.mktemp("snippets")
    store = shutil.copytree(trained_store, root / "store")
    synth_calls(root / "inbox", n_calls=2, turns=4)
    score_calls(inbox=str(root / "inbox"), model="ser", store=str(store), dask_address=dask_address)
    return store


@pytest.mark.parametrize("where,statement", sql_snippets(), ids=lambda v: v if v.endswith(".md") else v[:40])
def test_snippet_runs_and_returns_rows(scored_store, where, statement):
    rows = duckdb.sql(statement.replace("serflow-store/", f"{scored_store}/")).fetchall()
    # the synthetic corpus has no faulty files, and its calls need not escalate
    if "quarantine" not in statement and "where escalation > 0.2" not in statement:
        assert rows, f"{where}: no rows from\n{statement}"
