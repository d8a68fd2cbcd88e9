"""Per-speaker standardisation around any estimator: who is speaking shifts features more than emotion does.

Each speaker's rows are centred and scaled by that speaker's own feature statistics (no labels used), so the
model sees how an utterance differs from the speaker's usual voice. A group is one speaker in one recording
condition (augmentation preset), and at serving time one channel of a call or the files of one `predict`
call. Small groups borrow strength from the training population: `prior_rows` pseudo-rows of its statistics
are blended in, so a single file is scaled mostly by the population and a 50-utterance speaker by itself.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ser_models.data import FeatureData
from ser_models.estimator import Estimator

STATS_FILE = "speaker_norm.npz"


@dataclass(frozen=True)
class SpeakerNormConfig:
    prior_rows: float = 5.0
    eps: float = 1e-6

    def __post_init__(self) -> None:
        if self.prior_rows <= 0:
            raise ValueError("prior_rows must be > 0 (population statistics keep one-row groups finite)")


def group_ids(rows: pd.DataFrame) -> np.ndarray:
    """Speaker and recording condition: a telephone-augmented copy is normalised among its own kind."""
    preset = rows["augmentation"].astype(str).str.split("#").str[0]
    return (rows["speaker_id"].astype(str) + "|" + preset).to_numpy()


def _frames(data: FeatureData, feature_set: str, index: np.ndarray) -> np.ndarray:
    return np.concatenate([data.inputs[feature_set][i] for i in index]).astype(np.float64)


def each_file_alone(data: FeatureData) -> FeatureData:
    """The rows as `serflow predict` serves them: every file its own group, no speaker context."""
    rows = data.rows.assign(speaker_id=data.rows["utterance_id"].astype(str) + "#" + data.rows["augmentation"].astype(str))
    return FeatureData(rows, data.inputs)


def served_predictions(est: Estimator, data: FeatureData, with_context: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-file probabilities (each file alone, as served) and, when asked, labels predicted with each
    speaker's own unlabelled audio as context: the two serving modes every metric is reported in."""
    proba = est.predict_proba(each_file_alone(data))
    return proba, est.predict_proba(data).argmax(axis=1) if with_context else None


class SpeakerNormalized(Estimator):
    def __init__(self, inner: Estimator, config: SpeakerNormConfig | None = None) -> None:
        self.inner, self.config = inner, config or SpeakerNormConfig()
        self.kind, self.feature_sets = inner.kind, inner.feature_sets
        self.population: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # feature set -> (mean, var) per bin

    @property
    def classes(self) -> list[str]:
        return self.inner.classes

    @classes.setter
    def classes(self, value: list[str]) -> None:
        self.inner.classes = value

    @property
    def stops_early(self) -> bool:
        return self.inner.stops_early

    def normalize(self, data: FeatureData) -> FeatureData:
        """Every row standardised by its group's statistics, shrunk towards the population's."""
        groups = group_ids(data.rows)
        out = {k: list(v) for k, v in data.inputs.items()}
        k0 = self.config.prior_rows
        for group in np.unique(groups):
            index = np.flatnonzero(groups == group)
            n = len(index)
            for name in self.feature_sets:
                frames = _frames(data, name, index)
                pop_mean, pop_var = self.population[name]
                mean = (n * frames.mean(axis=0) + k0 * pop_mean) / (n + k0)
                var = (n * frames.var(axis=0) + k0 * pop_var) / (n + k0)
                # A bin constant over the training recordings taught the model nothing: zero it everywhere.
                scale = np.where(pop_var > 0, 1.0 / np.sqrt(var + self.config.eps), 0.0)
                for i in index:
                    out[name][i] = ((data.inputs[name][i] - mean) * scale).astype(np.float32)
        return FeatureData(data.rows, out)

    def fit(self, train: FeatureData, val: FeatureData | None, classes: list[str]) -> dict[str, Any]:
        """Population statistics from the training recordings only, then the inner model on normalised rows."""
        for name in self.feature_sets:
            frames = _frames(train, name, train.original)
            self.population[name] = (frames.mean(axis=0), frames.var(axis=0))
        return self.inner.fit(self.normalize(train), self.normalize(val) if val is not None else None, classes)

    def predict_proba(self, data: FeatureData) -> np.ndarray:
        return self.inner.predict_proba(self.normalize(data))

    def save(self, folder: Path) -> None:
        self.inner.save(folder)
        np.savez(folder / STATS_FILE, **{f"{k}__{s}": v for k, (m, var) in self.population.items()
                                          for s, v in (("mean", m), ("var", var))})

    def hyperparameters(self) -> dict[str, Any]:
        return {**self.inner.hyperparameters(), "speaker_norm": asdict(self.config)}

    @classmethod
    def load(cls, inner: Estimator, folder: Path, hyper: dict[str, Any]) -> SpeakerNormalized:
        est = cls(inner, SpeakerNormConfig(**hyper["speaker_norm"]))
        with np.load(folder / STATS_FILE, allow_pickle=False) as stats:
            est.population = {k: (stats[f"{k}__mean"], stats[f"{k}__var"]) for k in inner.feature_sets}
        return est
