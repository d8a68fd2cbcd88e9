"""`svm` (RBF or linear), `logreg` and `rf` on utterance-level vectors: scikit-learn pipelines saved with skops."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_selection import VarianceThreshold
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.svm import SVC

from ser_models.data import FeatureData, corpus_weights, rows_per_corpus
from ser_models.estimator import CLIP_SD, Estimator, config_from_card

# skops already trusts scikit-learn's own estimators; these are the only other types serflow's pipelines hold.
# Exact names, never a module prefix: "builtins." would admit builtins.exec.
TRUSTED_TYPES = frozenset({"numpy.clip", "sklearn.tree._tree.Tree", "sklearn.calibration._CalibratedClassifier",
                           "sklearn.calibration._SigmoidCalibration"})


@dataclass(frozen=True)
class SVMConfig:
    kernel: str = "rbf"
    C: float = 10.0
    gamma: str = "scale"
    seed: int = 0  # unused since calibration replaced SVC(probability=True); kept so older model cards load


@dataclass(frozen=True)
class RFConfig:
    n_estimators: int = 500
    min_samples_leaf: int = 1
    max_features: str = "sqrt"
    seed: int = 0


@dataclass(frozen=True)
class LogRegConfig:
    """Multinomial logistic regression whose L2 strength is chosen by speaker-grouped folds of the
    training speakers only, so the test speakers never pick a hyper-parameter."""

    Cs: tuple[float, ...] = (0.003, 0.01, 0.03, 0.1, 0.3)
    inner_folds: int = 3
    max_iter: int = 3000
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.Cs or min(self.Cs) <= 0 or self.inner_folds < 2:
            raise ValueError("LogRegConfig needs positive Cs and inner_folds >= 2")


Config = SVMConfig | RFConfig | LogRegConfig


def scaling() -> list:
    """Drop features constant in training, standardise, clip: no feature can dominate a new recording."""
    return [VarianceThreshold(1e-12), StandardScaler(),
            FunctionTransformer(np.clip, kw_args={"a_min": -CLIP_SD, "a_max": CLIP_SD})]


def build_pipeline(config: Config, speakers: np.ndarray | None = None) -> Pipeline:
    """Scaling + classifier, balanced class weights for imbalanced corpora."""
    if isinstance(config, LogRegConfig):
        return make_pipeline(*scaling(), _logreg(config, speakers))
    if isinstance(config, SVMConfig):
        # The supported replacement for SVC(probability=True), deprecated in scikit-learn 1.9: Platt scaling
        # fitted by internal 5-fold CV, then one SVC refitted on all rows (ensemble=False), as before.
        svc = SVC(kernel=config.kernel, C=config.C, gamma=config.gamma, class_weight="balanced")
        return make_pipeline(*scaling(), CalibratedClassifierCV(svc, ensemble=False))
    return make_pipeline(*scaling(), RandomForestClassifier(
        n_estimators=config.n_estimators, min_samples_leaf=config.min_samples_leaf,
        max_features=config.max_features, class_weight="balanced_subsample", n_jobs=-1,
        random_state=config.seed))


def _logreg(config: LogRegConfig, speakers: np.ndarray | None) -> LogisticRegression | LogisticRegressionCV:
    """C by inner speaker-grouped CV when there are speakers to hold out, else the middle of the grid."""
    n_speakers = 0 if speakers is None else len(np.unique(speakers))
    common = {"class_weight": "balanced", "max_iter": config.max_iter, "random_state": config.seed}
    if n_speakers < 2:
        return LogisticRegression(C=config.Cs[len(config.Cs) // 2], **common)
    folds = list(GroupKFold(min(config.inner_folds, n_speakers)).split(np.zeros(len(speakers)), groups=speakers))
    return LogisticRegressionCV(Cs=list(config.Cs), cv=folds, scoring="balanced_accuracy", l1_ratios=(0.0,),
                                use_legacy_attributes=False, **common)


def fit_corpus_weighted(pipeline: Pipeline, x: np.ndarray, y: np.ndarray, corpus: np.ndarray) -> Pipeline:
    """Fit with every corpus weighing the same (on top of the balanced class weights) when the rows span two
    or more: leaving a corpus out, this raised per-file UA on two of the three (docs/benchmarks.md)."""
    weights = corpus_weights(corpus)
    return pipeline.fit(x, y, **({} if weights is None else {f"{pipeline.steps[-1][0]}__sample_weight": weights}))


class SklearnEstimator(Estimator):
    def __init__(self, kind: str, feature_set: str, config: Config) -> None:
        self.kind, self.feature_sets, self.config = kind, (feature_set,), config
        self.pipeline: Pipeline | None = None
        self.classes: list[str] = []

    def fit(self, train: FeatureData, val: FeatureData | None, classes: list[str]) -> dict[str, Any]:
        """No early stopping: validation rows, given only beside a torch member of an ensemble, are trained on."""
        self.classes = classes
        data = train if val is None or not len(val) else _concat(train, val)
        pipeline = build_pipeline(self.config, data.rows["speaker_id"].to_numpy())
        self.pipeline = fit_corpus_weighted(pipeline, data.vectors(self.feature_sets[0]), self.labels(data),
                                            data.rows["corpus"].to_numpy())
        return {"rows": len(data), "rows_per_corpus": rows_per_corpus(data), **self._chosen()}

    def _chosen(self) -> dict[str, Any]:
        """What the inner speaker-grouped search picked, for the model card."""
        search = self.pipeline.named_steps.get("logisticregressioncv")
        return {"chosen_C": float(search.C_)} if search is not None else {}

    def predict_proba(self, data: FeatureData) -> np.ndarray:
        out = np.zeros((len(data), len(self.classes)), dtype=np.float32)
        out[:, self.pipeline.classes_] = self.pipeline.predict_proba(data.vectors(self.feature_sets[0]))
        return out

    def save(self, folder: Path) -> None:
        import skops.io as sio  # on use: importing skops imports every scikit-learn module (and dask)

        sio.dump(self.pipeline, folder / "model.skops")

    def hyperparameters(self) -> dict[str, Any]:
        return {"config": asdict(self.config)}

    def load_weights(self, folder: Path, classes: list[str], hyper: dict) -> SklearnEstimator:
        """The card's config (same class as the catalog built) and the skops pipeline, type allow-listed."""
        self.config, self.classes = config_from_card(type(self.config), hyper["config"]), classes
        import skops.io as sio

        path = folder / "model.skops"
        untrusted = sio.get_untrusted_types(file=path)
        foreign = sorted(set(untrusted) - TRUSTED_TYPES)
        if foreign:
            raise ValueError(f"{path} holds types serflow does not build, refused unloaded: {json.dumps(foreign)}")
        self.pipeline = sio.load(path, trusted=untrusted)
        return self


def _concat(a: FeatureData, b: FeatureData) -> FeatureData:
    import pandas as pd

    return FeatureData(pd.concat([a.rows, b.rows], ignore_index=True), {k: a.inputs[k] + b.inputs[k] for k in a.inputs})
