"""Serving a registered model: features for raw audio with the model's own feature config, then probabilities."""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ser_models import registry
from ser_models.calibration import apply_temperature
from ser_models.data import FeatureData
from ser_models.diarization import SpeakerSpace
from ser_models.domain import MIN_WIDEBAND_SHARE, DomainGuard
from ser_models.estimator import Estimator
from tasks.lib.audio import AudioDecodeError, clipped_share, load, noise_floor_db, wideband_share
from tasks.lib.feature_sets import get_feature_set
from tasks.lib.store import Store


@dataclass
class LoadedModel:
    ref: registry.ModelRef | BundleRef
    estimator: Estimator
    card: dict
    guard: DomainGuard | None = None
    speakers: SpeakerSpace | None = None  # tells the voices of a mono channel apart; None: one voice per channel

    @property
    def classes(self) -> list[str]:
        return self.card["classes"]

    def predict_proba(self, data: FeatureData) -> np.ndarray:
        """Calibrated probabilities: the card's temperature (1.0 for a model registered before calibration)."""
        temperature = self.card.get("calibration", {}).get("temperature", 1.0)
        return apply_temperature(self.estimator.predict_proba(data), temperature)

    def domain(self, data: FeatureData) -> tuple[np.ndarray, np.ndarray]:
        """domain_score and in_domain per row (see DomainGuard.assess); NaN and False for a model registered without a guard."""
        if self.guard is None:
            return np.full(len(data), np.nan), np.zeros(len(data), bool)
        return self.guard.assess(data)


@dataclass(frozen=True)
class BundleRef:
    """The registered version an ONNX bundle was exported from, and the bundle's folder."""

    name: str
    version: str
    folder: Path


def _check_feature_configs(card: dict) -> None:
    """Refuse a model whose feature config this code no longer computes."""
    for name, trained_hash in card["feature_config_hashes"].items():
        current = get_feature_set(name).config_hash
        if current != trained_hash:
            raise registry.RegistryError(f"{card['name']}:{card['version']} was trained on {name} config "
                                         f"{trained_hash}, this serflow computes {current}; retrain it")


def load_model(store: Store, spec: str | None) -> LoadedModel:
    """Resolve NAME[:VERSION] (None: the default model) and load it."""
    ref = registry.resolve(store, spec)
    _check_feature_configs(ref.card)
    return LoadedModel(ref, registry.load(ref), ref.card, DomainGuard.load(ref.folder), SpeakerSpace.load(ref.folder))


def load_bundle(folder: Path) -> LoadedModel:
    """An exported ONNX bundle (`serflow models export`), served like its registered version: the same
    features, calibration and domain guard, with onnxruntime in place of torch."""
    from ser_models.onnx_export import OnnxEstimator, load_bundle_card

    try:
        card = load_bundle_card(folder)
    except ValueError as exc:
        raise registry.RegistryError(str(exc)) from exc
    _check_feature_configs(card)
    return LoadedModel(BundleRef(card["name"], card["version"], folder), OnnxEstimator(folder, card), card,
                       DomainGuard.load(folder), SpeakerSpace.load(folder))


def audio_measures(clips: Iterable[np.ndarray]) -> pd.DataFrame:
    """What the guard's audio checks read, per 16 kHz mono clip (each clip read once, none kept)."""
    return pd.DataFrame([(clipped_share(c), wideband_share(c), noise_floor_db(c)) for c in clips],
                        columns=["clipped_share", "wideband_share", "noise_floor_db"], dtype=float)


def features_of(clips: list[np.ndarray], feature_sets: tuple[str, ...], speakers: list[str] | None = None) -> FeatureData:
    """One row per 16 kHz mono clip, every feature set the model reads; `speakers` groups clips for speaker
    normalisation (default: each clip alone, as one file is served)."""
    ids = [str(i) for i in range(len(clips))]
    rows = pd.DataFrame({"utterance_id": ids, "augmentation": "none", "speaker_id": speakers or ids,
                         "corpus": "", "emotion": ""}).join(audio_measures(clips))
    return FeatureData(rows, {k: get_feature_set(k).extract_many(clips) for k in feature_sets})


def speaker_groups(paths: list[str], group_by: str | None) -> list[str]:
    """Per file (None), all files as one speaker ('all'), or the first group (else the match) of a regex."""
    if group_by is None:
        return list(paths)
    if group_by == "all":
        return ["all"] * len(paths)
    pattern = re.compile(group_by)
    groups = []
    for path in paths:
        m = pattern.search(path)
        groups.append((m.group(1) if m.groups() else m.group(0)) if m else path)
    return groups


def predict_files(model: LoadedModel, paths: list[str], group_by: str | None = None) -> list[dict]:
    """Emotion, confidence, class probabilities and domain score per file (or the decode error)."""
    out: dict[int, dict] = {}
    clips, kept = [], []
    for i, path in enumerate(paths):
        try:
            clips.append(load(path))
            kept.append(i)
        except AudioDecodeError as exc:
            out[i] = {"path": path, "error": str(exc)}
    if clips:
        groups = speaker_groups([paths[i] for i in kept], group_by)
        data = features_of(clips, model.estimator.feature_sets, groups)
        proba = model.predict_proba(data)
        scores, in_domain = model.domain(data)
        failed = model.guard.audio_failures(data.rows) if model.guard else {}
        for row, i in enumerate(kept):
            best = int(np.argmax(proba[row]))
            out[i] = {"path": paths[i], "emotion": model.classes[best], "confidence": float(proba[row, best]),
                      "probabilities": {c: round(float(p), 4) for c, p in zip(model.classes, proba[row])},
                      "domain_score": None if np.isnan(scores[row]) else round(float(scores[row]), 4),
                      "in_domain": None if np.isnan(scores[row]) else bool(in_domain[row]),
                      "clipped_share": round(float(data.rows["clipped_share"].iloc[row]), 4),
                      "narrowband": bool(data.rows["wideband_share"].iloc[row] < MIN_WIDEBAND_SHARE),
                      "noise_floor_db": None if np.isnan(floor := float(data.rows["noise_floor_db"].iloc[row]))
                      else round(floor, 1),
                      "failed_audio_checks": [check for check, rows in failed.items() if rows[row]],
                      "model": f"{model.ref.name}:{model.ref.version}"}
    return [out[i] for i in range(len(paths))]
