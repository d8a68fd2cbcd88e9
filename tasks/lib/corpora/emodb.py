"""Berlin EMO-DB: SSTTTEV.ext — speaker, text code, emotion letter, version (Burkhardt et al., 2005)."""
from __future__ import annotations

import re
from pathlib import Path

from tasks.lib.corpora.base import Record, Utterance, audio_files, rel, unparseable

NAME = re.compile(r"^(\d{2})([ab]\d{2})([A-Z])([a-z])$")
GENDER = {"03": "male", "10": "male", "11": "male", "12": "male", "15": "male",
          "08": "female", "09": "female", "13": "female", "14": "female", "16": "female"}


def prepare_emodb(root: Path, corpus: str = "emodb") -> list[Record]:
    """Speaker, text, emotion letter and version from the seven-character name."""
    records: list[Record] = []
    for path in audio_files(root):
        m = NAME.match(path.stem)
        if not m:
            records.append(unparseable(corpus, root, path, "SSTTTEV (e.g. 03a01Fa)"))
            continue
        speaker, text, emotion, version = m.groups()
        records.append(Utterance(
            corpus=corpus, path=str(path), rel_path=rel(root, path), speaker=speaker, emotion_raw=emotion,
            gender=GENDER.get(speaker), text_id=text, attributes={"version": version},
        ))
    return records
