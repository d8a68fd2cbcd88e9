"""Every model serflow can train, registered by name, and how to rebuild one from its model card."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ser_models.estimator import Estimator

# Model classes are imported by the builders, on use: the CLI checks a model name before any server starts,
# and importing torch, scikit-learn and the feature code here would make a typo cost ~5 s.

DEFAULT_MEMBERS = ("mlp", "svm", "rf")
# What the utterance-vector models read unless told otherwise: the GE2E voice encoder's layers and embedding,
# which beat the functionals with the embedding within RAVDESS and EMO-DB and with each corpus held out
# (docs/benchmarks.md).
DEFAULT_VECTOR_SET = "ge2e_layers"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    default_feature_sets: tuple[str, ...]
    build: Callable[[tuple[str, ...], int], Estimator]
    vector_input: bool  # takes any utterance-level feature set (functionals, mfcc40_mean)


def _torch(kind: str, fs: tuple[str, ...], seed: int) -> Estimator:
    """mlp on one utterance vector; cnn and cl on frame sequences."""
    from ser_models.cl import CNNLSTM, CLConfig
    from ser_models.cnn import CNN, CNNConfig
    from ser_models.mlp import MLP, MLPConfig
    from ser_models.training import TorchEstimator, TrainConfig

    if kind == "mlp":
        return TorchEstimator("mlp", fs, False, MLPConfig, MLP, {},
                              TrainConfig(max_epochs=150, batch_size=32, lr=1e-3, patience=20, seed=seed))
    config, net = {"cnn": (CNNConfig, CNN), "cl": (CLConfig, CNNLSTM)}[kind]
    return TorchEstimator(kind, fs, True, config, net, {},
                          TrainConfig(max_epochs=40, batch_size=32, lr=2e-3, patience=10, min_epochs=15, seed=seed))


def _sklearn(kind: str, fs: tuple[str, ...], seed: int) -> Estimator:
    """svm, svm_linear, logreg and rf on one utterance vector."""
    from ser_models.classic import LogRegConfig, RFConfig, SklearnEstimator, SVMConfig

    config = {"svm": SVMConfig(seed=seed), "svm_linear": SVMConfig(kernel="linear", C=0.01, seed=seed),
              "logreg": LogRegConfig(seed=seed), "rf": RFConfig(seed=seed)}[kind]
    return SklearnEstimator(kind, fs[0], config)


def _spec(name: str, feature_sets: tuple[str, ...], build: Callable, vector_input: bool = True) -> ModelSpec:
    return ModelSpec(name, feature_sets, lambda fs, seed: build(name, fs, seed), vector_input)


MODELS: dict[str, ModelSpec] = {
    "mlp": _spec("mlp", (DEFAULT_VECTOR_SET,), _torch),
    "svm": _spec("svm", (DEFAULT_VECTOR_SET,), _sklearn),
    "svm_linear": _spec("svm_linear", (DEFAULT_VECTOR_SET,), _sklearn),
    "logreg": _spec("logreg", (DEFAULT_VECTOR_SET,), _sklearn),
    "rf": _spec("rf", (DEFAULT_VECTOR_SET,), _sklearn),
    "cnn": _spec("cnn", ("logmel",), _torch, vector_input=False),
    "cl": _spec("cl", ("logmel", "mfcc_seq"), _torch, vector_input=False),
}


def cl_branches(feature_set: str) -> tuple[tuple[str, ...], dict[str, str]]:
    """cl's CNN_INPUT+LSTM_INPUT (logmel+mfcc_seq by default; the reference's control groups are logmel+logmel,
    mfcc_seq+mfcc_seq and mfcc_seq+logmel): the feature sets it reads and the config naming each branch's input."""
    branches = feature_set.split("+")
    if len(branches) != 2 or not set(branches) <= {"logmel", "mfcc_seq"}:
        raise ValueError(f"cl reads CNN_INPUT+LSTM_INPUT, each logmel or mfcc_seq (e.g. logmel+logmel), "
                         f"not {feature_set!r}")
    return tuple(dict.fromkeys(branches)), {"cnn_input": branches[0], "lstm_input": branches[1]}


def build_estimator(name: str, feature_set: str | None = None, seed: int = 0,
                    members: tuple[str, ...] = DEFAULT_MEMBERS, max_epochs: int | None = None,
                    speaker_norm: bool = False, device: str = "auto") -> Estimator:
    """A fresh, untrained estimator; `ensemble` soft-votes the named members; max_epochs caps torch training and
    device (cpu, cuda, auto) says where it runs; speaker_norm wraps it in per-speaker standardisation."""
    if speaker_norm:
        from ser_models.speaker_norm import SpeakerNormalized

        return SpeakerNormalized(build_estimator(name, feature_set, seed, members, max_epochs, device=device))
    unknown = sorted({name, *(members if name == "ensemble" else ())} - {*MODELS, "ensemble"})
    if unknown:
        raise ValueError(f"unknown model {', '.join(map(repr, unknown))}; choose from {sorted([*MODELS, 'ensemble'])}")
    if name == "ensemble":
        from ser_models.ensemble import Ensemble

        return Ensemble([build_estimator(m, feature_set if MODELS[m].vector_input else None, seed,
                                         max_epochs=max_epochs, device=device) for m in members])
    spec = MODELS[name]
    if name == "cl" and feature_set:
        feature_sets, branches = cl_branches(feature_set)
        est = spec.build(feature_sets, seed)
        est.config_kwargs = branches
    elif feature_set and not spec.vector_input and (feature_set,) != spec.default_feature_sets:
        raise ValueError(f"model {name!r} reads {spec.default_feature_sets}, not {feature_set!r}")
    else:
        est = spec.build((feature_set,) if feature_set and spec.vector_input else spec.default_feature_sets, seed)
    if hasattr(est, "train_cfg"):  # a torch model
        est.train_cfg = replace(est.train_cfg, max_epochs=max_epochs or est.train_cfg.max_epochs, device=device)
    return est


def load_estimator(folder: Path, kind: str, feature_sets: list[str], classes: list[str], hyper: dict[str, Any]) -> Estimator:
    """Rebuild a trained estimator from its registry folder and model-card fields."""
    from ser_models.ensemble import Ensemble
    from ser_models.speaker_norm import SpeakerNormalized

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
