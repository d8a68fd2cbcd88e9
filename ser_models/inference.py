"""Serving a registered model: features for raw audio with the model's own feature config, then probabilities."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ser_models import registry
from ser_models.data import FeatureData
from ser_models.estimator import Estimator
from tasks.lib.audio import AudioDecodeError, load
from tasks.lib.feature_sets import get_feature_set
from tasks.lib.store import Store


@dataclass
class LoadedModel:
    ref: registry.ModelRef
    estimator: Estimator
    card: dict

    @property
    def classes(self) -> list[str]:
        return self.card["classes"]


def load_model(store: Store, spec: str) -> LoadedModel:
    """Resolve NAME[:VERSION] and refuse a model whose feature config this code no longer computes."""
    ref = registry.resolve(store, spec)
    card = ref.card
    for name, trained_hash in card["feature_config_hashes"].items():
        current = get_feature_set(name).config_hash
        if current != trained_hash:
            raise registry.RegistryError(f"{ref.name}:{ref.version} was trained on {name} config {trained_hash}, "
                                         f"this serflow computes {current}; retrain it")
    return LoadedModel(ref, registry.load(ref), card)


def features_of(clips: list[np.ndarray], feature_sets: tuple[str, ...]) -> FeatureData:
    """One row per 16 kHz mono clip, every feature set the model reads."""
    rows = pd.DataFrame({"utterance_id": [str(i) for i in range(len(clips))], "augmentation": "none",
                         "speaker_id": "", "corpus": "", "emotion": ""})
    return FeatureData(rows, {k: [get_feature_set(k).extract(c) for c in clips] for k in feature_sets})


def predict_files(model: LoadedModel, paths: list[str]) -> list[dict]:
    """Emotion, confidence and all class probabilities per file (or the decode error)."""
    out = []
    for path in paths:
        try:
            clip = load(path)
        except AudioDecodeError as exc:
            out.append({"path": path, "error": str(exc)})
            continue
        proba = model.estimator.predict_proba(features_of([clip], model.estimator.feature_sets))[0]
        best = int(np.argmax(proba))
        out.append({"path": path, "emotion": model.classes[best], "confidence": float(proba[best]),
                    "probabilities": {c: round(float(p), 4) for c, p in zip(model.classes, proba)},
                    "model": f"{model.ref.name}:{model.ref.version}"})
    return out
