"""The docs match the code: the module map lists every module, and named files and links exist."""
import re
from pathlib import Path

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
