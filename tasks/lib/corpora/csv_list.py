"""A user CSV with path, emotion and speaker columns (optional: gender, intensity, text_id)."""
from __future__ import annotations

import csv
from pathlib import Path

from data_contracts.reasons import Reason
from tasks.lib.corpora.base import Record, Rejected, Utterance

REQUIRED = ("path", "emotion", "speaker")
OPTIONAL = ("gender", "intensity", "text_id")


class CsvLayoutError(ValueError):
    """The CSV itself is unusable; the user must fix it."""


def prepare_csv(root: Path, corpus: str = "csv") -> list[Record]:
    """root is the CSV file; relative paths in it are relative to the CSV's folder."""
    if not root.is_file():
        raise CsvLayoutError(f"{root} is not a CSV file")
    base = root.parent
    try:
        with root.open(newline="", encoding="utf-8-sig") as fh:  # -sig: a spreadsheet's BOM is not a column name
            reader = csv.DictReader(fh)
            missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
            if missing:
                raise CsvLayoutError(f"{root} lacks required column(s) {missing}; has {reader.fieldnames or 'no header'}")
            rows = list(reader)
    except UnicodeDecodeError as exc:
        raise CsvLayoutError(f"{root} is not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8") from exc
    records: list[Record] = []
    for line, row in enumerate(rows, start=2):
        empty = [c for c in REQUIRED if not (row.get(c) or "").strip()]
        if empty:
            records.append(Rejected(corpus, str(root), f"{root.name}:{line}", Reason.MISSING_FIELD,
                                    f"line {line} has no {', '.join(empty)}"))
            continue
        path = Path(row["path"])
        path = path if path.is_absolute() else base / path
        rel_path = row["path"]
        if not path.is_file():
            records.append(Rejected(corpus, str(path), rel_path, Reason.MISSING_FILE, "listed in CSV, not on disk"))
            continue
        extra = {c: row[c] or None for c in OPTIONAL if c in row}
        records.append(Utterance(corpus=corpus, path=str(path), rel_path=rel_path, speaker=row["speaker"],
                                 emotion_raw=row["emotion"], **extra))
    return records
