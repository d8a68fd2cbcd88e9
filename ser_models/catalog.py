"""Every model serflow can train, registered by name, and how to rebuild one from its model card."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ser_models.cl import CNNLSTM, CLConfig
from ser_models.classic import LogRegConfig, RFConfig, SklearnEstimator, SVMConfig
from ser_models.cnn import CNN, CNNConfig
from ser_models.ensemble import Ensemble
from ser_models.estimator import Estimator
from ser_models.mlp import MLP, MLPConfig
from ser_models.speaker_norm import SpeakerNormalized
from ser_models.training import TorchEstimator, TrainConfig

DEFAULT_MEMBERS = ("mlp", "svm", "rf")


@dataclass(frozen=True)
class ModelSpec:
    name: str
    default_feature_sets: tuple[str, ...]
    build: Callable[[tuple[str, ...], int], Estimator]
    vector_input: bool  # takes any utterance-level feature set (functionals, mfcc40_mean)


def _mlp(fs: tuple[str, ...], seed: int) -> Estimator:
    return TorchEstimator("mlp", fs, False, MLPConfig, MLP, {},
                          TrainConfig(max_epochs=150, batch_size=32, lr=1e-3, patience=20, seed=seed))


def _cnn(fs: tuple[str, ...], seed: int) -> Estimator:
    return TorchEstimator("cnn", fs, True, CNNConfig, CNN, {},
                          TrainConfig(max_epochs=40, batch_size=32, lr=2e-3, patience=10, min_epochs=15, seed=seed))


def _cl(fs: tuple[str, ...], seed: int) -> Estimator:
    return TorchEstimator("cl", fs, True, CLConfig, CNNLSTM, {},
                          TrainConfig(max_epochs=40, batch_size=32, lr=2e-3, patience=10, min_epochs=15, seed=seed))


MODELS: dict[str, ModelSpec] = {
    "mlp": ModelSpec("mlp", ("functionals",), _mlp, True),
    "svm": ModelSpec("svm", ("functionals",), lambda fs, seed: SklearnEstimator("svm", fs[0], SVMConfig(seed=seed)), True),
    "svm_linear": ModelSpec("svm_linear", ("functionals",),
                            lambda fs, seed: SklearnEstimator("svm_linear", fs[0], SVMConfig(kernel="linear", C=0.01, seed=seed)), True),
    "logreg": ModelSpec("logreg", ("functionals",),
                        lambda fs, seed: SklearnEstimator("logreg", fs[0], LogRegConfig(seed=seed)), True),
    "rf": ModelSpec("rf", ("functionals",), lambda fs, seed: SklearnEstimator("rf", fs[0], RFConfig(seed=seed)), True),
    "cnn": ModelSpec("cnn", ("logmel",), _cnn, False),
    "cl": ModelSpec("cl", ("logmel", "mfcc_seq"), _cl, False),
}


def build_estimator(name: str, feature_set: str | None = None, seed: int = 0,
                    members: tuple[str, ...] = DEFAULT_MEMBERS, max_epochs: int | None = None,
                    speaker_norm: bool = False) -> Estimator:
    """A fresh, untrained estimator; `ensemble` soft-votes the named members; max_epochs caps torch training;
    speaker_norm wraps it in per-speaker standardisation."""
    if speaker_norm:
        return SpeakerNormalized(build_estimator(name, feature_set, seed, members, max_epochs, speaker_norm=False))
    if name == "ensemble":
        return Ensemble([build_estimator(m, feature_set if MODELS[m].vector_input else None, seed,
                                         max_epochs=max_epochs, speaker_norm=False) for m in members])
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose from {sorted([*MODELS, 'ensemble'])}")
    spec = MODELS[name]
    if feature_set and not spec.vector_input and (feature_set,) != spec.default_feature_sets:
        raise ValueError(f"model {name!r} reads {spec.default_feature_sets}, not {feature_set!r}")
    est = spec.build((feature_set,) if feature_set and spec.vector_input else spec.default_feature_sets, seed)
    if max_epochs and isinstance(est, TorchEstimator):
        est.train_cfg = replace(est.train_cfg, max_epochs=max_epochs)
    return est


def load_estimator(folder: Path, kind: str, feature_sets: list[str], classes: list[str], hyper: dict[str, Any]) -> Estimator:
    """Rebuild a trained estimator from its registry folder and model-card fields."""
    if "speaker_norm" in hyper:
        inner = {k: v for k, v in hyper.items() if k != "speaker_norm"}
        return SpeakerNormalized.load(load_estimator(folder, kind, feature_sets, classes, inner), folder, hyper)
    if kind == "ensemble":
        members = [load_estimator(folder / f"member{i}_{m['kind']}", m["kind"], m["feature_sets"], classes, m)
                   for i, m in enumerate(hyper["members"])]
        ens = Ensemble(members)
        ens.classes = classes
        return ens
    return MODELS[kind].build(tuple(feature_sets), 0).load_weights(folder, classes, hyper)
