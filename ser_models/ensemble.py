"""`ensemble`: soft vote (mean probability) of member models trained on the same rows."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ser_models.data import FeatureData
from ser_models.estimator import Estimator


class Ensemble(Estimator):
    kind = "ensemble"

    def __init__(self, members: list[Estimator]) -> None:
        if len(members) < 2:
            raise ValueError("an ensemble needs at least two members")
        self.members = members
        self.feature_sets = tuple(dict.fromkeys(k for m in members for k in m.feature_sets))
        self.classes: list[str] = []

    @property
    def stops_early(self) -> bool:
        return any(m.stops_early for m in self.members)

    def fit(self, train: FeatureData, val: FeatureData | None, classes: list[str]) -> dict[str, Any]:
        self.classes = classes
        return {m.kind: m.fit(train, val, classes) for m in self.members}

    def predict_proba(self, data: FeatureData) -> np.ndarray:
        return np.mean([m.predict_proba(data) for m in self.members], axis=0)

    def save(self, folder: Path) -> None:
        for i, member in enumerate(self.members):
            sub = folder / f"member{i}_{member.kind}"
            sub.mkdir()
            member.save(sub)

    def hyperparameters(self) -> dict[str, Any]:
        return {"members": [{"kind": m.kind, "feature_sets": list(m.feature_sets), **m.hyperparameters()}
                            for m in self.members]}
