"""Any folder-per-label layout: the label is the parent folder's name (e.g. Angry/x.wav)."""
from __future__ import annotations

import re
from pathlib import Path

from tasks.lib.corpora.base import Record, Utterance, audio_files, rel, unparseable

UNKNOWN_SPEAKER = "unknown"


def prepare_folders(root: Path, corpus: str = "folders", speaker_regex: str | None = None) -> list[Record]:
    """Label from the folder; speaker from a regex (group 'speaker' or the first) on the relative path."""
    pattern = re.compile(speaker_regex) if speaker_regex else None
    records: list[Record] = []
    for path in audio_files(root):
        rel_path = rel(root, path)
        if path.parent == root:
            records.append(unparseable(corpus, root, path, "<label>/<file> (file is not in a label folder)"))
            continue
        speaker = UNKNOWN_SPEAKER
        if pattern:
            m = pattern.search(rel_path)
            if not m:
                records.append(unparseable(corpus, root, path, f"speaker regex {speaker_regex!r}"))
                continue
            speaker = m.groupdict().get("speaker") or m.group(1 if m.groups() else 0)
        records.append(Utterance(corpus=corpus, path=str(path), rel_path=rel_path, speaker=speaker,
                                 emotion_raw=path.parent.name))
    return records
