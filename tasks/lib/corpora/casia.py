"""CASIA (Chinese): <speaker>/<emotion>/<id>.ext."""
from __future__ import annotations

from pathlib import Path

from tasks.lib.corpora.base import Record, Utterance, audio_files, rel, unparseable

GENDER = {"liuchanhg": "female", "zhaoquanyin": "female", "wangzhe": "male", "zhaozuoxiang": "male"}


def prepare_casia(root: Path, corpus: str = "casia") -> list[Record]:
    """Speaker and emotion from the two folders above each file."""
    records: list[Record] = []
    for path in audio_files(root):
        parts = path.relative_to(root).parts
        if len(parts) < 3:
            records.append(unparseable(corpus, root, path, "<speaker>/<emotion>/<id>"))
            continue
        speaker, emotion = parts[-3], parts[-2]
        records.append(Utterance(
            corpus=corpus, path=str(path), rel_path=rel(root, path), speaker=speaker,
            emotion_raw=emotion.lower(), gender=GENDER.get(speaker.lower()), text_id=path.stem,
        ))
    return records
