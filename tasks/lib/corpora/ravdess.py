"""RAVDESS: Actor_XX/MM-VV-EE-II-SS-RR-AA.ext (Livingstone & Russo, 2018)."""
from __future__ import annotations

import re
from pathlib import Path

from data_contracts.reasons import Reason
from tasks.lib.corpora.base import Record, Rejected, Utterance, audio_files, rel, unparseable

NAME = re.compile(r"^(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})$")
FOLDER = re.compile(r"^Actor_(\d+)$")
MODALITY = {"01": "audio-video", "02": "video-only", "03": "audio-only"}
VOCAL_CHANNEL = {"01": "speech", "02": "song"}
INTENSITY = {"01": "normal", "02": "strong"}


def prepare_ravdess(root: Path, corpus: str = "ravdess") -> list[Record]:
    """Every field the seven-part name encodes; the actor must agree with its Actor_XX folder."""
    records: list[Record] = []
    for path in audio_files(root):
        m = NAME.match(path.stem)
        if not m:
            records.append(unparseable(corpus, root, path, "MM-VV-EE-II-SS-RR-AA"))
            continue
        modality, vocal, emotion, intensity, statement, repetition, actor = m.groups()
        folder = FOLDER.match(path.parent.name)
        if folder and int(folder.group(1)) != int(actor):
            records.append(Rejected(corpus, str(path), rel(root, path), Reason.SPEAKER_MISMATCH,
                                    f"name says actor {actor}, folder is {path.parent.name}"))
            continue
        records.append(Utterance(
            corpus=corpus, path=str(path), rel_path=rel(root, path), speaker=actor,
            emotion_raw=emotion, gender="male" if int(actor) % 2 else "female",
            intensity=INTENSITY.get(intensity, intensity), text_id=statement,
            attributes={"modality": MODALITY.get(modality, modality),
                        "vocal_channel": VOCAL_CHANNEL.get(vocal, vocal), "repetition": repetition},
        ))
    return records
