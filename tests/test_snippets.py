"""Every SQL snippet in the README and docs/ runs against a store built here, as an analyst would paste it."""
import re
import shutil
from pathlib import Path

import duckdb
import pytest

from flows.score import score_calls
from tasks.lib.synth import synth_calls

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


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
