"""The one interface every model is trained, evaluated, saved and served through."""
from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import numpy as np

from ser_models.data import FeatureData

# Every model clips standardised inputs here: past this many standard deviations a value says nothing more,
# and left alone one odd feature of a new recording pushes the whole row outside what the model has seen.
CLIP_SD = 5.0


def config_from_card(config_cls: type, fields: dict[str, Any]) -> Any:
    """A frozen config dataclass back from a model card, JSON lists turned back into its tuples."""
    return config_cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()})


class Estimator(ABC):
    """fit on labelled rows, predict class probabilities, save/load without pickle."""

    kind: str
    feature_sets: tuple[str, ...]
    classes: list[str]
    # Early stopping watches held-out training speakers' recordings; a model without it trains on all of them,
    # their augmented copies included, rather than lose those copies to a validation split it does not use.
    stops_early: bool = False

    @abstractmethod
    def fit(self, train: FeatureData, val: FeatureData | None, classes: list[str]) -> dict[str, Any]:
        """Train; returns a small history (epochs, best validation UA, …)."""

    @abstractmethod
    def predict_proba(self, data: FeatureData) -> np.ndarray:
        """(rows, classes) probabilities in self.classes order."""

    @abstractmethod
    def save(self, folder: Path) -> None:
        """Weights and whatever load() needs, in pickle-free formats."""

    @abstractmethod
    def hyperparameters(self) -> dict[str, Any]:
        """JSON-able config, enough to rebuild the model for load()."""

    def labels(self, data: FeatureData) -> np.ndarray:
        index = {c: i for i, c in enumerate(self.classes)}
        return data.rows["emotion"].map(index).to_numpy()
