"""The one label table: each corpus's raw emotion codes mapped to serflow's canonical names."""
from __future__ import annotations

import csv
from functools import lru_cache
from importlib import resources

CANONICAL_EMOTIONS: tuple[str, ...] = (
    "neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised", "boredom",
)
NEGATIVE_EMOTIONS: frozenset[str] = frozenset({"sad", "angry", "fearful", "disgust"})
ANY_CORPUS = "*"


@lru_cache(maxsize=1)
def label_table() -> dict[tuple[str, str], str]:
    """(corpus, raw_label) -> canonical emotion, read once from labels.csv."""
    text = resources.files("data_contracts").joinpath("labels.csv").read_text()
    table = {(row["corpus"], row["raw_label"]): row["emotion"] for row in csv.DictReader(text.splitlines())}
    unknown = set(table.values()) - set(CANONICAL_EMOTIONS)
    if unknown:
        raise ValueError(f"labels.csv maps to non-canonical emotions: {sorted(unknown)}")
    return table


def canonical_emotion(corpus_kind: str, raw_label: str) -> str | None:
    """Corpus-specific code first, then the generic English names; None when unknown."""
    table = label_table()
    return table.get((corpus_kind, raw_label)) or table.get((ANY_CORPUS, raw_label.strip().lower()))


LABEL_MAPS: dict[str, dict[str, str]] = {
    "none": {},
    "calm_as_neutral": {"calm": "neutral"},
}


def parse_label_map(spec: str | None) -> dict[str, str]:
    """A named map from LABEL_MAPS, or inline 'calm=neutral,surprised=' (empty target drops the class)."""
    if not spec:
        return {}
    if spec in LABEL_MAPS:
        return dict(LABEL_MAPS[spec])
    mapping = {}
    for pair in spec.split(","):
        source, sep, target = pair.partition("=")
        if not sep or source not in CANONICAL_EMOTIONS or (target and target not in CANONICAL_EMOTIONS):
            raise ValueError(f"label map {spec!r}: use a name from {sorted(LABEL_MAPS)} or "
                             "'emotion=emotion,…' with canonical names (empty target drops the class)")
        mapping[source] = target
    return mapping
