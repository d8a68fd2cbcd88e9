"""TESS: OAF_back_angry.ext — speaker (OAF/YAF), target word, emotion; both speakers female."""
from __future__ import annotations

import re
from pathlib import Path

from tasks.lib.corpora.base import Record, Utterance, audio_files, rel, unparseable

NAME = re.compile(r"^([A-Za-z]{3})_([A-Za-z]+)_([A-Za-z]+)$")


def prepare_tess(root: Path, corpus: str = "tess") -> list[Record]:
    """Speaker, word and emotion from the three-part name."""
    records: list[Record] = []
    for path in audio_files(root):
        m = NAME.match(path.stem)
        if not m:
            records.append(unparseable(corpus, root, path, "SPK_word_emotion"))
            continue
        speaker, word, emotion = m.groups()
        records.append(Utterance(
            corpus=corpus, path=str(path), rel_path=rel(root, path), speaker=speaker.upper(),
            emotion_raw=emotion.lower(), gender="female", text_id=word.lower(),
            attributes={"age_group": {"O": "older", "Y": "younger"}.get(speaker[0].upper(), "")},
        ))
    return records
