"""Labelled feature rows for training: features joined with the manifest's labels and speakers."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from data_contracts.labels import CANONICAL_EMOTIONS
from tasks.lib.store import Store
from tasks.lib.tables import read_features, read_manifest

KEY = ["utterance_id", "augmentation"]


@dataclass
class FeatureData:
    """Aligned rows: `rows` holds keys and labels, `inputs[set][i]` the (frames, bins) array of row i."""

    rows: pd.DataFrame  # utterance_id, augmentation, speaker_id, corpus, emotion
    inputs: dict[str, list[np.ndarray]]

    def __len__(self) -> int:
        return len(self.rows)

    def subset(self, index: np.ndarray) -> FeatureData:
        index = np.asarray(index)
        return FeatureData(self.rows.iloc[index].reset_index(drop=True),
                           {k: [v[i] for i in index] for k, v in self.inputs.items()})

    def vectors(self, feature_set: str) -> np.ndarray:
        """(rows, bins) for utterance-level sets."""
        return np.stack([a.reshape(-1) for a in self.inputs[feature_set]]).astype(np.float32)

    @property
    def original(self) -> np.ndarray:
        """Positions of rows that are recordings, not augmented copies."""
        return np.flatnonzero(self.rows["augmentation"].to_numpy() == "none")


def class_list(emotions: pd.Series) -> list[str]:
    """Classes in canonical order, so label indices are stable across runs."""
    present = set(emotions)
    return [e for e in CANONICAL_EMOTIONS if e in present]


def load_feature_data(store: Store, feature_sets: tuple[str, ...], corpora: list[str],
                      label_map: dict[str, str]) -> FeatureData:
    """Join each feature set (current config) on (utterance, augmentation) with relabelled manifest rows."""
    manifest = read_manifest(store, corpora)[["utterance_id", "speaker_id", "corpus", "emotion"]]
    manifest["emotion"] = manifest["emotion"].map(lambda e: label_map.get(e, e))
    manifest = manifest[manifest["emotion"] != ""]
    joined, arrays = manifest, {}
    for name in feature_sets:
        table = read_features(store, name, corpora)[[*KEY, "n_frames", "n_bins", "features"]]
        table = table.rename(columns={"features": f"_{name}", "n_frames": f"_{name}_t", "n_bins": f"_{name}_b"})
        joined = joined.merge(table, on="utterance_id" if joined is manifest else KEY, how="inner")
    joined = joined.sort_values(KEY, ignore_index=True)
    for name in feature_sets:
        arrays[name] = [np.asarray(v, dtype=np.float32).reshape(t, b) for v, t, b in
                        zip(joined[f"_{name}"], joined[f"_{name}_t"], joined[f"_{name}_b"])]
    rows = joined[["utterance_id", "augmentation", "speaker_id", "corpus", "emotion"]]
    return FeatureData(rows.reset_index(drop=True), arrays)


def corpus_weights(corpus: pd.Series | np.ndarray) -> np.ndarray | None:
    """Per row, 1 / its corpus's row count, scaled to a mean of 1: every training corpus counts the same
    (CASIA's 1200 files would outweigh EMO-DB's 535). None for rows of one corpus."""
    _, index, counts = np.unique(np.asarray(corpus), return_inverse=True, return_counts=True)
    if len(counts) < 2:
        return None
    weights = 1.0 / counts[index]
    return weights / weights.mean()


def rows_per_corpus(data: FeatureData) -> dict[str, int]:
    """Training rows per corpus, for the model card: with two or more, each corpus weighs the same."""
    return {str(k): int(v) for k, v in data.rows["corpus"].value_counts().sort_index().items()}
