"""SAVEE: DC_a01.ext, or the original AudioData/DC/a01.ext layout; four male speakers."""
from __future__ import annotations

import re
from pathlib import Path

from tasks.lib.corpora.base import Record, Utterance, audio_files, rel, unparseable

FLAT = re.compile(r"^([A-Z]{2})_([a-z]{1,2})(\d{2})$")
NESTED = re.compile(r"^([a-z]{1,2})(\d{2})$")
SPEAKER_FOLDER = re.compile(r"^[A-Z]{2}$")


def prepare_savee(root: Path, corpus: str = "savee") -> list[Record]:
    """Speaker from the name prefix or the folder, then emotion code and sentence number."""
    records: list[Record] = []
    for path in audio_files(root):
        flat, nested = FLAT.match(path.stem), NESTED.match(path.stem)
        if flat:
            speaker, emotion, number = flat.groups()
        elif nested and SPEAKER_FOLDER.match(path.parent.name):
            speaker, (emotion, number) = path.parent.name, nested.groups()
        else:
            records.append(unparseable(corpus, root, path, "SS_e01 or SS/e01"))
            continue
        records.append(Utterance(
            corpus=corpus, path=str(path), rel_path=rel(root, path), speaker=speaker,
            emotion_raw=emotion, gender="male", text_id=f"{emotion}{number}",
        ))
    return records
