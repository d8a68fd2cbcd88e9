"""CREMA-D: 1001_DFA_ANG_XX.ext, genders from VideoDemographics.csv when it sits in the root."""
from __future__ import annotations

import csv
import re
from pathlib import Path

from tasks.lib.corpora.base import Record, Utterance, audio_files, rel, unparseable

NAME = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})$")
LEVEL = {"LO": "low", "MD": "medium", "HI": "high", "XX": "unspecified"}


def _genders(root: Path) -> dict[str, str]:
    sheet = root / "VideoDemographics.csv"
    if not sheet.exists():
        return {}
    with sheet.open(newline="") as fh:
        return {row["ActorID"]: row["Sex"].lower() for row in csv.DictReader(fh)}


def prepare_crema_d(root: Path, corpus: str = "crema_d") -> list[Record]:
    """Actor, sentence, emotion and level from the four-part name."""
    genders = _genders(root)
    records: list[Record] = []
    for path in audio_files(root):
        m = NAME.match(path.stem)
        if not m:
            records.append(unparseable(corpus, root, path, "AAAA_SSS_EEE_LL"))
            continue
        actor, sentence, emotion, level = m.groups()
        records.append(Utterance(
            corpus=corpus, path=str(path), rel_path=rel(root, path), speaker=actor, emotion_raw=emotion,
            gender=genders.get(actor), intensity=LEVEL.get(level, level), text_id=sentence,
        ))
    return records
